"""The retention clock: how long a deleted pod's file is still wanted, and when that ends."""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class RetentionClock(Generic[Key]):
    """One running retention per key, each `period` long from when it starts.

    Fluent Bit may read a pod's file after the pod is gone, for log lines still in its buffers:
    a retention keeps the file that long. start() (again) restarts it, cancel() stops it (the pod
    is back, or a new one took its name), ended() takes the keys whose retention is over.
    """

    def __init__(self, period: float) -> None:
        if period < 0:
            msg = f"retention must not be negative, got {period}"
            raise ValueError(msg)
        self.period = period
        self._ends: dict[Key, float] = {}
        self._heap: list[tuple[float, int, Key]] = []  # stale entries are skipped, not removed
        self._pushed = 0  # ties in time go by start order, so keys are never compared

    def __contains__(self, key: Key) -> bool:
        return key in self._ends

    def __len__(self) -> int:
        return len(self._ends)

    def start(self, key: Key, *, now: float) -> None:
        """Keep `key` for a full period from `now`, even if its retention was already running."""
        ends = now + self.period
        self._ends[key] = ends
        self._pushed += 1
        heapq.heappush(self._heap, (ends, self._pushed, key))

    def cancel(self, key: Key) -> bool:
        """Stop the retention of `key`: whether one was running."""
        return self._ends.pop(key, None) is not None

    def ended(self, *, now: float) -> list[Key]:
        """The keys whose retention is over by `now`, each once, in the order they ended."""
        over: list[Key] = []
        while self._heap and self._heap[0][0] <= now:
            ends, _, key = heapq.heappop(self._heap)
            if self._ends.get(key) == ends:
                del self._ends[key]
                over.append(key)
        return over

    def next_end(self) -> float | None:
        """When the next running retention ends, or None."""
        while self._heap:
            ends, _, key = self._heap[0]
            if self._ends.get(key) == ends:
                return ends
            heapq.heappop(self._heap)
        return None
