"""Clocks: the system's monotonic clock, and a fake one that only moves when told."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pod_meta_exporter.domain.ports import Clock


class SystemClock:
    def now(self) -> float:
        return time.monotonic()


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


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _system: Clock = SystemClock()
    _fake: Clock = FakeClock()
