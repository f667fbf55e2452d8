"""Watcher: list one resource, then watch it from the list's resourceVersion, forever."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from pod_meta_exporter.adapters.kubernetes import backoff, failures, lines
from pod_meta_exporter.adapters.kubernetes.transport import ApiError

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from pod_meta_exporter.adapters.kubernetes.resources import Resource
    from pod_meta_exporter.adapters.kubernetes.settings import WatchSettings
    from pod_meta_exporter.adapters.kubernetes.stopping import StopToken
    from pod_meta_exporter.adapters.kubernetes.transport import Response, Transport
    from pod_meta_exporter.adapters.metrics import Metrics
    from pod_meta_exporter.domain.events import ApiObject, ClusterEvent

log = logging.getLogger(__name__)

_GONE = 410
# As in client-go's reflector: a watch that ends cleanly within a second having delivered nothing
# is a failure in disguise (a proxy closing at once), so it backs off instead of spinning.
_SHORT_WATCH_SECONDS = 1.0
_UPSERTS = frozenset({"ADDED", "MODIFIED"})


class Watcher:
    """The list/watch loop of one resource, run by one thread until the stop token is set.

    In three layers, after kopf: run() watches forever with backoff; _list() and _watch() list,
    then watch from the list's resourceVersion, keeping it current from every event and
    bookmark; lines.iter_lines() reads the stream under the client's read timeout.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        resource: Resource,
        settings: WatchSettings,
        metrics: Metrics,
        rng: random.Random,
        stop: StopToken,
        emit: Callable[[ClusterEvent], None],
    ) -> None:
        self.resource = resource
        self._transport = transport
        self.live = False
        """Listed, and the watch stream is connected; False from a failure until it is again."""
        self._settings = settings
        self._metrics = metrics
        self._rng = rng
        self._stop = stop
        self._emit = emit
        self._backoff = backoff.Backoff(first=settings.backoff_first, cap=settings.backoff_cap, rng=rng)
        self._rv: str | None = None
        self._failures = 0  # in a row, since a watch last made progress
        self._expiries = 0  # 410s in a row, likewise: only these delay a relist
        self._outage_since: float | None = None
        self._watched = False
        self._unknown_types: set[str] = set()

    def run(self) -> None:
        """Until the stop token is set; never raises."""
        while not self._stop.is_set():
            try:
                if self._rv is None:
                    self._list()
                self._watch()
            except failures.Expired as exc:
                if self._stop.is_set():
                    break
                self._expired(str(exc))
            except Exception as exc:  # the stream must come back, whatever broke it
                if self._stop.is_set():  # includes Stopped, and reads cut short by the token
                    break
                self._failed(failures.classify(exc))
        self.live = False
        log.debug("%s: watch stopped", self.resource.name, extra=self._extra())

    def _list(self) -> None:
        # resourceVersion=0 lets the API server answer from its watch cache rather than with a
        # quorum read from etcd: thousands of nodes restarting at once must not all hit etcd.
        # The watch that follows brings the possibly slightly stale list up to date.
        response = self._get(resourceVersion="0")
        with self._stop.holding(response):
            body = response.read()
        items, rv = _parse_list(body)
        self._metrics.relists.labels(self.resource.name).inc()
        self._emit(self.resource.resynced(items))
        self._rv = rv
        log.info(
            "%s: listed %d at resourceVersion %s",
            self.resource.name,
            len(items),
            rv,
            extra=self._extra(count=len(items)),
        )

    def _watch(self) -> None:
        if self._watched:
            self._metrics.watch_restarts.labels(self.resource.name).inc()
        self._watched = True
        timeout = self._rng.randint(self._settings.watch_timeout_min, self._settings.watch_timeout_max)
        assert self._rv is not None, "a watch follows a list"
        try:
            response = self._get(
                watch="true",
                resourceVersion=self._rv,
                allowWatchBookmarks="true",
                timeoutSeconds=str(timeout),
            )
        except ApiError as exc:
            if exc.status == _GONE:
                raise failures.Expired(failures.classify(exc).detail) from exc
            raise
        started = time.monotonic()
        received = self._read(response)
        if received == 0 and time.monotonic() - started < _SHORT_WATCH_SECONDS:
            raise failures.StreamFailure(failures.Failure("short_watch", "the watch ended at once, empty"))
        self._progressed()
        log.debug(
            "%s: watch ended after %d lines; watching again from resourceVersion %s",
            self.resource.name,
            received,
            self._rv,
            extra=self._extra(count=received),
        )

    def _get(self, **query: str) -> Response:
        return self._transport.get(
            self.resource.path,
            [*self.resource.selector, *query.items()],
            timeout=self._settings.request_timeout,
        )

    def _read(self, response: Response) -> int:
        received = 0
        with self._stop.holding(response):
            self._connected()
            try:
                for line in lines.iter_lines(response):
                    self._handle(line)
                    received += 1
                    if received == 1:
                        self._progressed()
            except lines.TruncatedStream as exc:
                raise failures.StreamFailure(failures.Failure("truncated_stream", str(exc))) from exc
        return received

    def _handle(self, line: bytes) -> None:
        kind, obj = decode(line)
        if kind == "ERROR":
            if failures.is_expired(obj):
                raise failures.Expired(failures.one_line(obj.get("message", "410 Gone")))
            raise failures.StreamFailure(failures.status_failure(obj))
        if kind in _UPSERTS:
            self._emit(self.resource.upserted(obj))
        elif kind == "DELETED":
            self._emit(self.resource.deleted(obj))
        elif kind != "BOOKMARK":
            if kind not in self._unknown_types:
                self._unknown_types.add(kind)
                log.warning(
                    "%s: skipping watch events of unknown type %r",
                    self.resource.name,
                    kind,
                    extra=self._extra(event_type=kind),
                )
            return
        self._metrics.saw_event()
        rv = _resource_version(obj)
        if rv:
            self._rv = rv
        log.debug(
            "%s: %s at resourceVersion %s", self.resource.name, kind, rv, extra=self._extra(event_type=kind)
        )

    def _connected(self) -> None:
        if self.live:
            log.debug("%s: watching again from resourceVersion %s", self.resource.name, self._rv)
            return
        self.live = True
        if self._outage_since is None:
            log.info(
                "%s: watch connected at resourceVersion %s", self.resource.name, self._rv, extra=self._extra()
            )
            return
        seconds = time.monotonic() - self._outage_since
        self._outage_since = None
        log.info(
            "%s: watch connected at resourceVersion %s; outage over after %.1fs",
            self.resource.name,
            self._rv,
            seconds,
            extra=self._extra(outage_seconds=round(seconds, 3)),
        )

    def _progressed(self) -> None:
        self._failures = 0
        self._expiries = 0
        self._backoff.reset()

    def _failed(self, failure: failures.Failure) -> None:
        self.live = False
        self._failures += 1
        self._metrics.api_errors.labels(self.resource.name, failure.reason).inc()
        if self._outage_since is None:
            self._outage_since = time.monotonic()
        delay = self._backoff.next_delay()
        log.warning(
            "%s: %s failed (%s): %s; retrying in %.2fs",
            self.resource.name,
            "list" if self._rv is None else "watch",
            failure.reason,
            failure.detail,
            delay,
            extra=self._extra(
                reason=failure.reason, failures=self._failures, retry_in_seconds=round(delay, 3)
            ),
        )
        self._stop.wait(delay)

    def _expired(self, detail: str) -> None:
        self.live = False
        self._expiries += 1
        log.info(
            "%s: resourceVersion %s expired (%s); listing again",
            self.resource.name,
            self._rv,
            detail,
            extra=self._extra(),
        )
        self._rv = None
        # At once, even right after an outage's connection failures, unless the last list was
        # answered by an immediate 410 again: then back off, so a server stuck on 410 is not
        # hammered with lists.
        if self._expiries > 1:
            self._stop.wait(self._backoff.next_delay())

    def _extra(self, **fields: object) -> dict[str, object]:
        return {"resource": self.resource.name, "resource_version": self._rv, **fields}


