"""How the exporter reaches the real API server: as in a pod (the service account's token and CA at
their standard path, the official client never imported, a rotated token picked up before the old
one stops working), and with a kubeconfig's client certificate."""

from __future__ import annotations

import base64
import json
import os
import secrets
from typing import TYPE_CHECKING

import pytest

from integration.harness import create_pod, pod_file
from support import identity
from support.exporter import InCluster
from support.kubeapi import Json, KubeApi
from support.waiting import wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from integration.harness import Exporters
    from support.control_plane import ControlPlane

pytestmark = pytest.mark.integration
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: a private mount namespace for the pod's paths"
)

MIN_TOKEN_SECONDS = 600  # the shortest expirationSeconds the API server grants


def _in_cluster(control_plane: ControlPlane, tmp_path: Path, token: str) -> InCluster:
    return InCluster.prepare(
        tmp_path / "serviceaccount",
        server=control_plane.server_url,
        ca_file=control_plane.ca_file,
        token=token,
    )


def _imported(log: str) -> set[str]:
    """The modules `python -X importtime` reported importing."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


@needs_root
@pytest.mark.timeout(60)
def test_in_a_pod_the_exporter_imports_neither_the_official_client_nor_grpc_and_protobuf(
    admin: KubeApi, control_plane: ControlPlane, namespace: str, exporters: Exporters, tmp_path: Path
) -> None:
    in_cluster = _in_cluster(control_plane, tmp_path, identity.service_account_token(admin))
    exporter = exporters.start(in_cluster=in_cluster, python_flags=("-X", "importtime"))

    create_pod(admin, namespace, "web-0")
    document = exporter.wait_document(pod_file(namespace, "web-0"))

    assert document["metadata"]["name"] == "web-0"
    imported = _imported(exporter.log_path.read_text())
    assert "pod_meta_exporter.adapters.kubernetes.incluster" in imported
    assert "pod_meta_exporter.adapters.kubernetes.transport" in imported
    assert sorted(m for m in imported if m == "kubernetes" or m.startswith("kubernetes.")) == []
    # Without --cri-endpoint, the container runtime's client costs nothing (about 20 MiB with it).
    heavy = ("grpc", "google.protobuf", "pod_meta_exporter.adapters.cri")
    assert sorted(m for m in imported if m in heavy or m.startswith(tuple(f"{h}." for h in heavy))) == []


def _secret(admin: KubeApi) -> Json:
    namespace = identity.SERVICE_ACCOUNT[0]
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"token-holder-{secrets.token_hex(3)}"},
    }
    return admin.expect("POST", f"/api/v1/namespaces/{namespace}/secrets", body)


@needs_root
@pytest.mark.timeout(120)
def test_a_rotated_token_keeps_the_watch_going_after_the_old_one_stops_working(
    admin: KubeApi, control_plane: ControlPlane, namespace: str, exporters: Exporters, tmp_path: Path
) -> None:
    # Each token is bound to a Secret: deleting it ends the token at once, as its expiry would
    # (the API server grants no token shorter than ten minutes).
    first_holder, second_holder = _secret(admin), _secret(admin)
    first = identity.service_account_token(admin, seconds=MIN_TOKEN_SECONDS, bound_to=first_holder)
    second = identity.service_account_token(admin, seconds=MIN_TOKEN_SECONDS, bound_to=second_holder)
    in_cluster = _in_cluster(control_plane, tmp_path, first)
    exporter = exporters.start(in_cluster=in_cluster)
    create_pod(admin, namespace, "before")
    exporter.wait_document(pod_file(namespace, "before"))

    in_cluster.write_token(second)  # the kubelet rotates the token
    admin.expect(
        "DELETE",
        f"/api/v1/namespaces/{identity.SERVICE_ACCOUNT[0]}/secrets/{first_holder['metadata']['name']}",
    )
    server, trust = control_plane.server_url, control_plane.ssl_context
    with KubeApi(server=server, ssl_context=trust, token=first) as as_first:
        wait_for(
            lambda: as_first.call("GET", "/api/v1/pods?limit=1").status == 401, what="the first token refused"
        )
    # The API server goes away and comes back: every request from now on needs a valid token.
    control_plane.stop_apiserver()
    control_plane.start_apiserver()

    exporter.wait_ready(timeout=60)
    create_pod(admin, namespace, "after")
    exporter.wait_document(pod_file(namespace, "after"), timeout=30)
    assert exporter.value("pod_meta_exporter_api_errors_total", resource="pods", reason="http_401") == 0


@pytest.mark.timeout(60)
def test_a_kubeconfig_with_a_client_certificate_authenticates_with_it(
    admin: KubeApi, control_plane: ControlPlane, namespace: str, exporters: Exporters, tmp_path: Path
) -> None:
    certificate, key = control_plane.client_certificate
    user = {
        "client-certificate-data": base64.b64encode(certificate.read_bytes()).decode(),
        "client-key-data": base64.b64encode(key.read_bytes()).decode(),
    }  # and no token: without the certificate the exporter would be anonymous, and refused
    cluster = {
        "server": control_plane.server_url,
        "certificate-authority-data": base64.b64encode(control_plane.ca_file.read_bytes()).decode(),
    }
    kubeconfig = tmp_path / "certificate.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": cluster}],
                "users": [{"name": "admin-certificate", "user": user}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin-certificate"}}],
                "current-context": "test",
            }
        )
    )
    exporter = exporters.start(kubeconfig=kubeconfig)

    create_pod(admin, namespace, "web-0")

    assert exporter.wait_document(pod_file(namespace, "web-0"))["metadata"]["name"] == "web-0"
    assert exporter.value("pod_meta_exporter_api_errors_total", resource="pods", reason="http_401") == 0
