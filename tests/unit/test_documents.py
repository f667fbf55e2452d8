"""Document profiles: minimal keeps exactly what Fluent Bit reads, in the API's order; full keeps all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pod_meta_exporter.domain import workloads
from pod_meta_exporter.domain.documents import DocumentFormat, DocumentProfile
from pod_meta_exporter.domain.metadata import LAST_APPLIED_CONFIGURATION, KeyFilter, MetadataSelection
from support import podfactory
from support.fluent_bit import fluent_bit_view

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fluent-bit" / "testdata"


def test_minimal_keeps_only_what_fluent_bit_reads_so_env_values_never_reach_the_disk() -> None:
    document = json.loads(DocumentProfile.MINIMAL.pod_document(podfactory.pod(secret_env="hunter2")))
    assert b"hunter2" not in DocumentProfile.MINIMAL.pod_document(podfactory.pod(secret_env="hunter2"))
    assert list(document) == ["metadata", "spec", "status"]
    assert list(document["metadata"]) == [
        "name",
        "namespace",
        "uid",
        "labels",
        "annotations",
        "ownerReferences",
    ]
    assert document["spec"] == {"nodeName": "node-a"}
    assert list(document["status"]) == ["podIP", "containerStatuses"]
    assert list(document["status"]["containerStatuses"][0]) == ["name", "image", "imageID", "containerID"]


def test_minimal_keeps_the_apis_key_order_inside_container_statuses() -> None:
    pod = podfactory.pod()
    pod["status"]["containerStatuses"][0] = {"imageID": "i", "containerID": "c", "name": "app", "image": "x"}
    document = json.loads(DocumentProfile.MINIMAL.pod_document(pod))
    assert list(document["status"]["containerStatuses"][0]) == ["imageID", "containerID", "name", "image"]


def test_minimal_adds_no_key_the_api_left_out() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "uid": "u"}, "spec": {"nodeName": "a"}}
    assert DocumentProfile.MINIMAL.pod_document(pod) == (
        b'{"metadata":{"name":"p","namespace":"n","uid":"u"},"spec":{"nodeName":"a"}}'
    )


def test_a_field_of_an_unexpected_shape_is_kept_as_served() -> None:
    pod = {"metadata": {"uid": "u"}, "status": "weird", "spec": {"nodeName": "a"}}
    pod_with_null = {"metadata": {"uid": "u"}, "status": {"containerStatuses": None}}
    assert json.loads(DocumentProfile.MINIMAL.pod_document(pod))["status"] == "weird"
    assert json.loads(DocumentProfile.MINIMAL.pod_document(pod_with_null))["status"] == {
        "containerStatuses": None
    }


def test_full_keeps_the_object_exactly_and_in_order() -> None:
    pod = podfactory.pod()
    assert (
        DocumentProfile.FULL.pod_document(pod)
        == json.dumps(pod, ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_documents_are_utf8_json_objects() -> None:
    pod = podfactory.pod(labels={"owner": "zoë"})
    content = DocumentProfile.MINIMAL.pod_document(pod)
    assert "zoë".encode() in content
    assert isinstance(json.loads(content), dict)


def test_namespace_documents_keep_labels_and_annotations() -> None:
    namespace = podfactory.namespace(labels={"team": "a"})
    namespace["metadata"]["annotations"] = {"note": "x"}
    minimal = json.loads(DocumentProfile.MINIMAL.namespace_document(namespace))
    assert minimal == {
        "metadata": {
            "name": "shop",
            "uid": namespace["metadata"]["uid"],
            "labels": {"team": "a"},
            "annotations": {"note": "x"},
        }
    }
    assert json.loads(DocumentProfile.FULL.namespace_document(namespace)) == namespace


def _is_pod_document(path: Path) -> bool:
    """Leaves out the empty fixture and the PodList made for Use_Kubelet, which we do not target."""
    document = json.loads(path.read_text())
    return bool(document) and "items" not in document


def _fluent_bit_fixtures() -> list[Path]:
    if not SHARED.is_dir():
        return []
    return [path for path in sorted((SHARED / "meta").glob("*.meta")) if _is_pod_document(path)]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fluent-bit/testdata is absent (a user's clone)")
@pytest.mark.parametrize("meta", _fluent_bit_fixtures(), ids=lambda path: path.name)
def test_both_profiles_give_fluent_bit_the_same_enrichment_on_its_own_fixtures(meta: Path) -> None:
    pod = json.loads(meta.read_text())
    minimal = json.loads(DocumentProfile.MINIMAL.pod_document(pod))
    full = json.loads(DocumentProfile.FULL.pod_document(pod))
    containers = {
        entry["name"]
        for key in ("containerStatuses", "initContainerStatuses")
        for entry in pod.get("status", {}).get(key) or []
    } or {"none"}
    for container in containers:
        assert (
            fluent_bit_view(minimal, container)
            == fluent_bit_view(full, container)
            == fluent_bit_view(pod, container)
        )


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fluent-bit/testdata is absent (a user's clone)")
def test_the_minimal_document_yields_fluent_bits_expected_records() -> None:
    checked = 0
    for out in sorted((SHARED / "out").rglob("*_fluent-bit.out")):
        stem = out.name.removesuffix("_fluent-bit.out")
        meta = SHARED / "meta" / f"{stem}.meta"
        if not meta.exists() or not _is_pod_document(meta):
            continue
        record = json.loads(out.read_text().splitlines()[0])[1]["kubernetes"]
        view = fluent_bit_view(
            json.loads(DocumentProfile.MINIMAL.pod_document(json.loads(meta.read_text()))),
            record["container_name"],
        )
        assert view["pod_id"] == record["pod_id"]
        for key in ("labels", "annotations", "ownerReferences"):  # absent where that test turned it off
            assert key not in record or view[key] == record[key], key
        assert view["host"] == record.get("host")
        assert view["pod_ip"] == record.get("pod_ip")
        statuses = dict(view.get(f"containerStatuses:{record['container_name']}", []))
        assert statuses.get("image") == record.get("container_image")
        # The filter drops the runtime's "scheme://" prefix from imageID and containerID.
        assert str(statuses.get("imageID")).split("://")[-1] == record.get("container_hash")
        assert str(statuses.get("containerID")).split("://")[-1] == record.get("docker_id")
        checked += 1
    assert checked >= 3


# --- With labels and annotations selected ------------------------------------------------------

SELECTIONS = {
    "labels-include": MetadataSelection(labels=KeyFilter(include=("app*", "k8s-app", "team"))),
    "labels-exclude": MetadataSelection(labels=KeyFilter(exclude=("*hash*", "pod-template-*"))),
    "nothing-but-fluent-bits-own": MetadataSelection(
        labels=KeyFilter(exclude=("*",)), annotations=KeyFilter(exclude=("*",))
    ),
    "annotations-include-and-workload": MetadataSelection(
        annotations=KeyFilter(include=("example.com/*", "prometheus.io/*")), workload_annotation="workload"
    ),
}


def _own_fixtures() -> list[dict[str, Any]]:
    """podfactory's pod, and a Deployment's pod with kubectl's last-applied-configuration."""
    deployment_pod = podfactory.pod(
        "web-7d4b9c8f6d-x2x9z", labels={"app": "web", "pod-template-hash": "7d4b9c8f6d"}
    )
    deployment_pod["metadata"]["annotations"] = {
        LAST_APPLIED_CONFIGURATION: json.dumps({"spec": {"containers": [{"env": [{"value": "hunter2"}]}]}}),
        "fluentbit.io/exclude-stderr": "true",
        "prometheus.io/scrape": "true",
    }
    deployment_pod["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-7d4b9c8f6d",
            "uid": "r",
            "controller": True,
        }
    ]
    return [podfactory.pod(), deployment_pod]