def decode(line: bytes) -> tuple[str, dict[str, Any]]:
    """One watch line as (type, object), raw JSON as served; StreamFailure if it is not an event."""
    try:
        event = json.loads(line)
    except ValueError as exc:
        # The error names a position, never the content: pod specs can carry secrets.
        detail = f"a watch line of {len(line)} bytes is not JSON ({exc})"
        raise failures.StreamFailure(failures.Failure("malformed_json", detail)) from exc
    if not (
        isinstance(event, dict)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("object"), dict)
    ):
        detail = f"a watch line of {len(line)} bytes is not an event with a type and an object"
        raise failures.StreamFailure(failures.Failure("malformed_json", detail))
    return event["type"], event["object"]


def _parse_list(body: bytes) -> tuple[tuple[ApiObject, ...], str]:
    try:
        document = json.loads(body)
    except ValueError as exc:
        detail = f"a list response of {len(body)} bytes is not JSON ({exc})"
        raise failures.StreamFailure(failures.Failure("malformed_json", detail)) from exc
    items = document.get("items") if isinstance(document, dict) else None
    rv = _resource_version(document) if isinstance(document, dict) else None
    if items is None:
        items = []
    if not (isinstance(items, list) and all(isinstance(item, dict) for item in items) and rv):
        detail = f"a list response of {len(body)} bytes has no items or no resourceVersion"
        raise failures.StreamFailure(failures.Failure("malformed_json", detail))
    return tuple(items), rv


def _resource_version(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    rv = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return rv if isinstance(rv, str) and rv else None
