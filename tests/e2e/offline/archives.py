"""Image archives in the format of `docker save`, written without Docker.

Both `docker load` (Docker 20.10 has no OCI-layout loading) and containerd's `ctr images import`
read this format, so one archive serves the host's engine and the kind node's containerd. An
image here is one uncompressed layer and a config; its ID is the config's digest, so the same
inputs give the same ID and a load of an image already present is skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

ARCHITECTURE = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What a root filesystem holds that is never part of an image: the engine mounts these.
NOT_IN_A_LAYER = ("./dev/*", "./proc/*", "./sys/*", "./run/*", "./tmp/*")


@dataclass(frozen=True)
class Config:
    """The parts of an image's config that the images here set."""

    env: tuple[str, ...] = (DEFAULT_PATH,)
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    user: str | None = None
    working_dir: str | None = None
    stop_signal: str | None = None

    def as_json(self) -> dict[str, object]:
        config: dict[str, object] = {"Env": list(self.env)}
        for key, value in (
            ("Entrypoint", self.entrypoint),
            ("Cmd", self.cmd),
        ):
            if value is not None:
                config[key] = list(value)
        texts = {"User": self.user, "WorkingDir": self.working_dir, "StopSignal": self.stop_signal}
        config |= {key: text for key, text in texts.items() if text is not None}
        return config


def directory_layer(rootfs: Path, layer: Path) -> None:
    """A layer of a root filesystem, as GNU tar writes it: owners by number, extended attributes
    (file capabilities) kept, and nothing of /dev, /proc, /sys, /run or /tmp but the directories."""
    subprocess.run(
        [
            "tar",
            "--create",
            f"--file={layer}",
            f"--directory={rootfs}",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=security.capability",
            "--sort=name",
            *(f"--exclude={pattern}" for pattern in NOT_IN_A_LAYER),
            ".",
        ],
        check=True,
    )


def files_layer(
    layer: Path,
    files: Mapping[str, Path | bytes],
    links: Mapping[str, str] | None = None,
    directories: Mapping[str, int] | None = None,
) -> None:
    """A layer holding `files` (their paths in the image, without the leading slash; executables
    keep their mode), symbolic `links` and `directories` (with their modes), with every parent
    directory, owned by root."""
    links = links or {}
    modes = {parent: 0o755 for path in [*files, *links, *(directories or {})] for parent in _parents(path)}
    modes |= directories or {}
    with tarfile.open(layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory, mode in sorted(modes.items()):
            tar.addfile(_info(directory, tarfile.DIRTYPE, mode))
        for path, source in sorted(files.items()):
            if isinstance(source, bytes):
                tar.addfile(_info(path, tarfile.REGTYPE, 0o644, len(source)), io.BytesIO(source))
            else:
                mode = 0o755 if os.access(source, os.X_OK) else 0o644
                with source.open("rb") as data:
                    tar.addfile(_info(path, tarfile.REGTYPE, mode, source.stat().st_size), data)
        for path, target in sorted(links.items()):
            info = _info(path, tarfile.SYMTYPE, 0o777)
            info.linkname = target
            tar.addfile(info)


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    return info


def write(archive: Path, *, names: tuple[str, ...], layer: Path, config: Config) -> str:
    """The archive of one image from `layer` (moved into it), tagged with each of `names`; its ID."""
    diff_id = "sha256:" + sha256(layer)
    document = json.dumps(
        {
            "architecture": ARCHITECTURE,
            "os": "linux",
            "config": config.as_json(),
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "pod-meta-exporter tests/e2e/offline"}],
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    image_id = hashlib.sha256(document).hexdigest()
    layer_member = f"{diff_id[7:]}/layer.tar"
    manifest = json.dumps(
        [{"Config": f"{image_id}.json", "RepoTags": list(names), "Layers": [layer_member]}]
    ).encode()
    writing = archive.with_name(f".{archive.name}.{os.getpid()}")
    with tarfile.open(writing, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_info(diff_id[7:], tarfile.DIRTYPE, 0o755))
        with layer.open("rb") as data:
            tar.addfile(_info(layer_member, tarfile.REGTYPE, 0o644, layer.stat().st_size), data)
        for member, data_bytes in ((f"{image_id}.json", document), ("manifest.json", manifest)):
            tar.addfile(_info(member, tarfile.REGTYPE, 0o644, len(data_bytes)), io.BytesIO(data_bytes))
    layer.unlink()
    writing.rename(archive)
    return f"sha256:{image_id}"


def image_id(archive: Path) -> str:
    """The ID of the image in an archive written by write()."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        (entry,) = json.load(member)
    return "sha256:" + str(entry["Config"]).removesuffix(".json")


def sha256(path: Path) -> str:
    """The hex sha256 of a file's content, read a MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def with_libraries(binary: Path) -> dict[str, Path]:
    """`binary`'s shared libraries and dynamic loader, as ldd resolves them on this machine, by
    their paths in an image (the paths ldd names, without the leading slash); {} if static."""
    shown = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    if shown.returncode != 0:  # "not a dynamic executable"
        return {}
    found: dict[str, Path] = {}
    for line in shown.stdout.splitlines():
        fields = line.split()
        # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        path = fields[2] if "=>" in fields and len(fields) > 3 else fields[0]
        if path.startswith("/"):
            found[path.lstrip("/")] = Path(path).resolve()
    return found


def copy_tree(source: Path, target: Path) -> None:
    """`source`'s files under `target`, directories merged (kind's base files into a rootfs)."""
    shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
