"""The MetaStore contract, run against the directory on disk and the in-memory fake alike."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Generic, TypeVar

import pytest

from pod_meta_exporter.adapters.store import DirectoryStore
from pod_meta_exporter.domain.ports import MetaStore
from pod_meta_exporter.testing import MemoryStore

if TYPE_CHECKING:
    from pathlib import Path

S = TypeVar("S", bound=MetaStore)

BAD_NAMES = [
    "",
    ".",
    "..",
    "../escaped.meta",
    "sub/dir.meta",
    "shop_web-0.meta/",
    "shop_web-0.meta\0",
    "shop\0_web-0.meta",
    ".hidden.meta",
    ".tmp-shop_web-0.meta",
    "shop_web-0.json",
    "shop_web-0.meta.bak",
    "shop",
]


class MetaStoreContract(Generic[S]):
    """Subclass once per store: make_store() builds one, read() and plant() look past its API."""

    def make_store(self, tmp_path: Path) -> S:
        raise NotImplementedError

    def read(self, store: S, name: str) -> bytes | None:
        """The bytes stored under name, or None if there is no such file."""
        raise NotImplementedError

    def plant(self, store: S, name: str, content: bytes) -> None:
        """Put a file there as another program (or an earlier run) would, without the store's checks."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> S:
        return self.make_store(tmp_path)

    def test_a_written_file_reads_back_byte_for_byte(self, store: S) -> None:
        content = '{"metadata":{"name":"web-0","labels":{"app":"café"}}}'.encode()
        store.write("shop_web-0.meta", content)
        assert self.read(store, "shop_web-0.meta") == content

    def test_an_empty_document_is_stored_as_an_empty_file(self, store: S) -> None:
        store.write("shop_web-0.meta", b"")
        assert self.read(store, "shop_web-0.meta") == b""

    def test_a_rewrite_replaces_the_whole_file(self, store: S) -> None:
        store.write("shop_web-0.meta", b'{"long":"' + b"x" * 1000 + b'"}')
        store.write("shop_web-0.meta", b"{}")
        assert self.read(store, "shop_web-0.meta") == b"{}"

    def test_a_removed_file_is_gone(self, store: S) -> None:
        store.write("shop_web-0.meta", b"{}")
        store.remove("shop_web-0.meta")
        assert self.read(store, "shop_web-0.meta") is None
        assert list(store.names()) == []

    def test_removing_a_missing_file_is_not_an_error(self, store: S) -> None:
        store.remove("shop_never-0.meta")
        store.write("shop_web-0.meta", b"{}")
        store.remove("shop_web-0.meta")
        store.remove("shop_web-0.meta")
        assert list(store.names()) == []

    def test_names_lists_every_pod_and_namespace_file_written(self, store: S) -> None:
        store.write("shop_web-0.meta", b"{}")
        store.write("shop_web-1.meta", b"{}")
        store.write("shop.namespace_meta", b"{}")
        assert sorted(store.names()) == ["shop.namespace_meta", "shop_web-0.meta", "shop_web-1.meta"]

    def test_names_lists_metadata_files_left_by_an_earlier_run(self, store: S) -> None:
        self.plant(store, "shop_old-0.meta", b"{}")
        assert list(store.names()) == ["shop_old-0.meta"]

    @pytest.mark.parametrize(
        "foreign", ["notes.txt", "shop_web-0.meta.bak", ".hidden.meta", ".tmp-shop_web-0.meta-0123abcd"]
    )
    def test_names_lists_only_metadata_files(self, store: S, foreign: str) -> None:
        store.write("shop_web-0.meta", b"{}")
        self.plant(store, foreign, b"not ours")
        assert list(store.names()) == ["shop_web-0.meta"]

    @pytest.mark.parametrize("name", BAD_NAMES)
    def test_writing_a_name_that_is_not_a_metadata_file_in_the_directory_is_refused(
        self, store: S, name: str
    ) -> None:
        with pytest.raises(ValueError, match="metadata file name"):
            store.write(name, b"{}")
        assert list(store.names()) == []

    @pytest.mark.parametrize("name", BAD_NAMES)
    def test_removing_a_name_that_is_not_a_metadata_file_in_the_directory_is_refused(
        self, store: S, name: str
    ) -> None:
        with pytest.raises(ValueError, match="metadata file name"):
            store.remove(name)

    def test_a_refused_name_leaves_other_files_alone(self, store: S) -> None:
        store.write("shop_web-0.meta", b"{}")
        with pytest.raises(ValueError, match="metadata file name"):
            store.remove("shop_web-0.meta/")
        assert self.read(store, "shop_web-0.meta") == b"{}"

    def test_the_store_answers_every_call_of_the_port(self, store: S) -> None:
        port: MetaStore = store  # conformance itself is checked by mypy (store.py)
        port.write("shop_web-0.meta", b"{}")
        assert list(port.names()) == ["shop_web-0.meta"]
        port.remove("shop_web-0.meta")
        assert list(port.names()) == []


class TestDirectoryStore(MetaStoreContract[DirectoryStore]):
    def make_store(self, tmp_path: Path) -> DirectoryStore:
        store = DirectoryStore(tmp_path / "preload")
        store.prepare()
        return store

    def read(self, store: DirectoryStore, name: str) -> bytes | None:
        path = store.path / name
        return path.read_bytes() if path.exists() else None

    def plant(self, store: DirectoryStore, name: str, content: bytes) -> None:
        (store.path / name).write_bytes(content)

    def test_an_escaping_name_creates_nothing_outside_the_directory(self, store: DirectoryStore) -> None:
        with pytest.raises(ValueError, match="metadata file name"):
            store.write("../escaped.meta", b"{}")
        assert sorted(p.name for p in store.path.parent.iterdir()) == ["preload"]


class TestMemoryStore(MetaStoreContract[MemoryStore]):
    def make_store(self, tmp_path: Path) -> MemoryStore:
        return MemoryStore()

    def read(self, store: MemoryStore, name: str) -> bytes | None:
        return store.files.get(name)

    def plant(self, store: MemoryStore, name: str, content: bytes) -> None:
        store.files[name] = content

    def test_a_full_disk_fails_every_write_and_no_removal_until_cleared(self, store: MemoryStore) -> None:
        store.write("shop_web-0.meta", b"{}")
        store.fail_writes = OSError(errno.ENOSPC, "No space left on device")
        with pytest.raises(OSError, match="No space left"):
            store.write("shop_web-1.meta", b"{}")
        store.remove("shop_web-0.meta")
        store.fail_writes = None
        store.write("shop_web-1.meta", b"{}")
        assert store.files == {"shop_web-1.meta": b"{}"}

    def test_failing_removals_keep_the_file_until_they_are_cleared(self, store: MemoryStore) -> None:
        store.write("shop_web-0.meta", b"{}")
        store.fail_removals = PermissionError(errno.EACCES, "Permission denied")
        with pytest.raises(PermissionError):
            store.remove("shop_web-0.meta")
        assert store.files == {"shop_web-0.meta": b"{}"}
        store.fail_removals = None
        store.remove("shop_web-0.meta")
        assert store.files == {}


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _directory: MetaStore = DirectoryStore(Path())
    _memory: MetaStore = MemoryStore()
