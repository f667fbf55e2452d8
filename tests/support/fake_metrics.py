"""FakeMetrics: the ServiceMetrics port in plain fields, for the unit tests of the service."""

from __future__ import annotations

from collections import Counter as Tally
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from pod_meta_exporter.domain.ports import ServiceMetrics


class FakeMetrics:
    """What the service recorded, in plain fields; ready() and queued() read what it tracks."""

    def __init__(self) -> None:
        self.events: Tally[str] = Tally()  # by kind
        self.rejected: Tally[str] = Tally()  # by reason
        self.unchanged = 0
        self.written = 0
        self.removed = 0
        self.errors: Tally[str] = Tally()  # by errno name
        self.delays: list[float] = []  # event to file, in seconds
        self.pending = 0
        self.ready: Callable[[], bool] = lambda: False
        self.queued: Callable[[], int] = lambda: 0

    def event_handled(self, kind: str) -> None:
        self.events[kind] += 1

    def object_rejected(self, reason: str) -> None:
        self.rejected[reason] += 1

    def files_unchanged(self, count: int) -> None:
        self.unchanged += count

    def files_written(self, count: int) -> None:
        self.written += count

    def files_removed(self, count: int) -> None:
        self.removed += count

    def file_failed(self, errno_name: str) -> None:
        self.errors[errno_name] += 1

    def event_to_file(self, seconds: float) -> None:
        self.delays.append(seconds)

    def pending_removals(self, count: int) -> None:
        self.pending = count

    def track(self, *, ready: Callable[[], bool], queued: Callable[[], int]) -> None:
        self.ready, self.queued = ready, queued


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _fake: ServiceMetrics = FakeMetrics()
