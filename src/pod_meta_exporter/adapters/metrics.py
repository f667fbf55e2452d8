"""Metrics: the exporter's Prometheus metrics on a registry of their own (no process-global state)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

if TYPE_CHECKING:
    from collections.abc import Callable

    from pod_meta_exporter.domain.ports import ServiceMetrics

PREFIX = "pod_meta_exporter"


class Metrics:
    """Every metric the exporter exports; the README's table is checked against this registry.

    The service records through the ServiceMetrics methods; the Kubernetes adapter counts its
    watches with the counters it names (watch_restarts, relists, api_errors) and saw_event(), and
    the container runtime source its work with runtime_containers and runtime_errors.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._events = Counter(f"{PREFIX}_events", "Cluster events handled, by type.", ["type"], registry=r)
        self._rejected = Counter(
            f"{PREFIX}_rejected_objects",
            "API objects refused, alone, by reason: invalid_name, invalid_object, not_json.",
            ["reason"],
            registry=r,
        )
        self._files_written = Counter(f"{PREFIX}_files_written", "Metadata files written.", registry=r)
        self._files_unchanged = Counter(
            f"{PREFIX}_files_unchanged",
            "Updates that left a file's bytes unchanged, so no write.",
            registry=r,
        )
        self._files_removed = Counter(f"{PREFIX}_files_removed", "Metadata files removed.", registry=r)
        self._pending_removals = Gauge(
            f"{PREFIX}_pending_removals", "Files of vanished pods kept for their retention.", registry=r
        )
        self._write_errors = Counter(
            f"{PREFIX}_write_errors", "Failed writes and removals, by errno name.", ["errno"], registry=r
        )
        self.watch_restarts = Counter(
            f"{PREFIX}_watch_restarts",
            "Watches started again after they ended or failed.",
            ["resource"],
            registry=r,
        )
        self.relists = Counter(
            f"{PREFIX}_relists", "Full lists (at start and after 410 Gone).", ["resource"], registry=r
        )
        self.api_errors = Counter(
            f"{PREFIX}_api_errors", "Failed API requests, by reason.", ["resource", "reason"], registry=r
        )
        self._last_event = time.monotonic()
        self.seconds_since_last_event = Gauge(
            f"{PREFIX}_seconds_since_last_event",
            "Seconds since the last watch event or bookmark.",
            registry=r,
        )
        self.seconds_since_last_event.set_function(lambda: time.monotonic() - self._last_event)
        self._event_to_file = Histogram(
            f"{PREFIX}_event_to_file_seconds",
            "From reading an event off the watch to its file being written or found unchanged.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self._queued_events = Gauge(
            f"{PREFIX}_queued_events",
            "Cluster events waiting to be handled; at most 1024, when the API server's watches wait.",
            registry=r,
        )
        self.runtime_containers = Counter(
            f"{PREFIX}_runtime_containers",
            "Containers whose ID and image were read from the container runtime (--cri-endpoint).",
            registry=r,
        )
        self.runtime_errors = Counter(
            f"{PREFIX}_runtime_errors",
            "Failed container runtime calls and containers skipped, by reason.",
            ["reason"],
            registry=r,
        )
        self._ready = Gauge(
            f"{PREFIX}_ready", "1 once the initial list is done and the watch is live.", registry=r
        )
        # The standard process_* metrics (RSS, CPU seconds, open files), as every Prometheus client
        # exports them, so that dashboards and alerts written for any exporter work here too.
        ProcessCollector(registry=r)

    def saw_event(self) -> None:
        """A watch event or bookmark arrived: the stream is alive."""
        self._last_event = time.monotonic()

    # -- what the service records (ports.ServiceMetrics) ----------------------------------

    def event_handled(self, kind: str) -> None:
        self._events.labels(kind).inc()

    def object_rejected(self, reason: str) -> None:
        self._rejected.labels(reason).inc()

    def files_unchanged(self, count: int) -> None:
        self._files_unchanged.inc(count)

    def files_written(self, count: int) -> None:
        self._files_written.inc(count)

    def files_removed(self, count: int) -> None:
        self._files_removed.inc(count)

    def file_failed(self, errno_name: str) -> None:
        self._write_errors.labels(errno_name).inc()

    def event_to_file(self, seconds: float) -> None:
        self._event_to_file.observe(seconds)

    def pending_removals(self, count: int) -> None:
        self._pending_removals.set(count)

    def track(self, *, ready: Callable[[], bool], queued: Callable[[], int]) -> None:
        self._ready.set_function(lambda: 1.0 if ready() else 0.0)
        self._queued_events.set_function(queued)


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _prometheus: ServiceMetrics = Metrics()
