"""The images the e2e tier runs where no registry is reachable, each built on this machine from
Debian packages, the Go binaries the tiers build, or ../shared, and cached as an archive.

Each image is a Recipe: its names, a description of everything it is made of (versions, package
lists, the digests of the binaries and files that go in, this package's source), and how to build
it. An archive is kept under a key of that description, so a change to any input builds the image
again and nothing else does. Local builds have local names (`local/...`); the official names are
used only where the cluster itself asks for them: the control-plane images that kubeadm runs
under `registry.k8s.io/...`, preloaded into the kind node image.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from e2e.offline import archives
from e2e.offline.archives import Config
from e2e.offline.debian import Rootfs
from support.control_plane import REPO_ROOT, controlplane_versions, locate
from support.pause import build_pause

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

HERE = Path(__file__).resolve().parent
SHARED = REPO_ROOT.parent / "shared"
FLUENT_BIT_VERSION = "5.1.1"
FLUENT_BIT_BINARY = SHARED / "fluent-bit" / "bin" / f"fluent-bit-{FLUENT_BIT_VERSION}-linux-amd64"
BUSYBOX_BINARY = Path("/bin/busybox")  # Debian's busybox-static
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# The local names, which tests/e2e/overlay-local swaps in, and the Dockerfile's bases.
LOCAL_FLUENT_BIT = f"local/fluent-bit:{FLUENT_BIT_VERSION}"
LOCAL_BUSYBOX = "local/busybox:1.35.0"  # Debian bookworm's busybox-static
LOCAL_PYTHON_BUILD = "local/python-build:3.13-trixie"
LOCAL_PYTHON_RUNTIME = "local/python-runtime:3.13-trixie"


def local_build_arguments() -> list[str]:
    """`docker build` arguments for the project's Dockerfile on the local bases, built on the host's
    network (the offline engine gives containers no NAT)."""
    return [
        f"--build-arg=BUILDER_IMAGE={LOCAL_PYTHON_BUILD}",
        f"--build-arg=RUNTIME_IMAGE={LOCAL_PYTHON_RUNTIME}",
        "--network=host",
    ]


# kubeadm v1.36.3's images (cmd/kubeadm/app/constants): the node image holds them under these
# names, so that nothing is pulled.
ETCD_TAG = "3.6.8-0"
COREDNS_TAG = "v1.14.2"
PAUSE_TAG = "3.10.2"

# python3.13's dependencies on trixie, unpacked without their maintainer scripts (as distroless
# does), and so without debconf, which only those scripts use: the runtime base of the
# exporter's image, standing in for gcr.io/distroless/python3-debian13. A library that trixie
# renames fails the image's build, where the Dockerfile runs the exporter once.
PYTHON_RUNTIME_PACKAGES = (
    "gcc-14-base",
    "libgcc-s1",
    "libc6",
    "libexpat1",
    "libzstd1",
    "zlib1g",
    "openssl-provider-legacy",
    "libssl3t64",
    "libpython3.13-minimal",
    "python3.13-minimal",
    "tzdata",
    "netbase",
    "readline-common",
    "media-types",
    "libbz2-1.0",
    "libdb5.3t64",
    "libffi8",
    "liblzma5",
    "libtinfo6",
    "libncursesw6",
    "libreadline8t64",
    "libsqlite3-0",
    "libuuid1",
    "libpython3.13-stdlib",
    "python3.13",
)
NONROOT = 65532  # distroless's "nonroot", the deploy manifests' runAsUser


def cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "pod-meta-exporter" / "e2e"


@functools.cache
def digest(path: Path) -> str:
    """sha256 of a file's content, once per run."""
    return archives.sha256(path)


def tree_digest(root: Path) -> str:
    """sha256 over the relative paths, modes and contents of a directory's files."""
    hashed = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        hashed.update(f"{path.relative_to(root)} {path.stat().st_mode & 0o777:o} {digest(path)}\n".encode())
    return hashed.hexdigest()


# What decides how images are built, besides each recipe's inputs: an edit here builds them again.
BUILDERS = ("archives.py", "debian.py", "images.py", "node_image.py", "node", "kube-proxy")


@functools.cache
def builders_digest() -> str:
    hashed = hashlib.sha256()
    for name in BUILDERS:
        path = HERE / name
        hashed.update(f"{name} {tree_digest(path) if path.is_dir() else digest(path)}\n".encode())
    return hashed.hexdigest()


