"""The kind node image, built here as `kind build node-image` would build it from kindest/base, but
from Debian packages and the binaries the tiers build, with kubeadm's images already inside.

- **Base:** Debian bookworm with systemd, and its containerd 1.6, runc and CNI plugins; kind's own
  base files (entrypoint, systemd units, kubelet drop-ins) from the sigs.k8s.io/kind module that
  builds the kind CLI, installed as kind's images/base/Dockerfile installs them.
- **Kubernetes:** kubelet, kubeadm, kubectl and crictl; kubeadm's images (the control plane,
  kube-proxy, etcd, CoreDNS, pause) preloaded into containerd's store under the names kubeadm
  v1.36.3 asks for, as kind preloads them (`ctr images import --no-unpack`).
- **Changes for this project's machines** (in node/, reviewable as files): containerd's config for
  1.6 with `restrict_oom_score_adj`; kubelet 1.36 allowed on cgroup v1; one bridge network
  instead of kindnetd, so one node; no StorageClass provisioner.
- **Nothing of the host changed:** the node is privileged, so the kernel settings that the kubelet
  writes are shadowed by files at the node's start (offline-entrypoint), and the sysctl.d files
  that systemd would apply to the whole machine are removed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from e2e.offline import archives, images
from e2e.offline.archives import Config
from e2e.offline.debian import Rootfs
from support.processes import in_namespaces_of_its_own
from support.sysctls import KUBELET_SYSCTLS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from e2e.offline.images import Recipe

HERE = Path(__file__).resolve().parent
KIND_MODULE = HERE / "go" / "kind"
# kind's images/base/Dockerfile installs these (less the rootless, NFS, iSCSI and ext4 tools), and
# Debian's containerd, runc and CNI plugins where kind builds its own.
NODE_ROOTFS = Rootfs(
    "bookworm",
    "minbase",
    (
        "systemd",
        "conntrack",
        "iptables",
        "nftables",
        "iproute2",
        "ethtool",
        "util-linux",
        "mount",
        "kmod",
        "libseccomp2",
        "pigz",
        "bash",
        "ca-certificates",
        "jq",
        "procps",
        "containerd",
        "runc",
        "containernetworking-plugins",
    ),
)
ENTRYPOINT = "/usr/local/bin/offline-entrypoint"
# systemd, as the init of a system, raises these to the largest value the kernel takes
# (bump_file_max_and_nr_open in src/core/main.c), container or not.
SYSTEMD_SYSCTLS = ("fs/file-max", "fs/nr_open")


def kind_base_files() -> Path:
    """images/base/files of the sigs.k8s.io/kind module that go/kind pins (downloaded if needed)."""
    shown = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kind"],
        cwd=KIND_MODULE,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(shown.stdout.strip()) / "images" / "base" / "files"


def node_image(preloaded: Sequence[Recipe], log: Callable[[str], None]) -> Recipe:
    version = images.kubernetes_version()
    binaries = {
        "usr/bin/kubelet": images.binary("kubelet"),
        "usr/bin/kubeadm": images.binary("kubeadm"),
        "usr/bin/kubectl": images.binary("kubectl"),
        "usr/local/bin/crictl": images.binary("crictl"),
    }
    base = kind_base_files()

    def build(layer: Path, scratch: Path) -> Config:
        rootfs = scratch / "rootfs"
        NODE_ROOTFS.make(rootfs)
        _install_kind_base(base, rootfs)
        archives.copy_tree(HERE / "node", rootfs)
        for path, source in binaries.items():
            shutil.copy2(source, rootfs / path)
        (rootfs / "kind" / "version").write_text(version)
        _keep_host_settings(rootfs)
        _preload(rootfs, [recipe.ensure(log) for recipe in preloaded], scratch)
        archives.directory_layer(rootfs, layer)
        return Config(
            env=(archives.DEFAULT_PATH, "container=docker"),
            entrypoint=(ENTRYPOINT, "/sbin/init"),
            stop_signal="SIGRTMIN+3",
        )

    return images.Recipe(
        "kind-node",
        (f"local/kind-node:{version}",),
        (
            NODE_ROOTFS.describe(),
            f"kind base files {images.tree_digest(base)}",
            *(f"{path} {images.digest(source)}" for path, source in sorted(binaries.items())),
            *(f"preloaded {recipe.name} {recipe.key()}" for recipe in preloaded),
        ),
        build,
    )


def _install_kind_base(base: Path, rootfs: Path) -> None:
    """What kind's images/base/Dockerfile does with its files and systemd, in the same order."""
    for source in (base / "usr" / "local" / "bin").iterdir():
        shutil.copyfile(source, rootfs / "usr/local/bin" / source.name)
        (rootfs / "usr/local/bin" / source.name).chmod(0o755)
    archives.copy_tree(base / "kind", rootfs / "kind")
    for script in (rootfs / "kind" / "bin").iterdir():
        script.chmod(0o755)
    archives.copy_tree(base / "etc", rootfs / "etc")
    # kind's fuse-overlayfs snapshotter is for rootless Docker, and is not installed here.
    (rootfs / "etc/systemd/system/containerd-fuse-overlayfs.service").unlink()
    systemd = rootfs / "lib/systemd/system"
    for wants in (
        "multi-user.target.wants",
        "local-fs.target.wants",
        "basic.target.wants",
    ):
        for unit in (systemd / wants).glob("*"):
            unit.unlink()
    for unit in [
        *(systemd / "sockets.target.wants").glob("*udev*"),
        *(systemd / "sockets.target.wants").glob("*initctl*"),
    ]:
        unit.unlink()
    (systemd / "sysinit.target.wants" / "systemd-tmpfiles-setup.service").unlink(missing_ok=True)
    for enabled_by_debian in (rootfs / "etc/systemd/system").glob("*.wants"):
        shutil.rmtree(enabled_by_debian)
    with (rootfs / "etc/systemd/journald.conf").open("a") as journald:
        journald.write("ReadKMsg=no\n")
    (rootfs / "sbin/init").symlink_to("/usr/lib/systemd/systemd")
    # systemctl enable kubelet containerd undo-mount-hacks; systemctl mask systemd-binfmt
    enabled = rootfs / "etc/systemd/system/multi-user.target.wants"
    enabled.mkdir()
    for name in ("kubelet.service", "containerd.service", "undo-mount-hacks.service"):
        (enabled / name).symlink_to(f"/etc/systemd/system/{name}")
    (rootfs / "etc/systemd/system/systemd-binfmt.service").symlink_to("/dev/null")
    (rootfs / "etc/kubernetes/manifests").mkdir(parents=True, exist_ok=True)
    # kind's containerd.service runs /usr/local/bin/containerd, its own build; Debian's is in /usr/bin.
    (rootfs / "usr/local/bin/containerd").symlink_to("/usr/bin/containerd")
    # kind's base runtime spec: containerd's default, with kind's hook and no rlimits.
    spec = json.loads(subprocess.run(["ctr", "oci", "spec"], capture_output=True, check=True).stdout)
    spec.setdefault("hooks", {}).setdefault("createContainer", []).append(
        {"path": "/kind/bin/mount-product-files.sh"}
    )
    spec["process"].pop("rlimits", None)
    (rootfs / "etc/containerd/cri-base.json").write_text(json.dumps(spec, indent=2))


