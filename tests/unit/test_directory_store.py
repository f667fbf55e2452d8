"""DirectoryStore on a real directory: modes, atomic replacement, leftovers, and how it fails."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pod_meta_exporter.adapters.store import DirectoryStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NOBODY = 65534


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".tmp-"))


def ready(path: Path, *, file_mode: int = 0o644, fsync: bool = False) -> DirectoryStore:
    store = DirectoryStore(path, file_mode=file_mode, fsync=fsync)
    store.prepare()
    return store


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """os.umask, with the original mask restored afterwards."""
    original = os.umask(0o022)
    os.umask(original)
    yield os.umask
    os.umask(original)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a fresh tmpfs with the given options; skip where this process may not mount."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        if shutil.which("mount") is None:
            pytest.skip("no mount(8) here to make a small or read-only filesystem")
        target = tmp_path / f"tmpfs{len(mounted)}"
        target.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {result.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", str(target)], check=True)


def remount_read_only(target: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True, capture_output=True)


@contextlib.contextmanager
def as_nobody_if_root() -> Iterator[None]:
    """Root ignores permission bits, so drop the effective uid to nobody for the block."""
    if os.geteuid() != 0:
        yield
        return
    try:
        os.seteuid(NOBODY)
    except PermissionError:
        pytest.skip("running as root without CAP_SETUID, so permission bits cannot be made to bite")
    try:
        yield
    finally:
        os.seteuid(0)


# -- construction ---------------------------------------------------------------------------


def test_constructing_a_store_touches_nothing_on_disk(tmp_path: Path) -> None:
    DirectoryStore(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []


def test_prepare_creates_the_directory_and_its_parents(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "a" / "b")
    store.prepare()
    store.prepare()
    assert (tmp_path / "a" / "b").is_dir()


@pytest.mark.parametrize("mode", [-1, 0o10000, stat.S_IFREG | 0o644])
def test_a_file_mode_beyond_the_permission_bits_is_refused(tmp_path: Path, mode: int) -> None:
    with pytest.raises(ValueError, match="file_mode"):
        DirectoryStore(tmp_path, file_mode=mode)


# -- writing --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o444])
def test_files_get_the_configured_mode_whatever_the_umask(
    tmp_path: Path, umask: Callable[[int], int], mode: int
) -> None:
    umask(0o277)
    store = ready(tmp_path, file_mode=mode)
    store.write("shop_web-0.meta", b"{}")
    assert stat.S_IMODE((tmp_path / "shop_web-0.meta").stat().st_mode) == mode
    (tmp_path / "shop_web-0.meta").chmod(0o600 if mode != 0o600 else 0o644)
    store.write("shop_web-0.meta", b"{}")
    assert stat.S_IMODE((tmp_path / "shop_web-0.meta").stat().st_mode) == mode


def test_writes_and_removals_work_with_fsync(tmp_path: Path) -> None:
    store = ready(tmp_path, fsync=True)
    store.write("shop_web-0.meta", b'{"a":1}')
    store.write("shop_web-0.meta", b'{"a":2}')
    store.write("shop.namespace_meta", b"{}")
    store.remove("shop.namespace_meta")
    store.remove("shop.namespace_meta")
    assert (tmp_path / "shop_web-0.meta").read_bytes() == b'{"a":2}'
    assert list(store.names()) == ["shop_web-0.meta"]
    assert temporaries(tmp_path) == []


def test_a_name_of_the_longest_allowed_length_still_gets_its_temporary(tmp_path: Path) -> None:
    name = "n" * (255 - len("_p.meta")) + "_p.meta"
    store = ready(tmp_path)
    store.write(name, b"{}")
    assert list(store.names()) == [name]


@pytest.mark.timeout(120)
def test_a_reader_never_sees_a_partial_document(tmp_path: Path) -> None:
    store = ready(tmp_path)
    names = ["shop_web-0.meta", "shop_web-1.meta", "shop.namespace_meta"]
    sizes = random.Random(0)
    rewrites = 3000
    done = threading.Event()
    problems: list[str] = []
    parsed = 0

    def read_everything() -> None:
        nonlocal parsed
        last_seq = dict.fromkeys(names, -1)
        while not done.is_set():
            for name in store.names():
                try:
                    with (tmp_path / name).open("rb") as file:
                        document = json.loads(file.read())
                except (OSError, ValueError) as error:
                    problems.append(f"{name}: {error!r}")
                    return
                if len(document["pad"]) != document["size"] or document["seq"] < last_seq[name]:
                    problems.append(f"{name}: inconsistent or older document {document['seq']}")
                    return
                last_seq[name] = document["seq"]
                parsed += 1

    reader = threading.Thread(target=read_everything)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the writer gets the GIL back soon after each system call
    reader.start()
    try:
        for seq in range(rewrites):
            size = sizes.randint(100, 50_000)
            document = {"seq": seq, "size": size, "pad": "x" * size}
            store.write(names[seq % len(names)], json.dumps(document).encode())
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(switch_interval)
    assert problems == []
    assert parsed > 1000, "the reader hardly ran, so the test proved nothing"
    assert temporaries(tmp_path) == []


# -- leftovers ------------------------------------------------------------------------------


def test_stale_temporaries_are_never_listed_and_are_removed_at_start(tmp_path: Path) -> None:
    (tmp_path / "shop_web-0.meta").write_bytes(b"{}")
    (tmp_path / ".tmp-shop_web-0.meta-0123456789ab").write_bytes(b'{"half')
    (tmp_path / ".tmp-shop.namespace_meta-ba9876543210").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"kept")
    (tmp_path / ".hidden").write_bytes(b"kept")
    (tmp_path / ".tmp-a-directory").mkdir()
    store = DirectoryStore(tmp_path)
    assert list(store.names()) == ["shop_web-0.meta"]
    assert store.remove_stale_temporaries() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".hidden",
        ".tmp-a-directory",
        "notes.txt",
        "shop_web-0.meta",
    ]
    assert store.remove_stale_temporaries() == 0


def test_names_lists_regular_files_only(tmp_path: Path) -> None:
    (tmp_path / "shop_web-0.meta").write_bytes(b"{}")
    (tmp_path / "shop_dir-0.meta").mkdir()
    (tmp_path / "shop_link-0.meta").symlink_to(tmp_path / "shop_web-0.meta")
    assert list(DirectoryStore(tmp_path).names()) == ["shop_web-0.meta"]


# -- failures -------------------------------------------------------------------------------


def test_a_failed_rename_keeps_its_errno_and_removes_the_temporary(tmp_path: Path) -> None:
    store = ready(tmp_path)
    (tmp_path / "shop_web-0.meta").mkdir()
    with pytest.raises(IsADirectoryError) as raised:
        store.write("shop_web-0.meta", b"{}")
    assert raised.value.errno == errno.EISDIR
    assert temporaries(tmp_path) == []


def test_a_directory_that_is_a_file_fails_with_enotdir(tmp_path: Path) -> None:
    (tmp_path / "preload").write_bytes(b"")
    store = DirectoryStore(tmp_path / "preload")
    with pytest.raises(NotADirectoryError) as raised:
        store.write("shop_web-0.meta", b"{}")
    assert raised.value.errno == errno.ENOTDIR
    with pytest.raises(FileExistsError):
        store.prepare()
    assert (tmp_path / "preload").read_bytes() == b""


def test_an_unwritable_directory_fails_with_eacces_and_keeps_the_original() -> None:
    # Not under tmp_path: nobody may not enter pytest's 0700 base directory, and the test
    # is about the store's own directory refusing the write.
    directory = Path(tempfile.mkdtemp(prefix="pod-meta-exporter-test-"))
    try:
        store = ready(directory)
        store.write("shop_web-0.meta", b'{"v":1}')
        directory.chmod(0o555)
        with as_nobody_if_root(), pytest.raises(PermissionError) as raised:
            store.write("shop_web-0.meta", b'{"v":2}')
        assert raised.value.errno == errno.EACCES
        assert (directory / "shop_web-0.meta").read_bytes() == b'{"v":1}'
        assert temporaries(directory) == []
    finally:
        directory.chmod(0o700)
        shutil.rmtree(directory)


def test_a_read_only_filesystem_fails_with_erofs_and_keeps_the_original(
    tmpfs: Callable[[str], Path],
) -> None:
    directory = tmpfs("size=1m")
    store = ready(directory)
    store.write("shop_web-0.meta", b'{"v":1}')
    remount_read_only(directory)
    with pytest.raises(OSError, match="Read-only") as raised:
        store.write("shop_web-0.meta", b'{"v":2}')
    assert raised.value.errno == errno.EROFS
    with pytest.raises(OSError, match="Read-only"):
        store.remove("shop_web-0.meta")
    assert (directory / "shop_web-0.meta").read_bytes() == b'{"v":1}'
    assert temporaries(directory) == []


@pytest.mark.parametrize("fsync", [False, True])
def test_a_full_filesystem_fails_with_enospc_keeps_the_original_and_leaves_no_temporary(
    tmpfs: Callable[[str], Path], fsync: bool
) -> None:
    directory = tmpfs("size=64k")
    store = ready(directory, fsync=fsync)
    original = json.dumps({"v": 1, "pad": "o" * 8000}).encode()
    store.write("shop_web-0.meta", original)
    with pytest.raises(OSError, match="No space") as raised:
        store.write("shop_web-0.meta", json.dumps({"v": 2, "pad": "n" * 200_000}).encode())
    assert raised.value.errno == errno.ENOSPC
    assert (directory / "shop_web-0.meta").read_bytes() == original
    assert temporaries(directory) == []
    store.write("shop_web-0.meta", b'{"v":3}')
    assert (directory / "shop_web-0.meta").read_bytes() == b'{"v":3}'
