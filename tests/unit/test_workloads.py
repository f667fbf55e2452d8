"""The owning workload, named from the pod alone: each rule, and names that only look like a match."""

from __future__ import annotations

from typing import Any

import pytest

from pod_meta_exporter.domain.workloads import workload_of


def pod(*owners: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "p", "namespace": "n", "uid": "u"}
    if labels is not None:
        metadata["labels"] = labels
    if owners:
        metadata["ownerReferences"] = list(owners)
    return {"metadata": metadata}


def owner(kind: str, name: str, *, controller: bool | None = True) -> dict[str, Any]:
    reference: dict[str, Any] = {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "x"}
    if controller is not None:
        reference["controller"] = controller
    return reference


def test_a_replicaset_named_for_the_pods_template_hash_stands_for_its_deployment() -> None:
    found = pod(owner("ReplicaSet", "web-7d4b9c8f6d"), labels={"pod-template-hash": "7d4b9c8f6d"})
    assert workload_of(found) == "Deployment/web"


def test_a_deployment_name_with_dashes_keeps_them() -> None:
    found = pod(owner("ReplicaSet", "shop-api-v2-5f6b7"), labels={"pod-template-hash": "5f6b7"})
    assert workload_of(found) == "Deployment/shop-api-v2"


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("web-7d4b9c8f6d", {}),  # looks hashed, but the pod carries no pod-template-hash
        ("web-7d4b9c8f6d", {"pod-template-hash": "5f6b7"}),  # another hash than the name's
        ("web7d4b9c8f6d", {"pod-template-hash": "7d4b9c8f6d"}),  # no dash before it
        ("-7d4b9c8f6d", {"pod-template-hash": "7d4b9c8f6d"}),  # nothing before it
        ("web-7d4b9c8f6d", {"pod-template-hash": ""}),
    ],
)
def test_a_replicaset_whose_name_does_not_end_in_the_pods_hash_stands_for_itself(
    name: str, labels: dict[str, str]
) -> None:
    assert workload_of(pod(owner("ReplicaSet", name), labels=labels)) == f"ReplicaSet/{name}"


def test_a_job_named_for_its_scheduled_minute_stands_for_its_cronjob() -> None:
    # 29,412,345 minutes after the epoch: 2025-12-03 05:45 UTC.
    assert workload_of(pod(owner("Job", "nightly-backup-29412345"))) == "CronJob/nightly-backup"


@pytest.mark.parametrize(
    "name",
    [
        "report-2024",  # a year
        "migrate-7",
        "import-1234567",  # seven digits: before 1989
        "import-123456789",  # nine digits: after 2160
        "import-01234567",  # a leading zero is no minute count
        "batch-2941234a",
        "29412345",  # the number alone
        "-29412345",
    ],
)
def test_a_job_whose_name_merely_ends_in_digits_stands_for_itself(name: str) -> None:
    assert workload_of(pod(owner("Job", name))) == f"Job/{name}"


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_statefulsets_and_daemonsets_stand_for_themselves(kind: str) -> None:
    assert workload_of(pod(owner(kind, "db-29412345"), labels={"pod-template-hash": "29412345"})) == (
        f"{kind}/db-29412345"
    )


def test_any_other_controller_stands_for_itself() -> None:
    assert workload_of(pod(owner("Rollout", "canary-7d4b9"))) == "Rollout/canary-7d4b9"
    assert workload_of(pod(owner("Node", "node-a"))) == "Node/node-a"  # a static pod's mirror


def test_only_the_controller_owner_counts() -> None:
    found = pod(owner("ConfigMap", "keeper", controller=None), owner("StatefulSet", "db"))
    assert workload_of(found) == "StatefulSet/db"


@pytest.mark.parametrize(
    "found",
    [
        pod(),
        pod(owner("ReplicaSet", "web-1", controller=False)),
        pod(owner("ReplicaSet", "web-1", controller=None)),
        {"metadata": {"ownerReferences": "not a list"}},
        {"metadata": {"ownerReferences": [{"controller": True, "kind": "Job"}]}},  # no name
        {"metadata": None},
        {},
    ],
    ids=[
        "no owner",
        "not controller",
        "no controller flag",
        "malformed",
        "nameless",
        "null metadata",
        "empty",
    ],
)
def test_without_a_controller_owner_there_is_no_workload(found: dict[str, Any]) -> None:
    assert workload_of(found) is None
