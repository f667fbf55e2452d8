"""Metadata stores: the preload directory on disk, and an in-memory one for tests and embedding."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import names

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pod_meta_exporter.domain.ports import MetaStore

_SUFFIXES = (names.POD_SUFFIX, names.NAMESPACE_SUFFIX)

# Temporaries are hidden (no pod or namespace name starts with a dot, so Fluent Bit never opens
# one) and end in random hex (never in a metadata suffix). The name part is cut so that even a
# 255-byte metadata name yields a temporary name within NAME_MAX: 5 + 56 * 4 + 1 + 12 bytes.
_TEMP_PREFIX = ".tmp-"
_TEMP_NAME_CHARS = 56


def _check_name(name: str) -> None:
    """Refuse a name that is not a metadata file right in the directory: the domain's checks, again."""
    if "/" in name or "\0" in name:
        msg = f"metadata file name must be one path component without NUL: {name!r}"
        raise ValueError(msg)
    if name.startswith("."):
        msg = f"metadata file name must not be hidden (nor '.' or '..'): {name!r}"
        raise ValueError(msg)
    if not name.endswith(_SUFFIXES):
        msg = f"metadata file name must end in {' or '.join(_SUFFIXES)}: {name!r}"
        raise ValueError(msg)


def _is_metadata_name(name: str) -> bool:
    return name.endswith(_SUFFIXES) and not name.startswith(".") and "/" not in name and "\0" not in name


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
        _check_name(name)
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
        _check_name(name)
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
                if _is_metadata_name(entry.name) and entry.is_file(follow_symlinks=False)
            ]

    def _sync_directory(self) -> None:
        """Make the renames and unlinks done so far durable."""
        fd = os.open(self._prefix, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class MemoryStore:
    """A dict of file name to bytes. Until they are cleared, `fail` makes the operations on a name
    raise an OSError, and `fail_writes` or `fail_removals` every write or every removal (a full disk
    fails writes; a read-only one fails both)."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.fail: dict[str, OSError] = {}
        self.fail_writes: OSError | None = None
        self.fail_removals: OSError | None = None
        self.writes = 0

    def write(self, name: str, content: bytes) -> None:
        self._check(name, self.fail_writes)
        self.files[name] = content
        self.writes += 1

    def remove(self, name: str) -> None:
        self._check(name, self.fail_removals)
        self.files.pop(name, None)

    def names(self) -> Iterable[str]:
        return [name for name in self.files if _is_metadata_name(name)]

    def _check(self, name: str, failure: OSError | None) -> None:
        _check_name(name)
        if failure is not None:
            raise failure
        if name in self.fail:
            raise self.fail[name]


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _directory: MetaStore = DirectoryStore(Path())
    _memory: MetaStore = MemoryStore()
