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
