"""Every manifest of deploy/ passes a server-side dry run against the real API server."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import pytest
import yaml

from support import manifests
from support.manifests import (
    BASE_DIR,
    CONTAINER_RUNTIME_DIR,
    E2E_OVERLAY_DIR,
    HELM_CONTAINER_RUNTIME_VALUES,
    HELM_VALUES,
    NAMESPACE_METADATA_DIR,
)

if TYPE_CHECKING:
    from pathlib import Path

    from support.kubeapi import Json, KubeApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60), pytest.mark.usefixtures("deploy_rbac")]

KUSTOMIZATIONS = {
    "base": BASE_DIR,
    "namespace-metadata": NAMESPACE_METADATA_DIR,
    "container-runtime": CONTAINER_RUNTIME_DIR,
    "e2e-overlay": E2E_OVERLAY_DIR,
}
# Strict: an unknown or duplicated field is an error, not silently dropped.
DRY_RUN = "dryRun=All&fieldValidation=Strict"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS.values(), ids=KUSTOMIZATIONS.keys())
def test_every_rendered_manifest_passes_a_server_side_dry_run(admin: KubeApi, directory: Path) -> None:
    objects = manifests.render(directory)
    assert objects
    for obj in objects:
        status, answer = dry_run(admin, obj)
        assert status in {200, 201}, f"{obj['kind']}/{obj['metadata']['name']}: HTTP {status}: {answer}"
        assert answer["kind"] == obj["kind"]


@pytest.mark.parametrize(
    "files", [(HELM_VALUES,), (HELM_VALUES, HELM_CONTAINER_RUNTIME_VALUES)], ids=["base", "runtime"]
)
def test_the_helm_values_sidecar_passes_a_server_side_dry_run_as_a_pod(
    admin: KubeApi, files: tuple[Path, ...]
) -> None:
    values: Json = {}
    for path in files:  # as `helm -f a -f b` merges them: lists are replaced whole
        values |= yaml.safe_load(path.read_text())
    (sidecar,) = values["extraContainers"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helm-sidecar", "namespace": "logging"},
        "spec": {"containers": [sidecar], "volumes": values["extraVolumes"]},
    }

    status, answer = dry_run(admin, pod)

    assert status == 201, answer
    assert answer["spec"]["containers"][0]["name"] == "pod-meta-exporter"


def test_the_dry_run_rejects_a_misspelled_field(admin: KubeApi) -> None:
    (daemonset,) = (o for o in manifests.render(BASE_DIR) if o["kind"] == "DaemonSet")
    broken = copy.deepcopy(daemonset)
    broken["spec"]["template"]["spec"]["containers"][1]["imagePullPolcy"] = "Always"

    status, answer = dry_run(admin, broken)

    assert status == 400, answer
    assert "imagePullPolcy" in answer["message"]


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
