"""The exporter's main loop: events from a reader thread, actions applied, sleeping until the next wake-up."""

from __future__ import annotations

import errno
import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.actions import RemoveFile
from pod_meta_exporter.service.reconcile import apply_due

if TYPE_CHECKING:
    from pod_meta_exporter.adapters.metrics import Metrics
    from pod_meta_exporter.domain.directory import MetaDirectory
    from pod_meta_exporter.domain.ports import Clock, Cluster, MetaStore

log = logging.getLogger(__name__)

_STOP = object()
_STREAM_ENDED = object()
# Events handled before the directory is reconciled: a burst coalesces repeated updates of a
# pod into one write, while a lone event is still written at once.
_BATCH = 256


@dataclass(frozen=True, slots=True)
class _Received:
    event: events.ClusterEvent
    at: float


_EVENT_TYPES: dict[type, str] = {
    events.PodUpserted: "pod_upserted",
    events.PodDeleted: "pod_deleted",
    events.PodsResynced: "pods_resynced",
    events.NamespaceUpserted: "namespace_upserted",
    events.NamespaceDeleted: "namespace_deleted",
    events.NamespacesResynced: "namespaces_resynced",
}


class Service:
    """Applies the core's decisions through the ports; stop() may be called from a signal handler."""

    def __init__(
        self,
        *,
        directory: MetaDirectory,
        cluster: Cluster,
        store: MetaStore,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self.directory = directory
        self.cluster = cluster
        self.store = store
        self.clock = clock
        self.metrics = metrics
        # SimpleQueue.put is reentrant, so a signal handler may call stop() at any moment.
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._running = threading.Event()
        self._reader: threading.Thread | None = None
        metrics.ready.set_function(lambda: 1.0 if self.ready() else 0.0)

    def ready(self) -> bool:
        """The initial list is applied and the watch is live."""
        return self.directory.synced and self.cluster.is_live()

    def alive(self) -> bool:
        return self._running.is_set()

    def stop(self) -> None:
        self._inbox.put(_STOP)

    def run(self) -> int:
        """Run until stop(); returns the process exit status. Files stay in place for Fluent Bit."""
        present = list(self.store.names())
        self.directory.adopt(present, now=self.clock.now())
        log.info("adopted %d files left in the directory; each is kept for the retention", len(present))
        self._running.set()
        self._reader = threading.Thread(target=self._read, name="cluster-reader", daemon=True)
        self._reader.start()
        try:
            return self._loop()
        finally:
            self._running.clear()
            self.cluster.close()
            self._reader.join(timeout=1.0)

    def _read(self) -> None:
        try:
            for event in self.cluster.events():
                self._inbox.put(_Received(event, self.clock.now()))
                del event  # not held while waiting for the next: it may be a whole list
        except Exception:
            log.exception("the cluster event stream failed")
        self._inbox.put(_STREAM_ENDED)

    def _loop(self) -> int:
        was_synced = False
        while True:
            self._reconcile()
            if self.directory.synced and not was_synced:
                was_synced = True
                log.info("initial sync done; %d files pending removal", self.directory.pending_removals)
            wake = self.directory.next_wakeup()
            timeout = None if wake is None else max(0.0, wake - self.clock.now())
            try:
                batch = [self._inbox.get(timeout=timeout)]
            except queue.Empty:
                continue
            while len(batch) < _BATCH:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            received: list[float] = []
            for item in batch:
                if item is _STOP:
                    log.info("stopping; the files stay in place for Fluent Bit")
                    return 0
                if item is _STREAM_ENDED:
                    log.error("the cluster event stream ended unexpectedly; exiting so the pod restarts")
                    return 1
                assert isinstance(item, _Received)
                self._handle(item.event)
                received.append(item.at)
            self._reconcile()
            now = self.clock.now()
            for at in received:
                self.metrics.event_to_file.observe(now - at)
            # Not held while waiting for the next batch: the initial list would stay resident.
            del batch, item

    def _handle(self, event: events.ClusterEvent) -> None:
        self.metrics.events.labels(_EVENT_TYPES[type(event)]).inc()
        outcome = self.directory.handle(event, now=self.clock.now())
        self.metrics.files_unchanged.inc(outcome.unchanged)
        for rejection in outcome.rejections:
            self.metrics.rejected.inc()
            log.warning("rejected an object: %s", rejection.reason)

    def _reconcile(self) -> None:
        applied = apply_due(self.directory, self.store, now=self.clock.now())
        self.metrics.files_written.inc(len(applied.written))
        self.metrics.files_removed.inc(len(applied.removed))
        for failure in applied.failures:
            error = failure.error
            reason = errno_name(error)
            self.metrics.write_errors.labels(reason).inc()
            log.error(
                "cannot %s %s: %s (%s); will retry",
                "remove" if isinstance(failure.action, RemoveFile) else "write",
                error.filename or failure.action.name,
                error.strerror or error,
                reason,
                extra={"file": failure.action.name, "errno": reason},
            )
        self.metrics.pending_removals.set(self.directory.pending_removals)


def errno_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, "unknown")
