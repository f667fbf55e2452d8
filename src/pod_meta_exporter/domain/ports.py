"""The ports: what the core's service needs from the cluster, the metadata store and the clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pod_meta_exporter.domain.events import ClusterEvent


class Cluster(Protocol):
    """A source of cluster events: a full resync first, then changes, then resyncs whenever needed."""

    def start(self, emit: Callable[[ClusterEvent], None], *, ended: Callable[[], None]) -> None:
        """Deliver events through `emit`, from threads of the cluster's own, until close().

        emit() blocks while the consumer is behind, so the cluster reads no faster than events are
        handled, and raises once the consumer stops. ended() is called if the events end before
        close(), which is a failure: they never end on their own.
        """
        ...

    def is_live(self) -> bool:
        """True while the event stream is connected and current."""
        ...

    def close(self) -> None:
        """Stop delivering events soon, from any thread."""
        ...


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
