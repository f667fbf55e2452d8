"""Every manifest of deploy/ passes a server-side dry run against the real API server."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import pytest
import yaml

from integration.harness import dry_run
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
