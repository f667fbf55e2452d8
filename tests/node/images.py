"""The node tier's two container images, written as single-layer OCI archives for `ctr images import`.

No registry and no Docker: the pause image holds our static `pause` (tests/node/pause), the
workload image Debian's busybox-static with links for the few commands the pods run. Archives
are deterministic (fixed mtimes and owners), so an image's ID is the same on every run.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PAUSE = "docker.io/local/pause:1"
BUSYBOX = "docker.io/local/busybox:1"
BUSYBOX_COMMANDS = ("sh", "echo", "sleep", "cat", "date", "true", "false")

_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class Image:
    name: str
    archive: Path
    config_digest: str  # what the kubelet reports as imageID for a locally imported image


def _tar_info(
    name: str, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o755, size: int = 0
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    return info


def _layer(files: dict[str, bytes], links: dict[str, str]) -> bytes:
    """An uncompressed layer: the directories, the files (executable), and symlinks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({part for path in [*files, *links] for part in _parents(path)})
        for directory in directories:
            tar.addfile(_tar_info(directory, kind=tarfile.DIRTYPE))
        for path, data in sorted(files.items()):
            tar.addfile(_tar_info(path, size=len(data)), io.BytesIO(data))
        for path, target in sorted(links.items()):
            info = _tar_info(path, kind=tarfile.SYMTYPE, mode=0o777)
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    tar.addfile(_tar_info(f"blobs/sha256/{digest[7:]}", mode=0o644, size=len(data)), io.BytesIO(data))
    return digest


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def write_archive(
    path: Path,
    *,
    name: str,
    files: dict[str, bytes],
    links: dict[str, str] | None = None,
    entrypoint: list[str] | None = None,
    cmd: list[str] | None = None,
) -> Image:
    """An OCI image layout in a tar, with `name` as its containerd image name."""
    architecture = _ARCHITECTURES.get(platform.machine(), platform.machine())
    layer = _layer(files, links or {})
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = _json(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Entrypoint": entrypoint, "Cmd": cmd},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    )
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        layer_blob = _blob(tar, layer)
        config_digest = _blob(tar, config)
        manifest = _json(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_blob,
                        "size": len(layer),
                    }
                ],
            }
        )
        manifest_digest = _blob(tar, manifest)
        index = _json(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": manifest_digest,
                        "size": len(manifest),
                        "platform": {"architecture": architecture, "os": "linux"},
                        "annotations": {
                            "io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
                        },
                    }
                ],
            }
        )
        layout = _json({"imageLayoutVersion": "1.0.0"})
        for member, data in (("oci-layout", layout), ("index.json", index)):
            tar.addfile(_tar_info(member, mode=0o644, size=len(data)), io.BytesIO(data))
    return Image(name=name, archive=path, config_digest=config_digest)


def pause_image(directory: Path, *, pause_binary: Path) -> Image:
    return write_archive(
        directory / "pause.tar",
        name=PAUSE,
        files={"pause": pause_binary.read_bytes()},
        entrypoint=["/pause"],
    )


def busybox_image(directory: Path, *, busybox_binary: Path) -> Image:
    return write_archive(
        directory / "busybox.tar",
        name=BUSYBOX,
        files={"bin/busybox": busybox_binary.read_bytes()},
        links={f"bin/{command}": "busybox" for command in BUSYBOX_COMMANDS},
        cmd=["sh"],
    )
