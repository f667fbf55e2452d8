"""The ports: what the core's service needs from the cluster, the metadata store and the clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pod_meta_exporter.domain.events import ClusterEvent


class Cluster(Protocol):
    """A source of cluster events: a full resync first, then changes, then resyncs whenever needed."""

    def events(self) -> Iterator[ClusterEvent]:
        """Block for the next events; ends only after close()."""
        ...

    def is_live(self) -> bool:
        """True while the event stream is connected and current."""
        ...

    def close(self) -> None:
        """Make events() end soon, from any thread."""
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
