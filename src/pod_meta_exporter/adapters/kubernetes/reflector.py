"""Reflector: the list/watch protocol of one resource, top-down in the order it happens.

run() (forever, spaced by the backoff) -> _list_and_watch() (one sync, then watches) -> _session()
(one request: _list(), or _open() a watch that first streams the state in _stream_initial()) ->
_read() -> _handle() each event; then _delay(), _report() and _expired() decide what comes next.
Beneath it: lines.py frames the stream, versions.py says where each request starts, backoff.py
spaces them, failures.py names what went wrong, listwatch.py and transport.py make the requests.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import urllib3

from pod_meta_exporter.adapters.kubernetes import backoff, failures, lines
from pod_meta_exporter.adapters.kubernetes.transport import ApiError
from pod_meta_exporter.adapters.kubernetes.versions import Versions

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Iterator

    from pod_meta_exporter.adapters.kubernetes.listwatch import ListWatch
    from pod_meta_exporter.adapters.kubernetes.resources import Resource
    from pod_meta_exporter.adapters.kubernetes.stopping import StopToken
    from pod_meta_exporter.adapters.kubernetes.transport import Response
    from pod_meta_exporter.adapters.kubernetes.watch_settings import WatchSettings
    from pod_meta_exporter.adapters.metrics import Metrics
    from pod_meta_exporter.domain.events import ApiObject, ClusterEvent

log = logging.getLogger(__name__)

# As in client-go's reflector: a watch that ends cleanly within a second having delivered nothing
# is a failure in disguise (a proxy closing at once), so it backs off instead of spinning.
_SHORT_WATCH_SECONDS = 1.0
_UPSERTS = frozenset({"ADDED", "MODIFIED"})
# The annotation of the bookmark that ends the initial events of a WatchList stream.
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class Reflector:
    """The list/watch loop of one resource, run by one thread until the stop token is set.

    Read top-down, as client-go's reflector: run() runs _list_and_watch() forever, spaced by the
    backoff manager (wait.BackoffUntil: even a sync that went well waits its turn). Each
    _list_and_watch() syncs the whole state once, streamed in a watch (WatchList) or, if the server
    refuses that, listed for this sync only, and then watches from it. A watch that ends cleanly is
    watched again at once; one refused or cut by an overloaded or restarting server (connection
    refused, 429, 5xx, a broken stream) is watched again after the backoff, or the server's
    Retry-After, from the same resourceVersion without a sync. Anything else, a 410 included, ends
    the _list_and_watch(), and the next one syncs again after the backoff. _session() is one
    request; lines.iter_lines() reads it under the transport's inactivity timeout. The state reaches
    the core as one resync event.
    """

    def __init__(
        self,
        *,
        listwatch: ListWatch,
        resource: Resource,
        settings: WatchSettings,
        metrics: Metrics,
        rng: random.Random,
        stop: StopToken,
        emit: Callable[[ClusterEvent], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resource = resource
        self.live = False
        """Synced, and the watch stream is connected; False from a failure until it is again."""
        self._listwatch = listwatch
        self._settings = settings
        self._metrics = metrics
        self._rng = rng
        self._stop = stop
        self._emit = emit
        self._clock = clock
        self._backoff = backoff.BackoffManager(
            first=settings.backoff_first,
            cap=settings.backoff_cap,
            reset_after=settings.backoff_reset,
            rng=rng,
            clock=clock,
        )
        self.versions = Versions()
        # Whether the last sync streamed the state; None before the first.
        self.watch_list: bool | None = None
        self._needs_sync = True
        self._sync_version: str | None = None  # that of the list or stream under way
        self._failures = 0  # in a row, since a watch last made progress
        self._outage_since: float | None = None
        self._watched = False
        self._unknown_types: set[str] = set()

    def run(self) -> None:
        """Until the stop token is set; never raises."""
        while not self._stop.is_set():
            failure = self._list_and_watch()
            if self._stop.is_set():
                break
            delay = self._delay(failure)
            if failure is not None:
                self._report(failure, delay, then="syncing again")
            self._stop.wait(delay)
        self.live = False
        log.debug("%s: watch stopped", self.resource.name, extra=self._extra())

    def _list_and_watch(self) -> failures.Failure | None:
        """One sync, then watches from it until one fails in a way that a new watch cannot mend:
        what ended it (None once stopped)."""
        self._needs_sync = True
        stream = self._settings.watch_list  # refused, it is listed for this sync only
        while not self._stop.is_set():
            try:
                self._session(stream=stream and self._needs_sync)
            except failures.WatchListUnsupported as exc:
                if self._stop.is_set():
                    break
                stream = False
                log.info(
                    "%s: the API server does not stream the initial state (%s); listing it for this sync",
                    self.resource.name,
                    exc,
                    extra=self._extra(),
                )
            except failures.Expired as exc:
                return None if self._stop.is_set() else self._expired(str(exc))
            except Exception as exc:  # the stream must come back, whatever broke it
                if self._stop.is_set():  # includes Stopped, and reads cut short by the token
                    break
                failure = self._failed(failures.classify(exc))
                if self._needs_sync or not failure.watch_again:
                    return failure
                delay = self._delay(failure)
                self._report(failure, delay, then="watching again from its resourceVersion")
                self._stop.wait(delay)
        return None

    # -- one request --------------------------------------------------------------------------

    def _session(self, *, stream: bool) -> None:
        """One request: a watch, which first streams the state if `stream`, after a list if a sync
        is due and it does not; returns when the watch ends cleanly."""
        if self._needs_sync and not stream:
            self._list()
        if self._watched:
            self._metrics.watch_restarts.labels(self.resource.name).inc()
        self._watched = True
        response = self._open(stream=stream)
        started = self._clock()
        with self._stop.holding(response):
            events = lines.iter_lines(response)
            try:
                if stream:
                    self._stream_initial(events)
                self._connected()
                received = self._read(events)
            except lines.LineTooLong as exc:
                raise failures.StreamFailure(failures.Failure("line_too_long", str(exc))) from exc
        if received == 0 and not stream and self._clock() - started < _SHORT_WATCH_SECONDS:
            raise failures.StreamFailure(failures.Failure("short_watch", "the watch ended at once, empty"))
        log.debug(
            "%s: watch ended after %d lines; watching again from resourceVersion %s",
            self.resource.name,
            received,
            self.versions.last,
            extra=self._extra(count=received),
        )

    def _list(self) -> None:
        version = self.versions.for_list()
        self._sync_version = version
        try:
            response = self._listwatch.list(resource_version=version)
        except ApiError as exc:
            if failures.is_expired_error(exc):
                raise failures.Expired(failures.classify(exc).detail) from exc
            raise
        with self._stop.holding(response):
            body = response.read()
        items, rv = _parse_list(body)
        del body
        # Each cut copied afresh (a JSON round trip), so that it shares no string with the parsed
        # list: a cut that held the parse's strings would pin its memory pages once it is freed.
        taken = tuple(json.loads(json.dumps(self._taken(item))) for item in items)
        del items
        self._synced(taken, rv, how="listed")

    def _open(self, *, stream: bool) -> Response:
        timeout = self._rng.randint(self._settings.watch_timeout_min, self._settings.watch_timeout_max)
        version = self.versions.for_stream() if stream else self.versions.last
        self._sync_version = version if stream else None
        try:
            return self._listwatch.watch(
                resource_version=version, timeout_seconds=timeout, send_initial_events=stream
            )
        except ApiError as exc:
            if stream and failures.is_watch_list_refusal(exc):
                raise failures.WatchListUnsupported(failures.one_line(exc)) from exc
            if failures.is_expired_error(exc):
                raise failures.Expired(failures.classify(exc).detail) from exc
            raise

    def _stream_initial(self, events: Iterator[bytes]) -> None:
        """Collect the ADDED events up to the bookmark that ends them; anything else first means the
        server ignored sendInitialEvents. Each object is cut as it comes (_taken), so the state is
        never held whole."""
        collected: list[ApiObject] = []
        for line in events:
            kind, obj = decode(line)
            if kind == "ADDED":
                collected.append(self._taken(obj))
                continue
            if kind == "ERROR":
                self._error_event(obj)
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            rv = _resource_version(obj)
            if kind == "BOOKMARK" and annotations.get(INITIAL_EVENTS_END) == "true" and rv:
                self._synced(tuple(collected), rv, how="streamed")
                return
            msg = f"a {kind} event came before the end of the initial events"
            raise failures.WatchListUnsupported(msg)
        raise failures.StreamFailure(
            failures.Failure("truncated_stream", "the stream ended before its initial events did")
        )

    def _synced(self, items: tuple[ApiObject, ...], rv: str, *, how: str) -> None:
        self._metrics.relists.labels(self.resource.name).inc()
        self._metrics.saw_event()
        self._emit(self.resource.resynced(items))
        self.watch_list = how == "streamed"
        self.versions.synced(rv)
        self._needs_sync = False
        self._sync_version = None
        log.info(
            "%s: %s %d at resourceVersion %s",
            self.resource.name,
            how,
            len(items),
            rv,
            extra=self._extra(count=len(items)),
        )

    def _read(self, events: Iterator[bytes]) -> int:
        received = 0
        try:
            for line in events:
                self._handle(line)
                received += 1
        except lines.TruncatedStream as exc:
            raise failures.StreamFailure(failures.Failure("truncated_stream", str(exc))) from exc

        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            detail = f"no event and no bookmark for {self._settings.inactivity_timeout:g}s"
            raise failures.StreamFailure(failures.Failure("inactive_watch", detail)) from exc
        return received

    def _handle(self, line: bytes) -> None:
        kind, obj = decode(line)
        if kind == "ERROR":
            self._error_event(obj)
        if kind in _UPSERTS:
            self._emit(self.resource.upserted(self._taken(obj)))
        elif kind == "DELETED":
            self._emit(self.resource.deleted(self._taken(obj)))
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
            self.versions.seen(rv)
        log.debug(
            "%s: %s at resourceVersion %s", self.resource.name, kind, rv, extra=self._extra(event_type=kind)
        )

    def _taken(self, obj: ApiObject) -> ApiObject:
        """What the core is handed of an object: the part it reads (DocumentProfile.pod_subset), cut
        here once for every object, listed, streamed or watched, so that the core always gets one
        shape and holds no object whole."""
        return self.resource.keep(obj)

    def _error_event(self, status: dict[str, Any]) -> None:
        if failures.is_expired(status):
            raise failures.Expired(failures.one_line(status.get("message", "410 Gone")))
        raise failures.StreamFailure(failures.status_failure(status))

    # -- outcomes -----------------------------------------------------------------------------

    def _connected(self) -> None:
        if self.live:
            log.debug("%s: watching again from resourceVersion %s", self.resource.name, self.versions.last)
            return
        self.live = True
        self._failures = 0
        if self._outage_since is None:
            log.info(
                "%s: watch connected at resourceVersion %s",
                self.resource.name,
                self.versions.last,
                extra=self._extra(),
            )
            return
        seconds = time.monotonic() - self._outage_since
        self._outage_since = None
        log.info(
            "%s: watch connected at resourceVersion %s; outage over after %.1fs",
            self.resource.name,
            self.versions.last,
            seconds,
            extra=self._extra(outage_seconds=round(seconds, 3)),
        )

    def _failed(self, failure: failures.Failure) -> failures.Failure:
        """Count the failure; the watch is not live until it connects again."""
        self.live = False
        self._failures += 1
        self._metrics.api_errors.labels(self.resource.name, failure.reason).inc()
        if self._outage_since is None:
            self._outage_since = time.monotonic()
        return failure

    def _delay(self, failure: failures.Failure | None) -> float:
        """The backoff manager's next delay, or the server's Retry-After if that is longer."""
        delay = self._backoff.next_delay()
        if failure is not None and failure.retry_after is not None:
            return max(delay, failure.retry_after)
        return delay

    def _report(self, failure: failures.Failure, delay: float, *, then: str) -> None:
        log.warning(
            "%s: %s failed (%s): %s; %s in %.2fs",
            self.resource.name,
            "watch" if self._sync_version is None else "sync",
            failure.reason,
            failure.detail,
            then,
            delay,
            extra=self._extra(
                reason=failure.reason, failures=self._failures, retry_in_seconds=round(delay, 3)
            ),
        )

    def _expired(self, detail: str) -> failures.Failure | None:
        """A version the server cannot serve: after a watch's, the next sync starts from it
        (versions.py); after a list's or stream's, with a consistent read, unless that was one
        already, which is a failure."""
        self.live = False
        asked = self._sync_version
        if asked == "":
            return self._failed(failures.Failure("expired", detail))
        self._sync_version = None
        log.info(
            "%s: resourceVersion %s cannot be served (%s); syncing again",
            self.resource.name,
            self.versions.last if asked is None else asked,
            detail,
            extra=self._extra(),
        )
        if asked is not None:
            self.versions.refused()
        return None

    def _extra(self, **fields: object) -> dict[str, object]:
        return {"resource": self.resource.name, "resource_version": self.versions.last, **fields}


def decode(line: bytes) -> tuple[str, dict[str, Any]]:
    """One watch line as (type, object), raw JSON as served; StreamFailure if it is not an event.

    NaN and Infinity, which the API server never sends but a broken proxy might, are read as
    Python's json reads them: the one object holding them is then refused alone when the core
    encodes it (strictly). Refusing the line would fail the watch, and the same event would come
    back at every watch after it, so that no other pod's file would change again."""
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


def _parse_list(body: bytes) -> tuple[list[ApiObject], str]:
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
    return items, rv


def _resource_version(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    rv = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return rv if isinstance(rv, str) and rv else None
