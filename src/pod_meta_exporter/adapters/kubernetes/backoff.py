"""BackoffManager: client-go's spacing of a reflector's syncs and re-watches."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random
    from collections.abc import Callable


class BackoffManager:
    """client-go's NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0), which its reflector
    runs every ListAndWatch under (wait.BackoffUntil) and waits on before a watch after a refusal.

    Each delay is the current step plus up to `jitter` times itself, drawn at random, so that
    nodes that failed together spread out. The step then grows by `factor` up to `cap`. It starts
    over only when no delay was asked for `reset_after` seconds: progress alone does not reset
    it, so a server that breaks every watch after one line cannot make the nodes spin.
    """

    def __init__(
        self,
        *,
        first: float,
        cap: float,
        reset_after: float,
        rng: random.Random,
        clock: Callable[[], float],
        factor: float = 2.0,
        jitter: float = 1.0,
    ) -> None:
        self._first = first
        self._cap = cap
        self._reset_after = reset_after
        self._factor = factor
        self._jitter = jitter
        self._rng = rng
        self._clock = clock
        self._step = first
        self._last: float | None = None  # when a delay was last asked

    def next_delay(self) -> float:
        now = self._clock()
        if self._last is not None and now - self._last > self._reset_after:
            self._step = self._first
        self._last = now
        step, self._step = self._step, min(self._cap, self._step * self._factor)
        return step * (1.0 + self._jitter * self._rng.random())
