"""Backoff: exponential reconnect delays with full jitter."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

# 2**32 seconds is far beyond any cap; stopping there keeps the power from overflowing a float.
_MAX_EXPONENT = 32


class Backoff:
    """Delays drawn uniformly from [0, min(cap, first * 2**attempt)] ("full jitter"), so clients
    that failed together spread out instead of retrying in waves."""

    def __init__(self, *, first: float, cap: float, rng: random.Random) -> None:
        self._first = first
        self._cap = cap
        self._rng = rng
        self._attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self._cap, self._first * 2 ** min(self._attempt, _MAX_EXPONENT))
        self._attempt += 1
        return self._rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self._attempt = 0