def _all_fixtures() -> list[tuple[str, dict[str, Any]]]:
    shared = [(path.name, json.loads(path.read_text())) for path in _fluent_bit_fixtures()]
    return shared + [(f"own-{i}", pod) for i, pod in enumerate(_own_fixtures())]


def _containers(pod: dict[str, Any]) -> set[str]:
    return {
        entry["name"]
        for key in ("containerStatuses", "initContainerStatuses")
        for entry in pod.get("status", {}).get(key) or []
    } or {"none"}


@pytest.mark.parametrize("selection", SELECTIONS.values(), ids=SELECTIONS.keys())
@pytest.mark.parametrize(("name", "pod"), _all_fixtures(), ids=[name for name, _ in _all_fixtures()])
def test_with_a_selection_both_profiles_still_give_the_same_records_carrying_exactly_the_selected_keys(
    name: str, pod: dict[str, Any], selection: MetadataSelection
) -> None:
    minimal = json.loads(DocumentFormat(DocumentProfile.MINIMAL, selection).pod_document(pod))
    full = json.loads(DocumentFormat(DocumentProfile.FULL, selection).pod_document(pod))
    metadata = pod.get("metadata", {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if selection.labels.keeps(k)}
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k.startswith(("fluentbit.io/parser", "fluentbit.io/exclude"))
        or (k != LAST_APPLIED_CONFIGURATION and selection.annotations.keeps(k))
    }
    workload = workloads.workload_of(pod)
    if selection.workload_annotation and workload:
        annotations[selection.workload_annotation] = workload
    for container in _containers(pod):
        view = fluent_bit_view(minimal, container)
        assert view == fluent_bit_view(full, container), name
        assert view["labels"] == _expected_map(metadata.get("labels"), labels)
        assert view["annotations"] == _expected_map(metadata.get("annotations"), annotations)


def _expected_map(served: dict[str, str] | None, kept: dict[str, str]) -> dict[str, str] | None:
    """What is kept; a map emptied by the selection is left out (None), one served empty stays {}."""
    return kept or ({} if served == {} else None)


def test_a_value_strict_json_cannot_hold_is_refused_with_what_it_is() -> None:
    from pod_meta_exporter.domain.documents import Unencodable, encode

    circular: dict[str, object] = {}
    circular["self"] = circular
    with pytest.raises(Unencodable, match="NaN or infinite"):
        encode({"a": float("inf")})
    with pytest.raises(Unencodable, match="lone surrogate at position 7"):
        encode({"a": "x\ud800"})
    with pytest.raises(Unencodable, match="Circular reference"):
        encode(circular)
    with pytest.raises(Unencodable, match="not JSON serializable"):
        encode({"a": object()})
