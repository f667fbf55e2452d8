"""The exporter's main loop: one bounded inbox of cluster events, actions applied, sleeping until the
next wake-up."""

from __future__ import annotations

import errno
import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import events, ports
from pod_meta_exporter.domain.actions import RemoveFile
from pod_meta_exporter.service.reconcile import apply_due

if TYPE_CHECKING:
    from pod_meta_exporter.domain.containers import RuntimeInterest
    from pod_meta_exporter.domain.directory import MetaDirectory
    from pod_meta_exporter.domain.ports import Clock, Cluster, ContainerRuntime, MetaStore, ServiceMetrics

log = logging.getLogger(__name__)

_STOP = object()
_STREAM_ENDED = object()
# Events waiting to be handled. When the loop falls this far behind, the cluster's threads block
# in emit() and stop reading; the API server then drops the slow watch and it is watched again
# from its resourceVersion, instead of this process buffering without bound.
INBOX_SIZE = 1024
# Events handled before the directory is reconciled: a burst coalesces repeated updates of a
# pod into one write, while a lone event is still written at once.
_BATCH = 256
# How often a cluster thread blocked on a full inbox looks whether the service stopped.
_EMIT_POLL_SECONDS = 0.1
# The main loop turns at least this often, even with nothing to do, so that a heartbeat older than
# LIVENESS_BOUND means it is stuck (a write that hangs on a dead disk), not idle.
IDLE_TURN_SECONDS = 5.0
# /healthz fails once the loop has not turned for this long. A turn handles at most 256 events and
# their writes, milliseconds on tmpfs; deploy/'s liveness probe then restarts the container after
# its failureThreshold (3) x periodSeconds (10): stuck for 30 + 30 s.
LIVENESS_BOUND = 30.0


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
    events.ContainerObserved: "container_observed",
}


class Service:
    """Applies the core's decisions through the ports; stop() may be called from a signal handler.

    The inbox is a SimpleQueue, whose put() is reentrant, so that stop() can be called from a
    signal handler; the bound on cluster events is a semaphore they take a slot of.
    """

    def __init__(
        self,
        *,
        directory: MetaDirectory,
        cluster: Cluster,
        store: MetaStore,
        clock: Clock,
        metrics: ServiceMetrics,
        runtime: ContainerRuntime | None = None,
        inbox_size: int = INBOX_SIZE,
        liveness_bound: float = LIVENESS_BOUND,
    ) -> None:
        self.directory = directory
        self.cluster = cluster
        self.runtime = runtime
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(inbox_size)
        self._stopping = False
        self._running = threading.Event()
        self._synced = False
        self._interest: RuntimeInterest | None = None  # what the runtime was last told to follow
        self._liveness_bound = liveness_bound
        self._idle_turn = min(IDLE_TURN_SECONDS, liveness_bound / 3)
        self._turned = clock.now()  # the heartbeat: when the main loop last began a turn
        metrics.track(ready=self.ready, queued=self.queued)

    def ready(self) -> bool:
        """The initial list is applied and the watch is live."""
        return self.directory.synced and self.cluster.is_live()

    def alive(self) -> bool:
        """The main loop runs and has turned within the liveness bound."""
        return self._running.is_set() and self.clock.now() - self._turned <= self._liveness_bound

    def queued(self) -> int:
        """Events (and stop requests) in the inbox."""
        return self._inbox.qsize()

    def stop(self) -> None:
        self._inbox.put(_STOP)

    def run(self) -> int:
        """Run until stop(); returns the process exit status. Files stay in place for Fluent Bit."""
        self.begin()
        try:
            while True:
                wake = self.directory.next_wakeup()
                idle = self._idle_turn if wake is None else max(0.0, wake - self.clock.now())
                status = self.turn(wait=min(idle, self._idle_turn))
                if status is not None:
                    return status
        finally:
            self.end()

    def begin(self) -> None:
        """Adopt the files found, and start the cluster's events."""
        present = list(self.store.names())
        self._turned = self.clock.now()
        self.directory.adopt(present, now=self.clock.now())
        log.info("adopted %d files left in the directory; each is kept for the retention", len(present))
        self._running.set()
        self.cluster.start(self._emit, ended=lambda: self._inbox.put(_STREAM_ENDED))
        if self.runtime is not None:
            self._interest = self.directory.runtime_interest()
            self.runtime.follow(self._interest)
            self.runtime.start(self._emit)

    def turn(self, *, wait: float = 0.0) -> int | None:
        """One turn of the main loop: wait up to `wait` seconds for an event, handle what the inbox
        holds, and apply what is due; the exit status once a stop request or the end of the
        events was taken, else None. run() turns until then; an embedder may turn by hand."""
        self._turned = self.clock.now()
        # The batch is emptied by _step(): no reference to an event (it may be a whole list)
        # outlives its handling while the loop waits for the next.
        try:
            batch = [self._inbox.get(timeout=wait) if wait > 0 else self._inbox.get_nowait()]
        except queue.Empty:
            batch = []
        return self._step(self.clock.now(), batch)

    def end(self) -> None:
        self._running.clear()
        self.cluster.close()
        self._stopping = True  # after close(): a cluster thread that sees it is already told to stop
        if self.runtime is not None:
            self.runtime.close()  # after: its thread may wait in emit() for a slot, until it sees that

    def _emit(self, event: events.ClusterEvent) -> None:
        """Called from the cluster's threads: waits for a slot in the inbox. The event's time to its
        file counts from here, so a wait for a slot counts too."""
        read = self.clock.now()
        while not self._slots.acquire(timeout=_EMIT_POLL_SECONDS):
            if self._stopping:
                raise ports.Stopped
        if self._stopping:
            self._slots.release()
            raise ports.Stopped
        self._inbox.put(_Received(event, read))

    def _step(self, now: float, batch: list[object]) -> int | None:
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
            self._slots.release()
            self._handle(item.event)
            received.append(item.at)
        batch.clear()
        item = None
        self._reconcile(now)
        if self.runtime is not None:
            interest = self.directory.runtime_interest()
            if interest is not self._interest and interest != self._interest:
                self._interest = interest
                self.runtime.follow(interest)
        done = self.clock.now()
        for at in received:
            self.metrics.event_to_file(done - at)
        if self.directory.synced and not self._synced:
            self._synced = True
            log.info("initial sync done; %d files pending removal", self.directory.pending_removals)
        return None

    def _handle(self, event: events.ClusterEvent) -> None:
        self.metrics.event_handled(_EVENT_TYPES[type(event)])
        outcome = self.directory.handle(event, now=self.clock.now())
        self.metrics.files_unchanged(outcome.unchanged)
        for rejection in outcome.rejections:
            self.metrics.object_rejected(rejection.kind)
            log.warning(
                "rejected an object (%s): %s; every other object is written",
                rejection.kind,
                rejection.reason,
                extra={"reason": rejection.kind},
            )

    def _reconcile(self, now: float) -> None:
        applied = apply_due(self.directory, self.store, now=now)
        self.metrics.files_written(len(applied.written))
        self.metrics.files_removed(len(applied.removed))
        for failure in applied.failures:
            error = failure.error
            reason = errno_name(error)
            self.metrics.file_failed(reason)
            log.error(
                "cannot %s %s: %s (%s); will retry",
                "remove" if isinstance(failure.action, RemoveFile) else "write",
                error.filename or failure.action.name,
                error.strerror or error,
                reason,
                extra={"file": failure.action.name, "errno": reason},
            )
        self.metrics.pending_removals(self.directory.pending_removals)


def errno_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, "unknown")
