"""The services of a real Kubernetes node on this machine: containerd and runc run pods for a
kubelet, with the kube-controller-manager and kube-scheduler so that Jobs run as they do for users.

A kubelet against a local API server, as Kubernetes' own node e2e suite runs it. The processes
live in `NodeNamespaces`, the pods' cgroups under a `cgroups.CgroupRoot`. Images are local
(`images.py`), the CNI a bridge on a private subnet, and neither image GC nor eviction runs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from node import images
from node.namespaces import NodeProcess
from support.waiting import wait_for

if TYPE_CHECKING:
    from node.namespaces import NodeNamespaces
    from support.control_plane import ControlPlane
    from support.kubeapi import KubeApi

CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static
POD_SUBNET = "10.88.0.0/24"  # inside the node's network namespace only
UNUSED_CONTAINERD_PLUGINS = [
    *(f"io.containerd.snapshotter.v1.{name}" for name in ("btrfs", "zfs", "devmapper", "aufs")),
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
]


@dataclass(frozen=True)
class NodeBinaries:
    kubelet: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    pause: Path  # ours, tests/node/pause


class NodeServices:
    """containerd, the kubelet, kube-controller-manager and kube-scheduler for one node."""

    def __init__(
        self,
        *,
        name: str,
        binaries: NodeBinaries,
        control_plane: ControlPlane,
        namespaces: NodeNamespaces,
        cgroup_root: str,
    ) -> None:
        """`cgroup_root` must exist in every hierarchy (cgroups.CgroupRoot). The namespaces' work
        dir is the node's."""
        self.name = name
        self.workdir = namespaces.workdir
        self.binaries = binaries
        self.control_plane = control_plane
        self.namespaces = namespaces
        self.cgroup_root = cgroup_root
        self.images: dict[str, images.Image] = {}
        self._processes: list[NodeProcess] = []

    # -- paths --------------------------------------------------------------------------------

    @property
    def containerd_socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def log_paths(self) -> dict[str, Path]:
        return {process.name: process.log_path for process in self._processes}

    @property
    def containers_log_dir(self) -> Path:
        """The node's /var/log/containers, seen from the host."""
        return self.namespaces.var_log / "containers"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._start_containerd()
            self._import_images()
            self._start_kubelet(self.control_plane.admin)
            self._start_controllers()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL), newest first; the namespaces' close() kills
        what is left of the pods."""
        while self._processes:
            self._processes.pop().stop()

    def _spawn(self, name: str, argv: list[str]) -> NodeProcess:
        process = NodeProcess(name, self.namespaces.enter(argv), self.workdir / f"{name}.log")
        self._processes.append(process)
        return process

    def _running(self, process: NodeProcess) -> bool:
        if process.exited() is not None:
            tail = "\n".join(process.log_path.read_text(errors="replace").splitlines()[-30:])
            msg = f"{process.name} exited with {process.exited()}:\n{tail}"
            raise AssertionError(msg)
        return True

    # -- containerd ---------------------------------------------------------------------------

    def _containerd_config(self) -> str:
        root = self.workdir / "containerd"
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        return "\n".join(
            [
                "version = 2",
                f'root = "{root / "root"}"',
                f'state = "{root / "state"}"',
                f"disabled_plugins = {json.dumps(UNUSED_CONTAINERD_PLUGINS)}",
                "[grpc]",
                f'  address = "{self.containerd_socket}"',
                '[plugins."io.containerd.internal.v1.opt"]',
                f'  path = "{root / "opt"}"',
                f"[{cri}]",
                f'  sandbox_image = "{images.PAUSE}"',
                # Root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below ours.
                "  restrict_oom_score_adj = true",
                f"[{cri}.containerd]",
                '  snapshotter = "overlayfs"',
                '  default_runtime_name = "runc"',
                f"[{cri}.containerd.runtimes.runc]",
                '  runtime_type = "io.containerd.runc.v2"',
                f"[{cri}.containerd.runtimes.runc.options]",
                "  SystemdCgroup = false",
                f"[{cri}.cni]",
                f'  bin_dir = "{CNI_BIN_DIR}"',
                f'  conf_dir = "{self.workdir / "cni"}"',
                "",
            ]
        )

    def _cni_config(self) -> dict[str, object]:
        return {
            "cniVersion": "1.0.0",
            "name": "node-tier",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": True,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET}]],
                        "dataDir": str(self.workdir / "cni-ipam"),
                    },
                }
            ],
        }

    def _start_containerd(self) -> None:
        (self.workdir / "cni").mkdir(parents=True)
        (self.workdir / "cni" / "10-node-tier.conflist").write_text(json.dumps(self._cni_config(), indent=2))
        config = self.workdir / "containerd.toml"
        config.write_text(self._containerd_config())
        containerd = self._spawn("containerd", [_which("containerd"), f"--config={config}"])
        wait_for(
            lambda: self._running(containerd) and self._ctr_answers(),
            timeout=30,
            interval=0.1,
            what="containerd to answer",
        )

    def ctr(self, *args: str) -> str:
        return self.namespaces.run(
            [_which("ctr"), f"--address={self.containerd_socket}", "--namespace=k8s.io", *args]
        )

    def _ctr_answers(self) -> bool:
        try:
            self.ctr("version")
        except RuntimeError:
            return False
        return True

    def _import_images(self) -> None:
        directory = self.workdir / "images"
        directory.mkdir()
        for image in (
            images.pause_image(directory, pause_binary=self.binaries.pause),
            images.busybox_image(directory, busybox_binary=BUSYBOX),
        ):
            self.ctr("images", "import", str(image.archive))
            self.images[image.name] = image

    # -- kubelet ------------------------------------------------------------------------------

    def _kubelet_config(self) -> dict[str, object]:
        resolv_conf = self.workdir / "resolv.conf"
        resolv_conf.write_text("nameserver 127.0.0.1\n")
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": f"/{self.cgroup_root}",
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            # Loopback of the node's network namespace: no port of the host is taken.
            "address": "127.0.0.1",
            "healthzBindAddress": "127.0.0.1",
            "readOnlyPort": 0,
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "resolvConf": str(resolv_conf),
            "imageGCHighThresholdPercent": 100,  # 100 turns image GC off: the images are local
            "evictionHard": {},  # a small or full disk must not evict the tier's pods
            "nodeStatusUpdateFrequency": "5s",
            "serializeImagePulls": False,
        }

    def _start_kubelet(self, admin: KubeApi) -> None:
        config = self.workdir / "kubelet.json"
        config.write_text(json.dumps(self._kubelet_config(), indent=2))
        kubelet = self._spawn(
            "kubelet",
            [
                str(self.binaries.kubelet),
                f"--config={config}",
                f"--kubeconfig={self.control_plane.kubeconfig_path}",
                f"--root-dir={self.workdir / 'kubelet'}",
                f"--cert-dir={self.workdir / 'kubelet-pki'}",
                f"--hostname-override={self.name}",
                f"--node-ip={self.namespaces.node_address}",
                "--v=1",
            ],
        )
        wait_for(
            lambda: self._running(kubelet) and _ready(admin, self.name),
            timeout=90,
            interval=0.25,
            what=f"node {self.name} Ready",
        )

    # -- controllers --------------------------------------------------------------------------

    def _start_controllers(self) -> None:
        pki = self.control_plane.pki_dir
        kubeconfig = f"--kubeconfig={self.control_plane.kubeconfig_path}"
        common = [kubeconfig, "--leader-elect=false", "--secure-port=0"]
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                *common,
                "--use-service-account-credentials=false",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
            ],
        )
        self._spawn("kube-scheduler", [str(self.binaries.kube_scheduler), *common])


def _ready(admin: KubeApi, name: str) -> bool:
    reply = admin.call("GET", f"/api/v1/nodes/{name}")
    if reply.status != 200:
        return False
    conditions = reply.json().get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _which(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        msg = f"{program} is not installed"
        raise FileNotFoundError(msg)
    return path
