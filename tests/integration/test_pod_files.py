"""Pod files against the real API server: written at once, kept for the retention, then removed."""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from integration import harness
from integration.harness import create_pod, delete_pod, pod_file, uid
from support.manifests import REPO
from support.waiting import wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from integration.harness import Exporters
    from support.kubeapi import KubeApi

pytestmark = pytest.mark.integration

RETENTION = 3.0  # seconds; --retention-period=3s, the fixture's default


@pytest.mark.timeout(60)
def test_readyz_is_200_once_synced_and_metrics_serve_the_documented_names(exporters: Exporters) -> None:
    exporter = exporters.start()

    assert exporter.readyz() == 200
    assert exporter.status("/healthz") == 200
    served = exporter.metrics().names
    documented = set(re.findall(r"^\| `(pod_meta_exporter_\w+)` \|", (REPO / "README.md").read_text(), re.M))
    assert len(documented) >= 10
    assert documented <= served, sorted(documented - served)
    assert exporter.value("pod_meta_exporter_ready") == 1
    assert exporter.value("pod_meta_exporter_relists_total", resource="pods") == 1


@pytest.mark.timeout(60)
def test_a_pod_created_and_deleted_within_one_second_gets_its_file_for_the_retention(
    admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    exporter = exporters.start()
    owners = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "nightly",
            "uid": str(uuid.uuid4()),
            "controller": True,
        }
    ]

    began = time.monotonic()
    created = create_pod(
        admin,
        namespace,
        "nightly-x7k2p",
        labels={"app": "nightly", "batch.kubernetes.io/job-name": "nightly"},
        annotations={"fluentbit.io/parser": "json", "team": "data"},
        owner_references=owners,
        env={"DB_PASSWORD": "hunter2-never-on-disk"},
    )
    deleting = time.monotonic()
    delete_pod(admin, namespace, "nightly-x7k2p")
    assert time.monotonic() - began < 1.0

    filename = pod_file(namespace, "nightly-x7k2p")
    document = exporter.wait_document(filename)
    served = created["metadata"]
    fields = ("name", "namespace", "uid", "labels", "annotations", "ownerReferences")
    assert document["metadata"] == {key: served[key] for key in fields}
    assert document["metadata"]["ownerReferences"] == owners
    assert document["spec"] == {"nodeName": harness.NODE}
    assert b"hunter2" not in (exporter.directory / filename).read_bytes()

    wait_for(lambda: filename not in exporter.files(), timeout=RETENTION + 10, what=f"{filename} removed")
    assert time.monotonic() - deleting >= RETENTION
    assert exporter.value("pod_meta_exporter_files_removed_total") >= 1


@pytest.mark.timeout(60)
def test_a_pod_bound_to_another_node_never_gets_a_file(
    admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    # A long retention: had the exporter ever written the other node's pod, its file would still be there.
    exporter = exporters.start(retention="1m")

    create_pod(admin, namespace, "elsewhere", node=harness.OTHER_NODE)
    create_pod(admin, namespace, "here-1")
    wait_for(lambda: pod_file(namespace, "here-1") in exporter.files(), timeout=10, what="here-1's file")
    harness.merge_patch(
        admin, f"/api/v1/namespaces/{namespace}/pods/elsewhere", {"metadata": {"labels": {"v": "2"}}}
    )
    delete_pod(admin, namespace, "elsewhere")
    create_pod(admin, namespace, "here-2")
    # The watch is ordered: once here-2 (created last) has its file, every earlier event was handled.
    wait_for(lambda: pod_file(namespace, "here-2") in exporter.files(), timeout=10, what="here-2's file")

    assert namespace_files(exporter.directory, namespace) == {
        pod_file(namespace, "here-1"),
        pod_file(namespace, "here-2"),
    }
    assert exporter.readyz() == 200


@pytest.mark.timeout(60)
def test_a_pod_recreated_under_its_name_during_the_retention_keeps_the_new_pods_file(
    admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    exporter = exporters.start()
    web, marker = pod_file(namespace, "web-0"), pod_file(namespace, "marker")
    old = create_pod(admin, namespace, "web-0")
    create_pod(admin, namespace, "marker")
    wait_for(lambda: exporter.file_uid(web) == uid(old) and marker in exporter.files(), timeout=10)

    delete_pod(admin, namespace, "web-0")
    delete_pod(admin, namespace, "marker")  # after web-0, so its retention ends no earlier
    new = create_pod(admin, namespace, "web-0")
    wait_for(lambda: exporter.file_uid(web) == uid(new), timeout=10, what="the new uid in web-0's file")

    # The marker's file going shows the old web-0's retention is over too.
    wait_for(lambda: marker not in exporter.files(), timeout=RETENTION + 10, what="the marker's removal")
    assert exporter.file_uid(web) == uid(new)
    # The gauge is set just after the removal, in the same pass.
    wait_for(lambda: exporter.value("pod_meta_exporter_pending_removals") == 0, timeout=5, what="0 pending")


@pytest.mark.timeout(90)
def test_after_a_sigkill_the_files_of_pods_deleted_meanwhile_are_adopted_for_the_retention(
    admin: KubeApi, namespace: str, exporters: Exporters, tmp_path: Path
) -> None:
    directory = tmp_path / "meta"
    # Long enough that the adopted files are surely seen before they go.
    retention = 5.0
    first = exporters.start(directory=directory, retention="5s")
    for name in ("gone-0", "gone-1", "gone-2", "stays-0", "stays-1"):
        create_pod(admin, namespace, name)
    wait_for(lambda: len(namespace_files(directory, namespace)) == 5, timeout=10, what="five files")

    delete_pod(admin, namespace, "gone-0")
    create_pod(admin, namespace, "new-0")
    first.kill()  # while its events may still be in flight
    delete_pod(admin, namespace, "gone-1")
    create_pod(admin, namespace, "new-1")
    delete_pod(admin, namespace, "gone-2")
    create_pod(admin, namespace, "new-2")

    second = exporters.start(directory=directory, retention="5s")
    gone = {pod_file(namespace, f"gone-{i}") for i in range(3)}
    live = {pod_file(namespace, name) for name in ("stays-0", "stays-1", "new-0", "new-1", "new-2")}
    wait_for(
        lambda: namespace_files(directory, namespace) == gone | live, timeout=10, what="adopted and new files"
    )
    assert second.hidden_files() == set()  # a temporary the kill left behind is removed at start

    wait_for(
        lambda: namespace_files(directory, namespace) == live,
        timeout=retention + 10,
        what="adopted files removed",
    )
    assert time.monotonic() - second.started_at >= retention
    assert second.readyz() == 200


def namespace_files(directory: Path, namespace: str) -> set[str]:
    return {path.name for path in directory.iterdir() if path.name.startswith(f"{namespace}_")}


@pytest.mark.timeout(60)
def test_sigterm_ends_a_live_watch_within_two_seconds_and_leaves_the_files(
    admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    exporter = exporters.start(retention="1h")
    create_pod(admin, namespace, "steady")
    wait_for(lambda: pod_file(namespace, "steady") in exporter.files(), timeout=10, what="the pod's file")
    assert exporter.readyz() == 200  # synced, with its watch connected to the API server

    began = time.monotonic()
    status = exporter.stop(timeout=5.0)
    elapsed = time.monotonic() - began

    assert status == 0
    assert elapsed < 2.0
    assert pod_file(namespace, "steady") in exporter.files()