@dataclass(frozen=True)
class Recipe:
    slug: str  # the archive's file name starts with it
    names: tuple[str, ...]
    inputs: tuple[str, ...]
    build: Callable[[Path, Path], Config]  # writes the layer (first argument) using a scratch dir

    @property
    def name(self) -> str:
        return self.names[0]

    def key(self) -> str:
        text = json.dumps([self.slug, self.names, self.inputs, builders_digest()])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def archive(self) -> Path:
        return cache_dir() / f"{self.slug}-{self.key()}.tar"

    def ensure(self, log: Callable[[str], None]) -> Path:
        """The cached archive, built first if missing; older archives of this image are removed."""
        archive = self.archive()
        if archive.exists():
            return archive
        archive.parent.mkdir(parents=True, exist_ok=True)
        log(f"building {self.name} ({archive.name})")
        with tempfile.TemporaryDirectory(prefix=f"e2e-image-{self.slug}-", dir=archive.parent) as scratch:
            layer = Path(scratch) / "layer.tar"
            config = self.build(layer, Path(scratch))
            archives.write(archive, names=self.names, layer=layer, config=config)
        for stale in archive.parent.glob(f"{self.slug}-*.tar"):
            if stale != archive and re.fullmatch(rf"{re.escape(self.slug)}-[0-9a-f]{{16}}\.tar", stale.name):
                stale.unlink()
        return archive


def binary(name: str) -> Path:
    """A Go binary of the tiers' build cache (scripts/build-controlplane.sh NAME)."""
    found = locate(name)
    if found is None:
        msg = f"{name} is not built: run scripts/build-controlplane.sh {name}"
        raise FileNotFoundError(msg)
    return found


def kubernetes_version() -> str:
    """The release the wrapper module pins (v1.36.3): the images' tags, as kubeadm asks for them."""
    return controlplane_versions()[0]


# --- images of files: a binary, its libraries, a few files ---------------------------------------


def _files_image(
    slug: str,
    name: str,
    files: dict[str, Path],
    *,
    config: Config,
    links: dict[str, str] | None = None,
    directories: dict[str, int] | None = None,
) -> Recipe:
    """An image of `files` (paths in the image) and the shared libraries their binaries need."""

    def build(layer: Path, _scratch: Path) -> Config:
        everything = dict(files)
        for source in files.values():
            if os.access(source, os.X_OK):
                everything.update(archives.with_libraries(source))
        archives.files_layer(layer, everything, links, directories)
        return config

    inputs = tuple(f"{path} {digest(source)}" for path, source in sorted(files.items()))
    layout = json.dumps([links or {}, directories or {}, config.as_json()])
    return Recipe(slug, (name,), (*inputs, layout), build)


def control_plane_image(component: str) -> Recipe:
    """kube-apiserver, kube-controller-manager or kube-scheduler, as kubeadm names and runs it
    (`command: [kube-apiserver, ...]`, found on PATH)."""
    return _files_image(
        component,
        f"registry.k8s.io/{component}:{kubernetes_version()}",
        {f"usr/local/bin/{component}": binary(component)},
        config=Config(),
    )


def etcd_image() -> Recipe:
    return _files_image(
        "etcd", f"registry.k8s.io/etcd:{ETCD_TAG}", {"usr/local/bin/etcd": binary("etcd")}, config=Config()
    )


def coredns_image() -> Recipe:
    return _files_image(
        "coredns",
        f"registry.k8s.io/coredns/coredns:{COREDNS_TAG}",
        {"coredns": binary("coredns")},
        config=Config(entrypoint=("/coredns",)),
    )


def pause_image() -> Recipe:
    return _files_image(
        "pause",
        f"registry.k8s.io/pause:{PAUSE_TAG}",
        {"pause": pause_binary()},
        config=Config(entrypoint=("/pause",)),
    )


def pause_binary() -> Path:
    """The node tier's static pause (tests/node/pause), built into the binary cache."""
    return build_pause()


def busybox_version() -> str:
    """`1.35.0` from "BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary."."""
    shown = subprocess.run([str(BUSYBOX_BINARY)], capture_output=True, text=True, check=False)
    return shown.stdout.split()[1].removeprefix("v")


