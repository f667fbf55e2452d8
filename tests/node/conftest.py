"""The node tier: a real kubelet, containerd and runc on this machine run short-lived pods, and a
Fluent Bit reader checks each container's log link against the exporter's files."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from integration import harness
from node import workloads
from node.namespaces import NodeNamespaces
from node.reader import FluentBitReader
from node.services import BUSYBOX, CNI_BIN_DIR, NodeBinaries, NodeServices
from support import cgroups, host_state, identity, manifests
from support.control_plane import (
    Binaries,
    ControlPlane,
    ControlPlaneError,
    ensure_binaries,
    locate,
    run_build_script,
)
from support.exporter import Exporter, InCluster
from support.pause import build_pause
from support.processes import tail
from support.tiers import Tier
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from support.kubeapi import KubeApi

HERE = Path(__file__).resolve().parent
NODE_NAME = "tier-node"
RETENTION = "10s"
NODE_BINARIES = ("kubelet", "kube-controller-manager", "kube-scheduler")
# Debian packages (installed by scripts/install-node-runtime.sh) and util-linux/iproute2.
TOOLS = ("containerd", "ctr", "runc", "iptables", "unshare", "nsenter", "mount", "ip")
FILES = (CNI_BIN_DIR / "bridge", CNI_BIN_DIR / "host-local", BUSYBOX)

TIER = Tier("node tier", HERE)
pytest_runtest_makereport = TIER.pytest_runtest_makereport
pytest_terminal_summary = TIER.pytest_terminal_summary
summary = TIER.summary


# --- running the tier at all -----------------------------------------------------------------


@functools.cache
def requirements() -> tuple[Binaries, NodeBinaries] | str:
    """The binaries (built once where only Go is there), or why the tier cannot run here."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux (namespaces, mounts, cgroups)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    missing += [str(path) for path in FILES if not path.exists()]
    if missing:
        return f"missing {', '.join(missing)}: `make node-runtime` installs them from Debian, as root"
    if shutil.which("go") is None:
        return "no Go, to build the kubelet and the pause image"
    try:
        control_plane = ensure_binaries()
        found = [locate(name) for name in NODE_BINARIES]
        if None in found:
            run_build_script(NODE_BINARIES)
            found = [locate(name) for name in NODE_BINARIES]
        pause = build_pause()
    except (ControlPlaneError, subprocess.CalledProcessError) as error:
        return str(error)
    if control_plane is None or None in found:
        return "the Kubernetes binaries could not be built"
    kubelet, controller_manager, scheduler = (path for path in found if path is not None)
    return control_plane, NodeBinaries(kubelet, controller_manager, scheduler, pause)


def pytest_collection_finish(session: pytest.Session) -> None:
    # Before the first test, so that a cold build (minutes) counts against no test's timeout.
    if not TIER.in_session(session):
        return
    if _will_build():
        TIER.announce(session, "building the kubelet and its controllers with Go, once (minutes)")
    requirements()
    manifests.kustomize()


def _will_build() -> bool:
    try:
        return shutil.which("go") is not None and None in [locate(n) for n in NODE_BINARIES]
    except ControlPlaneError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    TIER.require(requirements())
    TIER.require(manifests.kustomize())  # deploy/'s RBAC and the deployed Fluent Bit's settings


# --- the machine, the node and the control plane ----------------------------------------------


@pytest.fixture(scope="session")
def binaries() -> tuple[Binaries, NodeBinaries]:
    found = requirements()
    assert not isinstance(found, str), found  # pytest_runtest_setup skipped the test
    return found


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="node-tier-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def clean_host(binaries: object) -> Iterator[host_state.HostState]:
    """The machine as it was; after the whole tier, it must be so again (the teardown fails if not)."""
    cgroups.remove_stale(cgroups.NODE_PREFIX)
    before = host_state.HostState.read()
    yield before
    changes = host_state.HostState.read().changes_since(before)
    assert not changes, "the node tier left this on the machine:\n" + "\n".join(changes)


@pytest.fixture(scope="session")
def cgroup_root(clean_host: object, workdir: Path) -> Iterator[cgroups.CgroupRoot]:
    root = cgroups.CgroupRoot(workdir.name.removeprefix("node-tier-"))
    root.create()
    yield root
    root.remove()  # after the namespaces, so after every process in them


@pytest.fixture(scope="session")
def namespaces(
    cgroup_root: object, workdir: Path, binaries: tuple[Binaries, NodeBinaries]
) -> Iterator[NodeNamespaces]:
    spaces = NodeNamespaces(
        workdir=workdir / "node", init_binary=binaries[1].pause, link_name=f"pme{secrets.token_hex(4)}"
    )
    try:
        spaces.start()
        yield spaces
    finally:
        ids = {spaces.namespace_id(kind) for kind in ("mnt", "net", "pid")} if spaces.init_pid else set()
        spaces.close()
        left = host_state.processes_in(ids)
        assert not left, f"processes left in the node's namespaces: {left}"


@pytest.fixture(scope="session")
def control_plane(
    pytestconfig: pytest.Config,
    namespaces: NodeNamespaces,
    workdir: Path,
    binaries: tuple[Binaries, NodeBinaries],
) -> Iterator[ControlPlane]:
    """kube-apiserver on the host's end of the node's link, with the ServiceAccount admission
    that the integration tier turns off: here a controller-manager creates the accounts."""
    args = [*harness.APISERVER_ARGS, "--disable-admission-plugins="]
    with ControlPlane(
        binaries[0], apiserver_args=args, address=namespaces.host_address, workdir=workdir / "control-plane"
    ) as plane:
        TIER.attach_log(pytestconfig, "control plane logs (tail)", lambda: plane.dump_logs(40))
        yield plane


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> KubeApi:
    return control_plane.admin


