"""The exporter's Prometheus metrics, on a registry of their own (no process-global state)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "pod_meta_exporter"


class Metrics:
    """Every metric the exporter exports; the README's table is checked against this registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events = Counter(f"{PREFIX}_events", "Cluster events handled, by type.", ["type"], registry=r)
        self.rejected = Counter(
            f"{PREFIX}_rejected_objects",
            "API objects refused for an invalid name or missing metadata.",
            registry=r,
        )
        self.files_written = Counter(f"{PREFIX}_files_written", "Metadata files written.", registry=r)
        self.files_unchanged = Counter(
            f"{PREFIX}_files_unchanged",
            "Updates that left a file's bytes unchanged, so no write.",
            registry=r,
        )
        self.files_removed = Counter(f"{PREFIX}_files_removed", "Metadata files removed.", registry=r)
        self.pending_removals = Gauge(
            f"{PREFIX}_pending_removals", "Files of vanished pods kept for their retention.", registry=r
        )
        self.write_errors = Counter(
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
        self.event_to_file = Histogram(
            f"{PREFIX}_event_to_file_seconds",
            "From reading an event off the watch to its file being written or found unchanged.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.queued_events = Gauge(
            f"{PREFIX}_queued_events",
            "Cluster events waiting to be handled; at most 1024, when the API server's watches wait.",
            registry=r,
        )
        self.ready = Gauge(
            f"{PREFIX}_ready", "1 once the initial list is done and the watch is live.", registry=r
        )

    def saw_event(self) -> None:
        """A watch event or bookmark arrived: the stream is alive."""
        self._last_event = time.monotonic()
