"""The ports: what the core's service needs from the cluster, the metadata store, the clock and the
metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pod_meta_exporter.domain.containers import RuntimeInterest
    from pod_meta_exporter.domain.events import ClusterEvent


class Stopped(Exception):
    """The consumer stopped: emit() takes no more events, and the thread that called it is to end."""


class Cluster(Protocol):
    """A source of cluster events: a full resync first, then changes, then resyncs whenever needed."""

    def start(self, emit: Callable[[ClusterEvent], None], *, ended: Callable[[], None]) -> None:
        """Deliver events through `emit`, from threads of the cluster's own, until close(). Once
        only: a second start() raises RuntimeError.

        emit() blocks while the consumer is behind, so the cluster reads no faster than events are
        handled, and raises Stopped once the consumer stops. ended() is called if the events end before
        close(), which is a failure: they never end on their own.
        """
        ...

    def is_live(self) -> bool:
        """True while the event stream is started, connected and current; false from close() on."""
        ...

    def close(self) -> None:
        """Stop delivering events, from any thread, even from within emit(): what was read or
        queued but not yet handed to emit() is dropped, and ended() is not called."""
        ...


class ContainerRuntime(Protocol):
    """The node's container runtime, a second source: ContainerObserved events for the containers of
    the pods it is told about, ahead of the kubelet's status. Its failures never stop the service."""

    def start(self, emit: Callable[[ClusterEvent], None]) -> None:
        """Deliver events through `emit`, from a thread of its own, until close()."""
        ...

    def follow(self, interest: RuntimeInterest) -> None:
        """The pods to ask about from now on; called from the service's thread after each change."""
        ...

    def close(self) -> None: ...


class MetaStore(Protocol):
    """The preload directory: whole files by name, no partial states visible."""

    def write(self, name: str, content: bytes) -> None: ...

    def remove(self, name: str) -> None:
        """Remove the file; a file that is already gone is not an error."""
        ...

    def names(self) -> Iterable[str]:
        """The names of the pod and namespace metadata files present."""
        ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...


class ServiceMetrics(Protocol):
    """What the service records of its work, for the metrics endpoint (or a test) to read."""

    def event_handled(self, kind: str) -> None:
        """One cluster event of this kind was handled: pod_upserted, pods_resynced, ..."""
        ...

    def object_rejected(self, reason: str) -> None:
        """An API object was refused: invalid_name, invalid_object or not_json (Rejection.kind)."""
        ...

    def files_unchanged(self, count: int) -> None:
        """Files an event left with the bytes they held, so nothing was written."""
        ...

    def files_written(self, count: int) -> None: ...

    def files_removed(self, count: int) -> None: ...

    def file_failed(self, errno_name: str) -> None:
        """A write or removal failed (it is retried)."""
        ...

    def event_to_file(self, seconds: float) -> None:
        """The time from reading an event to its file being written or found unchanged."""
        ...

    def pending_removals(self, count: int) -> None:
        """Files of vanished pods that are kept for their retention."""
        ...

    def track(self, *, ready: Callable[[], bool], queued: Callable[[], int]) -> None:
        """Read the service's readiness and its queued events whenever the metrics are read."""
        ...
