"""Write retries: the files the store could not write or remove, and when each is tried again."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryBackoff:
    """How long a failed write or removal waits before its next try: doubling from first to cap."""

    first: float = 1.0
    cap: float = 30.0

    def delay(self, attempts: int) -> float:
        """The wait after the `attempts`-th failure in a row (1 for the first)."""
        return min(self.cap, self.first * 2.0 ** (attempts - 1))


class WriteRetries:
    """A ledger of the failures in a row of each file's pending action.

    A failure puts the file off until its next try; a success, or a new wish for the file (the
    pending action changed), clears it, so the next failure waits the first delay again.
    """

    def __init__(self, backoff: RetryBackoff) -> None:
        self._backoff = backoff
        self._entries: dict[str, tuple[int, float]] = {}  # name -> (failures in a row, next try)

    def failed(self, name: str, *, now: float) -> None:
        attempts = self._entries.get(name, (0, now))[0] + 1
        self._entries[name] = (attempts, now + self._backoff.delay(attempts))

    def clear(self, name: str) -> None:
        self._entries.pop(name, None)

    def waiting(self, name: str, *, now: float) -> bool:
        """Whether the file's next try is still ahead of `now`."""
        entry = self._entries.get(name)
        return entry is not None and entry[1] > now

    def next_try(self) -> float | None:
        """The earliest next try, or None."""
        return min((at for _, at in self._entries.values()), default=None)
