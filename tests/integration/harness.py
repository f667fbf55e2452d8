"""The integration tier's tools: objects to create in the test API server, deploy/'s identity,
exporters started for one test, and server-side dry runs."""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING

from support.exporter import Exporter, InCluster

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from support.kubeapi import Json, KubeApi

NODE = "node-a"  # the exporters' node
OTHER_NODE = "node-b"
NODES = (NODE, OTHER_NODE)
IMAGE = "registry.example/app:1.0"  # never pulled: no kubelet runs
DEFAULT_RETENTION = "3s"  # short, so that tests can wait for removals
# Without a grace period for watches, kube-apiserver does not exit on SIGTERM while a watch is
# open: stop_apiserver() would wait 15s for it and then SIGKILL it.
APISERVER_ARGS = ("--shutdown-watch-termination-grace-period=1s",)


# --- objects ---------------------------------------------------------------------------------


def unique_name(prefix: str, *, limit: int = 63) -> str:
    """A DNS-1123 label: the prefix cut to fit, and a random suffix."""
    cleaned = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")
    suffix = secrets.token_hex(3)
    return f"{cleaned[: limit - len(suffix) - 1].rstrip('-')}-{suffix}"


def create_namespace(kube: KubeApi, name: str) -> Json:
    return kube.expect(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )


def pod_manifest(
    namespace: str,
    name: str,
    *,
    node: str = NODE,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner_references: list[Json] | None = None,
    env: dict[str, str] | None = None,
) -> Json:
    """A pod already bound to a node: no scheduler or kubelet runs, so it stays Pending there."""
    metadata: Json = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if annotations is not None:
        metadata["annotations"] = annotations
    if owner_references is not None:
        metadata["ownerReferences"] = owner_references
    container: Json = {"name": "app", "image": IMAGE}
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"nodeName": node, "containers": [container]},
    }


def create_pod(
    kube: KubeApi,
    namespace: str,
    name: str,
    *,
    node: str = NODE,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner_references: list[Json] | None = None,
    env: dict[str, str] | None = None,
) -> Json:
    """Create the pod; the API's answer (with its uid)."""
    manifest = pod_manifest(
        namespace,
        name,
        node=node,
        labels=labels,
        annotations=annotations,
        owner_references=owner_references,
        env=env,
    )
    return kube.expect("POST", f"/api/v1/namespaces/{namespace}/pods", manifest)


def delete_pod(kube: KubeApi, namespace: str, name: str) -> None:
    """Delete at once: without a kubelet, a graceful deletion would never finish."""
    kube.expect("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0")


def delete_pods(kube: KubeApi, namespace: str) -> None:
    kube.expect("DELETE", f"/api/v1/namespaces/{namespace}/pods?gracePeriodSeconds=0")


def merge_patch(kube: KubeApi, path: str, patch: Json) -> Json:
    return kube.expect("PATCH", path, patch, content_type="application/merge-patch+json")


def uid(obj: Json) -> str:
    value: str = obj["metadata"]["uid"]
    return value


def pod_file(namespace: str, name: str) -> str:
    return f"{namespace}_{name}.meta"


def namespace_file(namespace: str) -> str:
    return f"{namespace}.namespace_meta"


def can(kube: KubeApi, *, verb: str, resource: str, group: str = "", namespace: str = "") -> bool:
    """A SelfSubjectAccessReview: may this identity do it?"""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
        },
    }
    answer = kube.expect("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    return bool(answer["status"].get("allowed"))


class Exporters:
    """Starts exporters for one test; each is stopped (SIGTERM, then SIGKILL) when the test ends."""

    def __init__(self, *, kubeconfig: Path, tmp_path: Path) -> None:
        self._kubeconfig = kubeconfig
        self._tmp_path = tmp_path
        self.started: list[Exporter] = []

    def start(
        self,
        *,
        directory: Path | None = None,
        retention: str = DEFAULT_RETENTION,
        args: tuple[str, ...] = (),
        in_cluster: InCluster | None = None,
        kubeconfig: Path | None = None,
        python_flags: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> Exporter:
        """Start one and wait until its /readyz answers 200: with deploy/'s ServiceAccount's
        kubeconfig (or the one given), or `in_cluster` as in a pod; `env` adds EXPORTER_* variables."""
        number = len(self.started) + 1
        exporter = Exporter(
            name=f"exporter-{number}",
            node=NODE,
            kubeconfig=None if in_cluster else kubeconfig or self._kubeconfig,
            directory=directory or self._tmp_path / "meta",
            log_path=self._tmp_path / f"exporter-{number}.log",
            retention=retention,
            args=args,
            in_cluster=in_cluster,
            python_flags=python_flags,
            env=env,
        )
        self.started.append(exporter)
        exporter.start()
        exporter.wait_ready()
        return exporter

    def stop_all(self) -> None:
        for exporter in self.started:
            exporter.stop()

    def log_tails(self) -> str:
        return "\n".join(f"--- {exporter.name} ---\n{exporter.log_tail(80)}" for exporter in self.started)


# Strict: an unknown or duplicated field is an error, not silently dropped.
DRY_RUN = "dryRun=All&fieldValidation=Strict"


def dry_run(admin: KubeApi, obj: Json) -> tuple[int, Json]:
    """POST to the object's collection; an object the suite itself created (the RBAC) is
    dry-run as a replacement of the live one instead."""
    collection = collection_path(admin, obj)
    reply = admin.call("POST", f"{collection}?{DRY_RUN}", obj)
    if reply.status == 409 and reply.json().get("reason") == "AlreadyExists":
        path = f"{collection}/{obj['metadata']['name']}"
        live = admin.expect("GET", path)
        replacement = copy.deepcopy(obj)
        replacement["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        reply = admin.call("PUT", f"{path}?{DRY_RUN}", replacement)
    return reply.status, reply.json()


def collection_path(admin: KubeApi, obj: Json) -> str:
    """From API discovery: where objects of this kind are created."""
    api_version = obj["apiVersion"]
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    (resource,) = (
        r for r in admin.expect("GET", base)["resources"] if r["kind"] == obj["kind"] and "/" not in r["name"]
    )
    if resource["namespaced"]:
        return f"{base}/namespaces/{obj['metadata']['namespace']}/{resource['name']}"
    return f"{base}/{resource['name']}"
