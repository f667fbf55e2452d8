"""The integration tier: a real etcd + kube-apiserver per session, deploy/ rendered by the real kustomize,
deploy/'s RBAC, exporter subprocesses."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from integration import harness
from support import identity, manifests
from support.control_plane import (
    Binaries,
    ControlPlane,
    ControlPlaneError,
    ensure_binaries,
    find_binaries,
    locate,
)
from support.kubeapi import Json, KubeApi
from support.kubeconfig import write_kubeconfig
from support.tiers import Tier
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent

CLUSTER_ROLE = "fluent-bit"

TIER = Tier("integration tier", HERE)
pytest_runtest_makereport = TIER.pytest_runtest_makereport
pytest_terminal_summary = TIER.pytest_terminal_summary
summary = TIER.summary


# --- running the tier at all -----------------------------------------------------------------


@functools.cache
def control_plane_binaries() -> Binaries | str:
    """kube-apiserver and etcd (built once where only Go is there), or why the tier cannot run."""
    try:
        binaries = ensure_binaries()
    except ControlPlaneError as error:  # an override naming no executable, or a failed build
        return str(error)
    return binaries or "no kube-apiserver/etcd binaries (make controlplane) and no Go to build them"


def _will_build() -> bool:
    try:
        missing = find_binaries() is None or locate("kustomize") is None
    except ControlPlaneError:
        return False
    return missing and shutil.which("go") is not None


def pytest_collection_finish(session: pytest.Session) -> None:
    # Before the first test, so that a cold build (minutes) counts against no test's timeout.
    if not TIER.in_session(session):
        return
    if _will_build():
        TIER.announce(session, "building kube-apiserver, etcd and kustomize with Go, once (minutes)")
    control_plane_binaries()
    manifests.kustomize()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    TIER.require(control_plane_binaries())
    TIER.require(manifests.kustomize())


# --- the control plane -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def control_plane(pytestconfig: pytest.Config) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver (and its admin kubeconfig, control_plane.kubeconfig_path), with a Node
    object per simulated node, auditing deploy/'s ServiceAccount's requests; closed, its processes
    gone, even after failures."""
    binaries = control_plane_binaries()
    assert not isinstance(binaries, str), binaries  # pytest_runtest_setup skipped the test
    with ControlPlane(
        binaries, apiserver_args=harness.APISERVER_ARGS, audited_user=identity.SERVICE_ACCOUNT_USER
    ) as control_plane:
        admin = control_plane.admin
        wait_for(lambda: admin.call("GET", "/readyz").status == 200, timeout=30, what="/readyz")
        for node in harness.NODES:
            admin.expect(
                "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}
            )
        logs = "control plane logs (tail)"
        TIER.attach_log(pytestconfig, logs, lambda: control_plane.dump_logs(40))  # while its logs exist
        try:
            yield control_plane
        finally:
            TIER.detach_log(pytestconfig, logs)


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> KubeApi:
    """system:masters: for the tests' own changes, never for the exporter."""
    return control_plane.admin


# --- the exporter's identity: deploy/'s RBAC, through the API --------------------------------


def cluster_role(directory: Path) -> Json:
    (role,) = (obj for obj in identity.rbac_objects(directory) if obj["kind"] == "ClusterRole")
    return role


@pytest.fixture(scope="session")
def deploy_rbac(admin: KubeApi) -> None:
    """deploy/fluent-bit's Namespace, ServiceAccount, ClusterRole and binding, created through the API."""
    identity.create_deploy_rbac(admin)


@pytest.fixture(scope="session")
def service_account_token(admin: KubeApi, deploy_rbac: None) -> str:
    """A token for deploy/'s ServiceAccount, from the TokenRequest API."""
    return identity.service_account_token(admin)


@pytest.fixture(scope="session")
def exporter_kubeconfig(
    control_plane: ControlPlane, service_account_token: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The ServiceAccount's kubeconfig: the server, the test CA (TLS verified) and its token."""
    return write_kubeconfig(
        tmp_path_factory.mktemp("identity") / "exporter.kubeconfig",
        server=control_plane.server_url,
        ca_file=control_plane.ca_file,
        token=service_account_token,
        user=identity.SERVICE_ACCOUNT_USER,
    )


@pytest.fixture(scope="session")
def exporter_kube(control_plane: ControlPlane, service_account_token: str) -> Iterator[KubeApi]:
    """The exporter's identity, for checking what it may do."""
    with KubeApi(
        server=control_plane.server_url, ssl_context=control_plane.ssl_context, token=service_account_token
    ) as kube:
        yield kube


@pytest.fixture
def namespace_metadata_role(admin: KubeApi, exporter_kube: KubeApi) -> Iterator[Json]:
    """The namespace-metadata overlay's ClusterRole in place of the base's, for one test."""
    path = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{CLUSTER_ROLE}"
    role = cluster_role(manifests.NAMESPACE_METADATA_DIR)
    admin.expect("PUT", path, role)
    try:
        # The authorizer reads RBAC from an informer: wait until it has seen the change.
        wait_for(
            lambda: harness.can(exporter_kube, verb="watch", resource="namespaces"), what="namespaces allowed"
        )
        yield role
    finally:
        admin.expect("PUT", path, cluster_role(manifests.BASE_DIR))
        wait_for(
            lambda: not harness.can(exporter_kube, verb="watch", resource="namespaces"),
            what="namespaces denied",
        )


# --- per test: a namespace and exporters ------------------------------------------------------


@pytest.fixture
def namespace(request: pytest.FixtureRequest, admin: KubeApi) -> Iterator[str]:
    """A namespace of this test's own; its pods are deleted afterwards (without a
    controller-manager the namespace itself can only be marked for deletion)."""
    name = harness.unique_name(request.node.name.removeprefix("test_"))
    harness.create_namespace(admin, name)
    yield name
    harness.delete_pods(admin, name)
    admin.expect("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture
def exporters(
    request: pytest.FixtureRequest, exporter_kubeconfig: Path, tmp_path: Path
) -> Iterator[harness.Exporters]:
    factory = harness.Exporters(kubeconfig=exporter_kubeconfig, tmp_path=tmp_path)
    TIER.attach_log(request.node, "exporter logs (tail)", factory.log_tails)
    try:
        yield factory
    finally:
        factory.stop_all()
