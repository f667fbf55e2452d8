"""The exporter's identity in a test cluster: deploy/'s ServiceAccount and RBAC, created through the
API as an operator applies them, a token for the account, and a kubeconfig that carries it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from support import manifests

if TYPE_CHECKING:
    from pathlib import Path

    from support.kubeapi import Json, KubeApi

SERVICE_ACCOUNT = ("logging", "fluent-bit")  # deploy/fluent-bit/serviceaccount.yaml
SERVICE_ACCOUNT_USER = "system:serviceaccount:logging:fluent-bit"
RBAC_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")


def rbac_objects(directory: Path = manifests.BASE_DIR) -> list[Json]:
    return [obj for obj in manifests.render(directory) if obj["kind"] in RBAC_KINDS]


def create_deploy_rbac(admin: KubeApi) -> None:
    """deploy/fluent-bit's Namespace, ServiceAccount, ClusterRole and binding, created through the API."""
    paths = {
        "Namespace": "/api/v1/namespaces",
        "ServiceAccount": f"/api/v1/namespaces/{SERVICE_ACCOUNT[0]}/serviceaccounts",
        "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    }
    for obj in rbac_objects():
        admin.expect("POST", paths[obj["kind"]], obj)


def service_account_token(admin: KubeApi, *, seconds: int = 3600, bound_to: Json | None = None) -> str:
    """A token for deploy/'s ServiceAccount, from the TokenRequest API; bound to an object, it is
    invalid once that object is deleted, as a pod's token is once the pod is gone."""
    namespace, name = SERVICE_ACCOUNT
    spec: Json = {"expirationSeconds": seconds}
    if bound_to is not None:
        metadata = bound_to["metadata"]
        spec["boundObjectRef"] = {
            "apiVersion": bound_to["apiVersion"],
            "kind": bound_to["kind"],
            "name": metadata["name"],
            "uid": metadata["uid"],
        }
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    answer = admin.expect("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", request)
    token: str = answer["status"]["token"]
    return token