@pytest.fixture(scope="session")
def node(
    pytestconfig: pytest.Config,
    namespaces: NodeNamespaces,
    control_plane: ControlPlane,
    cgroup_root: cgroups.CgroupRoot,
    binaries: tuple[Binaries, NodeBinaries],
) -> Iterator[NodeServices]:
    node = NodeServices(
        name=NODE_NAME,
        binaries=binaries[1],
        control_plane=control_plane,
        namespaces=namespaces,
        cgroup_root=cgroup_root.name,
    )
    TIER.attach_log(
        pytestconfig,
        "node logs (tail)",
        lambda: "\n".join(f"--- {name} ---\n{tail(path, 40)}" for name, path in node.log_paths.items()),
    )
    node.start()
    try:
        yield node
    finally:
        node.close()


# --- the exporter, as deployed, and the reader -------------------------------------------------


def deployed_environment() -> dict[str, str]:
    """The sidecar's EXPORTER_* values from deploy/fluent-bit/daemonset.yaml (not those from the
    downward API); the fixture's flags set the node, the directory, the retention and the port."""
    (daemonset,) = (o for o in manifests.render() if o["kind"] == "DaemonSet")
    containers = daemonset["spec"]["template"]["spec"]["containers"]
    (sidecar,) = (c for c in containers if c["name"] == "pod-meta-exporter")
    return {e["name"]: e["value"] for e in sidecar.get("env", []) if "value" in e}


@pytest.fixture(scope="session")
def deployed_identity(admin: KubeApi) -> None:
    """deploy/'s ServiceAccount and RBAC, which both exporters use."""
    identity.create_deploy_rbac(admin)


@pytest.fixture(scope="session")
def exporter(
    pytestconfig: pytest.Config,
    node: NodeServices,
    admin: KubeApi,
    control_plane: ControlPlane,
    deployed_identity: None,
) -> Iterator[Exporter]:
    """The exporter as deployed by deploy/fluent-bit: the API its only source."""
    yield from _exporter(pytestconfig, "exporter", node=node, admin=admin, control_plane=control_plane)


@pytest.fixture(scope="session")
def runtime_exporter(
    pytestconfig: pytest.Config,
    node: NodeServices,
    admin: KubeApi,
    control_plane: ControlPlane,
    deployed_identity: None,
) -> Iterator[Exporter]:
    """The exporter as deployed with the container-runtime component: the node's containerd as a
    second source."""
    yield from _exporter(
        pytestconfig,
        "runtime-exporter",
        node=node,
        admin=admin,
        control_plane=control_plane,
        env={"EXPORTER_CRI_ENDPOINT": f"unix://{node.containerd_socket}"},
    )


def _exporter(
    pytestconfig: pytest.Config,
    name: str,
    *,
    node: NodeServices,
    admin: KubeApi,
    control_plane: ControlPlane,
    env: dict[str, str] | None = None,
) -> Iterator[Exporter]:
    """The console script as in the deployed pod: deploy/'s ServiceAccount's token and CA at the
    standard path, KUBERNETES_SERVICE_HOST/PORT, and a tmpfs directory as the deployed emptyDir."""
    scratch = Path(tempfile.mkdtemp(prefix="node-tier-", dir="/dev/shm"))
    in_cluster = InCluster.prepare(
        scratch / "serviceaccount",
        server=control_plane.server_url,
        ca_file=control_plane.ca_file,
        token=identity.service_account_token(admin),
    )
    (scratch / "meta").mkdir()
    running = Exporter(
        name=name,
        kubeconfig=None,
        in_cluster=in_cluster,
        directory=scratch / "meta",
        log_path=node.workdir / f"{name}.log",
        retention=RETENTION,
        node=NODE_NAME,
        env={**deployed_environment(), **(env or {})},
    )
    TIER.attach_log(pytestconfig, f"{name} log (tail)", lambda: running.log_tail(40))
    try:
        running.start()
        running.wait_ready()
        yield running
    finally:
        running.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def reader(node: NodeServices, exporter: Exporter) -> Iterator[FluentBitReader]:
    """What Fluent Bit would read of the API-only exporter's files."""
    wait_for(node.containers_log_dir.is_dir, timeout=30, what="the kubelet's /var/log/containers")
    with FluentBitReader(log_dir=node.containers_log_dir, meta_dir=exporter.directory) as reading:
        yield reading


@pytest.fixture(scope="session")
def runtime_reader(node: NodeServices, runtime_exporter: Exporter) -> Iterator[FluentBitReader]:
    """What Fluent Bit would read of the files of the exporter with the runtime as a second source."""
    wait_for(node.containers_log_dir.is_dir, timeout=30, what="the kubelet's /var/log/containers")
    with FluentBitReader(log_dir=node.containers_log_dir, meta_dir=runtime_exporter.directory) as reading:
        yield reading


@pytest.fixture
def namespace(request: pytest.FixtureRequest, admin: KubeApi, node: NodeServices) -> Iterator[str]:
    """A namespace of the test's own, ready for pods (its ServiceAccount and root CA exist)."""
    name = harness.unique_name(request.node.name.removeprefix("test_"), limit=40)
    harness.create_namespace(admin, name)
    workloads.wait_until_ready_for_pods(admin, name)
    yield name
    admin.expect("DELETE", f"/api/v1/namespaces/{name}")