def _keep_host_settings(rootfs: Path) -> None:
    """Nothing in the privileged node may change the machine's global kernel settings."""
    # systemd-sysctl would apply Debian's kernel.pid_max and fs.protected_* to the whole machine;
    # kind's own files in /etc/sysctl.d set per-network-namespace values, and stay.
    for conf in (rootfs / "usr/lib/sysctl.d").glob("*.conf"):
        conf.unlink()
    masks = "\n".join(
        [
            *(f"shadow {name} {value}" for name, value in KUBELET_SYSCTLS.items()),
            *(f'shadow {name} "$(cat /proc/sys/{name})"' for name in SYSTEMD_SYSCTLS),
        ]
    )
    script = textwrap.dedent(
        """\
        #!/bin/sh
        # The offline kind node's entrypoint, before kind's. The node is privileged, and at start
        # the kubelet and systemd write kernel settings that no namespace isolates: the machine's
        # own. Each is shadowed here, in the node's mount namespace, by a file: the kubelet's hold
        # the values it wants, so it finds them set; systemd's hold the machine's, and take its
        # writes.
        set -eu
        mkdir -p /kind/sysctl
        shadow() {
            file="/kind/sysctl/$(echo "$1" | tr / .)"
            echo "$2" >"$file"
            mount --bind "$file" "/proc/sys/$1"
        }
        """
    )
    entrypoint = rootfs / ENTRYPOINT.lstrip("/")
    entrypoint.write_text(f'{script}{masks}\nexec /usr/local/bin/entrypoint "$@"\n')
    entrypoint.chmod(0o755)


def _preload(rootfs: Path, archives_to_load: Sequence[Path], scratch: Path) -> None:
    """Import the archives into the node's containerd store, /var/lib/containerd, with this
    machine's containerd (Debian's 1.6, the node's own), in namespaces of its own, unpacking
    nothing: the node's containerd unpacks an image when a container first needs it."""
    state, socket = scratch / "containerd-state", scratch / "containerd.sock"
    config = scratch / "containerd.toml"
    config.write_text(
        "\n".join(
            [
                "version = 2",
                f'root = "{rootfs / "var/lib/containerd"}"',
                f'state = "{state}"',
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
                "[grpc]",
                f'  address = "{socket}"',
                "",
            ]
        )
    )
    imports = "\n".join(
        f"ctr --address {socket} --namespace k8s.io images import --no-unpack --all-platforms {archive}"
        for archive in archives_to_load
    )
    script = textwrap.dedent(
        f"""\
        set -eu
        mount -t tmpfs -o mode=0755 preload-run /run
        containerd --config {config} --log-level warn &
        containerd=$!
        tries=0
        until ctr --address {socket} version >/dev/null 2>&1; do
            tries=$((tries + 1)); [ "$tries" -lt 300 ] || exit 1; sleep 0.1
        done
        """
    )
    subprocess.run(
        in_namespaces_of_its_own(
            ["sh", "-c", f"{script}{imports}\nkill $containerd\nwait $containerd || true\n"], proc=True
        ),
        check=True,
        stdin=subprocess.DEVNULL,
    )
