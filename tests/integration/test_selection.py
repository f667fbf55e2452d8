"""Label and annotation selection and the workload annotation, end to end against the real API server."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pytest

from integration.harness import create_pod, merge_patch, namespace_file, pod_file, pod_manifest
from support.waiting import wait_for

if TYPE_CHECKING:
    from integration.harness import Exporters
    from support.kubeapi import KubeApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET = "hunter2-never-on-disk"


def applied_with_kubectl(namespace: str, name: str) -> dict[str, str]:
    """The annotation `kubectl apply` leaves on what it creates: the applied manifest, env included."""
    return {LAST_APPLIED: json.dumps(pod_manifest(namespace, name, env={"DB_PASSWORD": SECRET}))}


def owner(kind: str, name: str) -> dict[str, object]:
    group = "batch/v1" if kind == "Job" else "apps/v1"
    return {"apiVersion": group, "kind": kind, "name": name, "uid": str(uuid.uuid4()), "controller": True}


def test_by_default_every_label_and_annotation_reaches_the_file_but_kubectls_last_applied_configuration(
    admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    exporter = exporters.start()
    annotations = {**applied_with_kubectl(namespace, "api-0"), "team": "data", "fluentbit.io/parser": "json"}
    served = create_pod(
        admin, namespace, "api-0", labels={"app": "api"}, annotations=annotations, env={"X": SECRET}
    )

    document = exporter.wait_document(pod_file(namespace, "api-0"))

    assert LAST_APPLIED in served["metadata"]["annotations"]
    assert document["metadata"]["annotations"] == {"team": "data", "fluentbit.io/parser": "json"}
    assert document["metadata"]["labels"] == {"app": "api"}
    assert SECRET.encode() not in (exporter.directory / pod_file(namespace, "api-0")).read_bytes()


@pytest.mark.usefixtures("namespace_metadata_role")
def test_the_selection_shapes_pod_and_namespace_files_and_names_each_pods_workload(
    admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    merge_patch(
        admin,
        f"/api/v1/namespaces/{namespace}",
        {"metadata": {"labels": {"team": "payments", "cost-center": "42"}, "annotations": {"note": "x"}}},
    )
    exporter = exporters.start(
        args=(
            "--namespace-metadata",
            "--labels-include=app.kubernetes.io/*",
            "--labels-include=team,tier",
            "--labels-exclude=*version",
            "--workload-annotation=example.com/workload",
        ),
        env={"EXPORTER_ANNOTATIONS_EXCLUDE": "*", "EXPORTER_CONTENT": "full"},
    )
    labels = {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/version": "1.2",
        "pod-template-hash": "7d4b9c8f6d",
        "tier": "gold",
    }
    annotations = {
        "fluentbit.io/exclude": "true",
        "note": "dropped",
        **applied_with_kubectl(namespace, "web"),
    }
    create_pod(
        admin,
        namespace,
        "web-7d4b9c8f6d-x2x9z",
        labels=labels,
        annotations=annotations,
        owner_references=[owner("ReplicaSet", "web-7d4b9c8f6d")],
    )
    create_pod(
        admin,
        namespace,
        "backup-29412345-abcde",
        labels={"other": "x"},
        owner_references=[owner("Job", "backup-29412345")],
    )

    web = exporter.wait_document(pod_file(namespace, "web-7d4b9c8f6d-x2x9z"))["metadata"]
    assert web["labels"] == {"app.kubernetes.io/name": "web", "tier": "gold"}
    assert web["annotations"] == {"fluentbit.io/exclude": "true", "example.com/workload": "Deployment/web"}
    backup = exporter.wait_document(pod_file(namespace, "backup-29412345-abcde"))["metadata"]
    assert "labels" not in backup  # none selected: no empty map for Fluent Bit to copy
    assert backup["annotations"] == {"example.com/workload": "CronJob/backup"}
    assert exporter.wait_document(namespace_file(namespace))["metadata"]["labels"] == {"team": "payments"}
    assert "annotations" not in exporter.wait_document(namespace_file(namespace))["metadata"]
    for name in exporter.files():
        assert SECRET.encode() not in (exporter.directory / name).read_bytes(), name

    # A label change that the selection lets through reaches the file; one it drops does not.
    path = f"/api/v1/namespaces/{namespace}/pods/web-7d4b9c8f6d-x2x9z"
    merge_patch(admin, path, {"metadata": {"labels": {"tier": None, "app.kubernetes.io/part-of": "shop"}}})
    wait_for(
        lambda: (
            exporter.document(pod_file(namespace, "web-7d4b9c8f6d-x2x9z"))["metadata"]["labels"]  # type: ignore[index]
            == {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}
        ),
        timeout=10,
        what="the new label in the file",
        seen=lambda: exporter.document(pod_file(namespace, "web-7d4b9c8f6d-x2x9z")),
    )
