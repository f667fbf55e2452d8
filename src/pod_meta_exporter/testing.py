"""Test doubles for embedders: small working implementations of the core's ports, to test an
exporter of your own against the core, as aiohttp.test_utils does for aiohttp.

- FakeClock: the Clock port; time stands still until advance().
- MemoryStore: the MetaStore port over a dict, with failures to inject (a full or read-only disk).
- FakeCluster: the Cluster port, fed by hand with emit() and ended with end().

The product never imports this module; the project's own tests use it as embedders would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pod_meta_exporter.domain import names

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pod_meta_exporter.domain.events import ClusterEvent
    from pod_meta_exporter.domain.ports import Clock, Cluster, MetaStore

__all__ = ["FakeClock", "FakeCluster", "MemoryStore"]


class FakeClock:
    """Shaped like Twisted's task.Clock: time stands still until advance()."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            msg = f"a clock cannot go back: advance({seconds})"
            raise ValueError(msg)
        self._now += seconds


class MemoryStore:
    """A dict of file name to bytes. Until they are cleared, `fail` makes the operations on a name
    raise an OSError, and `fail_writes` or `fail_removals` every write or every removal (a full disk
    fails writes; a read-only one fails both)."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.fail: dict[str, OSError] = {}
        self.fail_writes: OSError | None = None
        self.fail_removals: OSError | None = None
        self.writes = 0

    def write(self, name: str, content: bytes) -> None:
        self._check(name, self.fail_writes)
        self.files[name] = content
        self.writes += 1

    def remove(self, name: str) -> None:
        self._check(name, self.fail_removals)
        self.files.pop(name, None)

    def names(self) -> Iterable[str]:
        return [name for name in self.files if names.is_metadata_file_name(name)]

    def _check(self, name: str, failure: OSError | None) -> None:
        names.check_file_name(name)
        if failure is not None:
            raise failure
        if name in self.fail:
            raise self.fail[name]


class FakeCluster:
    """Delivers what emit() is given, at once, in the caller's thread, until close(); end() ends it."""

    def __init__(self, *initial: ClusterEvent, live: bool = True) -> None:
        self.live = live
        self.closed = False
        self._pending: list[ClusterEvent] = list(initial)
        self._started = False
        self._ended = False
        self._emit: Callable[[ClusterEvent], None] | None = None
        self._end: Callable[[], None] | None = None

    def start(self, emit: Callable[[ClusterEvent], None], *, ended: Callable[[], None]) -> None:
        if self._started:
            msg = "FakeCluster.start() can be called only once"
            raise RuntimeError(msg)
        self._started = True
        self._emit, self._end = emit, ended
        while self._pending and not self.closed:  # the consumer may close it from emit()
            emit(self._pending.pop(0))
        if self._ended and not self.closed:
            ended()

    def emit(self, event: ClusterEvent) -> None:
        """Deliver the event now, or at start() if the consumer has not started yet; after close(), never."""
        if self.closed:
            return
        if self._emit is None:
            self._pending.append(event)
        else:
            self._emit(event)

    def end(self) -> None:
        """The events end, as if the cluster failed; after close() that is no failure, and not reported."""
        if self.closed:
            return
        self._ended = True
        if self._end is not None:
            self._end()

    def is_live(self) -> bool:
        return self.live and self._started and not self.closed

    def close(self) -> None:
        self.closed = True
        self._pending.clear()


if TYPE_CHECKING:  # the ports' conformance, checked by mypy
    _clock: Clock = FakeClock()
    _store: MetaStore = MemoryStore()
    _cluster: Cluster = FakeCluster()
