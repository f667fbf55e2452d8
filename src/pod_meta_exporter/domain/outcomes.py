"""What handling one event did besides changing the desired state: refusals, and files found right."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event, or one object of it, that the core refused, and why."""

    reason: str
    """One line naming the object and what is wrong with it."""
    kind: str = "invalid_object"
    """For the metric: invalid_name, invalid_object (no metadata, no uid), or not_json (a value
    that strict JSON cannot hold, such as NaN or a lone surrogate)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    rejections: tuple[Rejection, ...] = ()
    unchanged: int = 0
    """Files whose rendered bytes equalled what the store holds, so nothing is written."""

    @property
    def identified(self) -> bool:
        """The object was taken, or refused only for a value that cannot be written: its identity
        holds, so the object still counts as present."""
        return all(rejection.kind == "not_json" for rejection in self.rejections)
