"""The composition root: the settings it must be given, and what it builds for each cluster choice."""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from dependency_injector import errors, providers
from prometheus_client import CollectorRegistry

from pod_meta_exporter.adapters.kubernetes.cluster import KubernetesCluster
from pod_meta_exporter.adapters.simulated import SimulatedCluster
from pod_meta_exporter.entrypoints.container import Container
from support import pki
from support.kube_stub import NODE, KubeStub, Listing, pod
from support.kubeconfig import write_kubeconfig
from support.settings import settings_for
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from pod_meta_exporter.entrypoints.http import HealthServer
    from pod_meta_exporter.service.service import Service

IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def write_ca_certificate(path: Path) -> Path:
    """A self-signed CA certificate: the transport loads its CA when it is built."""
    _, certificate = pki.self_signed_ca("test cluster CA")
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def service_account(tmp_path: Path) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("pod-token")
    write_ca_certificate(directory / "ca.crt")
    return directory


@pytest.fixture
def resolve() -> Iterator[Callable[[Container], tuple[Service, HealthServer]]]:
    """The service and the HTTP server of a container; the servers' sockets are closed at the end."""
    servers: list[HealthServer] = []

    def resolve(container: Container) -> tuple[Service, HealthServer]:
        service = container.service()
        servers.append(container.http())
        return service, servers[-1]

    yield resolve
    for server in servers:
        server.server_close()


def test_without_settings_the_container_fails_its_check_and_builds_nothing() -> None:
    container = Container()
    with pytest.raises(errors.Error, match=r'undefined dependencies: "Container\.settings"'):
        container.check_dependencies()
    with pytest.raises(errors.Error, match=r'"Container\.settings" is not defined'):
        container.service()
    with pytest.raises(errors.Error, match=r'"Container\.settings" is not defined'):
        container.http()


def test_settings_must_be_the_validated_settings_object(tmp_path: Path) -> None:
    as_dict = dataclasses.asdict(settings_for(tmp_path, cluster="simulated"))
    with pytest.raises(errors.Error, match="is not an instance of"):
        Container(settings=as_dict).service()


def test_with_settings_every_dependency_is_there(tmp_path: Path) -> None:
    Container(settings=settings_for(tmp_path)).check_dependencies()


def test_the_simulated_cluster_is_built_from_the_settings(
    tmp_path: Path, resolve: Callable[[Container], tuple[Service, HealthServer]]
) -> None:
    container = Container(settings=settings_for(tmp_path, cluster="simulated", namespace_metadata=True))
    service, server = resolve(container)
    assert isinstance(service.cluster, SimulatedCluster)
    assert service.cluster.node_name == NODE
    assert service.cluster.namespace_metadata
    assert service.cluster is container.cluster()
    assert server.port > 0
    assert not server.ready()


def test_in_a_pod_the_kubernetes_cluster_uses_the_service_account(
    tmp_path: Path, service_account: Path, resolve: Callable[[Container], tuple[Service, HealthServer]]
) -> None:
    container = Container(
        settings=settings_for(tmp_path, cluster="kubernetes"),
        environ=providers.Object(IN_A_POD),
        service_account_dir=providers.Object(service_account),
    )
    service, server = resolve(container)
    assert isinstance(service.cluster, KubernetesCluster)
    assert server.port > 0
    assert not service.cluster.is_live()  # built, not started: nothing was asked of the network


def test_without_a_pod_or_kubeconfig_the_kubernetes_cluster_cannot_be_built(tmp_path: Path) -> None:
    container = Container(
        settings=settings_for(tmp_path, cluster="kubernetes"),
        environ=providers.Object({"KUBECONFIG": str(tmp_path / "none")}),
        service_account_dir=providers.Object(tmp_path / "no-service-account"),
    )
    with pytest.raises(ValueError, match="no cluster configuration"):
        container.service()


def test_with_a_kubeconfig_the_service_exports_the_pods_of_its_api_server(
    tmp_path: Path, resolve: Callable[[Container], tuple[Service, HealthServer]]
) -> None:
    with KubeStub() as stub:
        stub.lists("pods", Listing([pod("web-0", "3")], "10"))
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", server=stub.url
        )  # a loopback proxy, as kubectl's
        container = Container(
            settings=settings_for(tmp_path, cluster="kubernetes", kubeconfig=kubeconfig),
            environ=providers.Object(IN_A_POD),  # the kubeconfig given wins
        )
        container.store().prepare()
        service, _ = resolve(container)
        assert isinstance(service.cluster, KubernetesCluster)
        status: list[int] = []
        runner = threading.Thread(target=lambda: status.append(service.run()), daemon=True)
        runner.start()
        try:
            wait_for((tmp_path / "meta" / "default_web-0.meta").exists, what="the listed pod's file")
            wait_for(service.ready, what="ready once watching")
        finally:
            service.stop()
            runner.join(timeout=5)
        assert status == [0]
        assert stub.requests[0].headers["Authorization"] == "Bearer kubeconfig-token"
        assert stub.requests[0].query["fieldSelector"] == f"spec.nodeName={NODE}"


def test_the_metrics_registry_is_per_container() -> None:
    assert isinstance(Container().metrics().registry, CollectorRegistry)
    assert Container().metrics().registry is not Container().metrics().registry