def busybox_image() -> Recipe:
    tag = LOCAL_BUSYBOX.rpartition(":")[2]
    if busybox_version() != tag:
        msg = f"{BUSYBOX_BINARY} is BusyBox {busybox_version()}, and {LOCAL_BUSYBOX} names {tag}"
        raise ValueError(msg)
    applets = subprocess.run(
        [str(BUSYBOX_BINARY), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    return _files_image(
        "busybox",
        LOCAL_BUSYBOX,
        {"bin/busybox": BUSYBOX_BINARY},
        links={f"bin/{applet}": "busybox" for applet in applets if applet != "busybox"},
        directories={"tmp": 0o1777},
        config=Config(env=("PATH=/bin",), cmd=("sh",)),
    )


def fluent_bit_image() -> Recipe:
    """Fluent Bit from ../shared, where the official image has it, with its libraries."""
    return _files_image(
        "fluent-bit",
        LOCAL_FLUENT_BIT,
        {"fluent-bit/bin/fluent-bit": FLUENT_BIT_BINARY},
        config=Config(entrypoint=("/fluent-bit/bin/fluent-bit",)),
    )


# --- images of Debian root filesystems ------------------------------------------------------------


def _rootfs_image(
    slug: str,
    name: str,
    rootfs: Rootfs,
    *,
    config: Config,
    customize: Callable[[Path], None],
    inputs: Iterable[str] = (),
) -> Recipe:
    def build(layer: Path, scratch: Path) -> Config:
        target = scratch / "rootfs"
        rootfs.make(target)
        customize(target)
        archives.directory_layer(target, layer)
        return config

    return Recipe(slug, (name,), (rootfs.describe(), *inputs, json.dumps(config.as_json())), build)


def kube_proxy_image() -> Recipe:
    """kube-proxy needs iptables, in the backend the node uses (see kube-proxy/iptables-wrapper)."""
    kube_proxy = binary("kube-proxy")
    wrapper = HERE / "kube-proxy" / "iptables-wrapper"

    def customize(rootfs: Path) -> None:
        shutil.copy2(kube_proxy, rootfs / "usr/local/bin/kube-proxy")
        shutil.copy2(wrapper, rootfs / "usr/sbin/iptables-wrapper")
        for command in (
            "iptables",
            "iptables-save",
            "iptables-restore",
            "ip6tables",
            "ip6tables-save",
            "ip6tables-restore",
        ):
            link = rootfs / "usr/sbin" / command
            link.unlink()
            link.symlink_to("iptables-wrapper")

    return _rootfs_image(
        "kube-proxy",
        f"registry.k8s.io/kube-proxy:{kubernetes_version()}",
        Rootfs("bookworm", "minbase", ("iptables",)),
        config=Config(),
        customize=customize,
        inputs=(f"kube-proxy {digest(kube_proxy)}",),
    )


def python_build_image() -> Recipe:
    """The exporter's build stage, standing in for python:3.13-slim-trixie: Python 3.13 and pip.
    It trusts this machine's CA bundle, since the package registries may be reached here through
    a TLS-intercepting proxy; only the wheels it installs reach the runtime image."""

    def customize(rootfs: Path) -> None:
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")

    return _rootfs_image(
        "python-build",
        LOCAL_PYTHON_BUILD,
        Rootfs("trixie", "minbase", ("python3", "python3-pip", "ca-certificates")),
        config=Config(env=(archives.DEFAULT_PATH, "LANG=C.UTF-8", f"PIP_CERT={HOST_CA_BUNDLE}")),
        customize=customize,
        inputs=(f"ca bundle {digest(HOST_CA_BUNDLE)}",),
    )


def python_runtime_image() -> Recipe:
    """The exporter's runtime base, standing in for gcr.io/distroless/python3-debian13:nonroot:
    /usr/bin/python3.13 and its libraries, no shell, no package manager, and a nonroot user."""

    def customize(rootfs: Path) -> None:
        for directory in ("bin", "lib", "lib64", "sbin"):  # merged /usr, which base-files makes
            (rootfs / directory).symlink_to(f"usr/{directory}")
        (rootfs / "etc/passwd").write_text(
            f"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n"
        )
        (rootfs / "etc/group").write_text(f"root:x:0:\nnonroot:x:{NONROOT}:\n")
        home = rootfs / "home/nonroot"
        home.mkdir(parents=True)
        os.chown(home, NONROOT, NONROOT)
        # What python3.13's postinst would do: the standard library, compiled once.
        subprocess.run(
            ["chroot", str(rootfs), "/usr/bin/python3.13", "-m", "compileall", "-q", "/usr/lib/python3.13"],
            check=True,
        )

    return _rootfs_image(
        "python-runtime",
        LOCAL_PYTHON_RUNTIME,
        Rootfs("trixie", "extract", PYTHON_RUNTIME_PACKAGES),
        config=Config(
            env=(archives.DEFAULT_PATH, "LANG=C.UTF-8"),
            user=f"{NONROOT}:{NONROOT}",
            working_dir="/home/nonroot",
        ),
        customize=customize,
    )
