"""With --namespace-metadata, a namespace's labels reach <ns>.namespace_meta and follow its changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from integration.harness import create_pod, delete_pod, merge_patch, namespace_file, pod_file
from support.waiting import wait_for

if TYPE_CHECKING:
    from integration.harness import Exporters
    from support.exporter import Exporter
    from support.kubeapi import KubeApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

RETENTION = 3.0


@pytest.mark.usefixtures("namespace_metadata_role")
def test_namespace_labels_show_up_in_its_namespace_file_and_follow_label_changes(
    admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    path = f"/api/v1/namespaces/{namespace}"
    served = merge_patch(admin, path, {"metadata": {"labels": {"team": "payments", "tier": "gold"}}})
    exporter = exporters.start(args=("--namespace-metadata",))
    filename = namespace_file(namespace)

    create_pod(admin, namespace, "app-0")  # a namespace file lives while a pod file of it does
    document = exporter.wait_document(filename)
    assert document["metadata"]["labels"] == served["metadata"]["labels"]
    assert document["metadata"]["labels"]["team"] == "payments"
    assert document["metadata"]["uid"] == served["metadata"]["uid"]

    changed = merge_patch(
        admin, path, {"metadata": {"labels": {"team": None, "tier": "silver", "cost": "42"}}}
    )
    assert "team" not in changed["metadata"]["labels"]
    wait_for(
        lambda: labels(exporter, filename) == changed["metadata"]["labels"],
        timeout=10,
        what="the changed labels in the namespace file",
    )

    delete_pod(admin, namespace, "app-0")
    wait_for(
        lambda: not {filename, pod_file(namespace, "app-0")} & exporter.files(),
        timeout=RETENTION + 10,
        what="both files removed after the pod's retention",
    )


def labels(exporter: Exporter, filename: str) -> dict[str, str] | None:
    document = exporter.document(filename)
    return None if document is None else document["metadata"].get("labels")
