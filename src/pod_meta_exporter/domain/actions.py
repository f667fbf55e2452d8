"""What the core asks the store to do: plain values, applied by the service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Replace the file `name` in the directory with `content`, atomically."""

    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class RemoveFile:
    name: str


Action = WriteFile | RemoveFile


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event, or one object of it, that the core refused, and why."""

    reason: str
    """One line naming the object and what is wrong with it."""
    kind: str = "invalid_object"
    """For the metric: invalid_name, invalid_object (no metadata, no uid), or not_json (a value
    that strict JSON cannot hold, such as NaN or a lone surrogate)."""
