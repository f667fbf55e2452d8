"""DirectoryStore: the preload directory on disk, each file replaced whole by an atomic rename."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import names

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pod_meta_exporter.domain.ports import MetaStore

# Temporaries are hidden (no pod or namespace name starts with a dot, so Fluent Bit never opens
# one) and end in random hex (never in a metadata suffix). The name part is cut so that even a
# 255-byte metadata name yields a temporary name within NAME_MAX: 5 + 56 * 4 + 1 + 12 bytes.
_TEMP_PREFIX = ".tmp-"
_TEMP_NAME_CHARS = 56


class DirectoryStore:
    """The preload directory: each write replaces a whole file by an atomic rename, so readers
    see the old document or the new one, never a part; errors propagate and nothing is retried."""

    def __init__(self, path: Path, *, file_mode: int = 0o644, fsync: bool = False) -> None:
        if not 0 <= file_mode <= 0o7777:  # noqa: PLR2004 - every permission bit, no file type bits
            msg = f"file_mode must be permission bits (0 to 0o7777), got {file_mode:#o}"
            raise ValueError(msg)
        self.path = Path(path)
        self.file_mode = file_mode
        self.fsync = fsync
        self._prefix = f"{self.path}{os.sep}"

    def prepare(self) -> None:
        """Create the directory, and its parents, if missing."""
        self.path.mkdir(parents=True, exist_ok=True)

    def remove_stale_temporaries(self) -> int:
        """Remove the temporaries a crashed run left behind; return how many there were."""
        removed = 0
        with os.scandir(self._prefix) as entries:
            for entry in entries:
                if entry.name.startswith(_TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError):
                        Path(entry.path).unlink()
                        removed += 1
        return removed

    def write(self, name: str, content: bytes) -> None:
        names.check_file_name(name)
        temp = f"{self._prefix}{_TEMP_PREFIX}{name[:_TEMP_NAME_CHARS]}-{os.urandom(6).hex()}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, self.file_mode)
        try:
            try:
                os.fchmod(fd, self.file_mode)  # the umask shaped the mode os.open gave
                written = os.write(fd, content)
                if written < len(content):
                    view = memoryview(content)
                    while written < len(content):
                        written += os.write(fd, view[written:])
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self._prefix + name)  # noqa: PTH105 - hot path, no Path objects
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)  # noqa: PTH108 - temp is a str, as in the rest of write()
            raise
        if self.fsync:
            self._sync_directory()

    def remove(self, name: str) -> None:
        names.check_file_name(name)
        try:
            os.unlink(self._prefix + name)  # noqa: PTH108 - hot path, no Path objects
        except FileNotFoundError:
            return
        if self.fsync:
            self._sync_directory()

    def names(self) -> Iterable[str]:
        with os.scandir(self._prefix) as entries:
            return [
                entry.name
                for entry in entries
                if names.is_metadata_file_name(entry.name) and entry.is_file(follow_symlinks=False)
            ]

    def _sync_directory(self) -> None:
        """Make the renames and unlinks done so far durable."""
        fd = os.open(self._prefix, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _directory: MetaStore = DirectoryStore(Path())


def __getattr__(name: str) -> object:
    """MemoryStore moved to pod_meta_exporter.testing; this alias goes in the next release."""
    if name == "MemoryStore":
        import warnings

        from pod_meta_exporter import testing

        warnings.warn(
            "pod_meta_exporter.adapters.store.MemoryStore moved to pod_meta_exporter.testing.MemoryStore",
            DeprecationWarning,
            stacklevel=2,
        )
        return testing.MemoryStore
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
