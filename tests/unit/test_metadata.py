"""Metadata selection: include then exclude, globs on keys, Fluent Bit's own annotations always kept,
no empty maps, kubectl's last-applied-configuration off by default, and the workload annotation."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pod_meta_exporter.domain.documents import DocumentFormat, DocumentProfile
from pod_meta_exporter.domain.metadata import LAST_APPLIED_CONFIGURATION, KeyFilter, MetadataSelection
from support import podfactory

LABELS = {
    "app.kubernetes.io/name": "web",
    "app.kubernetes.io/version": "1.2",
    "pod-template-hash": "7d4b9c8f6d",
    "team": "checkout",
}


def labels_after(selection: MetadataSelection, labels: dict[str, str] = LABELS) -> dict[str, str] | None:
    pod = podfactory.pod(labels=dict(labels))
    labels_now: dict[str, str] | None = selection.pod(pod)["metadata"].get("labels")
    return labels_now


def annotations_after(selection: MetadataSelection, annotations: dict[str, str]) -> dict[str, str] | None:
    pod = podfactory.pod()
    pod["metadata"]["annotations"] = dict(annotations)
    annotations_now: dict[str, str] | None = selection.pod(pod)["metadata"].get("annotations")
    return annotations_now


def test_without_patterns_every_label_is_kept_in_order() -> None:
    assert list(labels_after(MetadataSelection()) or {}) == list(LABELS)


def test_include_keeps_only_matching_keys() -> None:
    selection = MetadataSelection(labels=KeyFilter(include=("app.kubernetes.io/*",)))
    assert labels_after(selection) == {"app.kubernetes.io/name": "web", "app.kubernetes.io/version": "1.2"}


def test_exclude_applies_after_include() -> None:
    selection = MetadataSelection(
        labels=KeyFilter(include=("app.kubernetes.io/*", "team"), exclude=("*version",))
    )
    assert labels_after(selection) == {"app.kubernetes.io/name": "web", "team": "checkout"}


def test_exclude_alone_drops_from_all() -> None:
    assert labels_after(MetadataSelection(labels=KeyFilter(exclude=("pod-template-hash",)))) == {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/version": "1.2",
        "team": "checkout",
    }


def test_globs_know_only_star_and_question_mark_and_take_other_characters_literally() -> None:
    keys = KeyFilter(include=("app.kubernetes.io/?ame", "a+b"))
    assert keys.keeps("app.kubernetes.io/name")
    assert not keys.keeps("appXkubernetesXio/name")  # '.' is a dot
    assert not keys.keeps("app.kubernetes.io/rename")  # '?' is one character, and the whole key must match
    assert keys.keeps("a+b")
    assert not keys.keeps("aab")
    assert KeyFilter(include=("*",)).keeps("example.com/a/b")  # '*' crosses '/'


def test_a_map_left_empty_is_dropped_not_written_as_an_empty_object() -> None:
    selection = MetadataSelection(labels=KeyFilter(exclude=("*",)), annotations=KeyFilter(exclude=("*",)))
    pod = podfactory.pod()
    pod["metadata"]["annotations"] = {"note": "x"}
    metadata = selection.pod(pod)["metadata"]
    assert "labels" not in metadata
    assert "annotations" not in metadata
    assert list(metadata) == [k for k in pod["metadata"] if k not in ("labels", "annotations")]


def test_fluent_bits_own_annotations_are_kept_whatever_the_patterns() -> None:
    annotations = {
        "fluentbit.io/parser": "json",
        "fluentbit.io/parser_stderr-app": "logfmt",
        "fluentbit.io/exclude": "true",
        "fluentbit.io/exclude-stdout": "false",
        "fluentbit.io/other": "x",
        "note": "y",
    }
    for keys in (KeyFilter(exclude=("*",)), KeyFilter(include=("note",), exclude=("fluentbit.io/*",))):
        kept = annotations_after(MetadataSelection(annotations=keys), annotations) or {}
        assert set(kept) - {"note"} == {
            "fluentbit.io/parser",
            "fluentbit.io/parser_stderr-app",
            "fluentbit.io/exclude",
            "fluentbit.io/exclude-stdout",
        }


def test_last_applied_configuration_is_dropped_by_default_so_its_env_values_never_reach_the_disk() -> None:
    pod = podfactory.pod(secret_env="hunter2")
    pod["metadata"]["annotations"][LAST_APPLIED_CONFIGURATION] = json.dumps(
        {"spec": {"containers": [{"env": [{"name": "PASSWORD", "value": "hunter2"}]}]}}
    )
    assert b"hunter2" not in DocumentFormat().pod_document(pod)
    for profile in DocumentProfile:
        document = json.loads(DocumentFormat(profile).pod_document(pod))
        assert LAST_APPLIED_CONFIGURATION not in document["metadata"]["annotations"]
        kept = json.loads(
            DocumentFormat(profile, MetadataSelection(last_applied_configuration=True)).pod_document(pod)
        )
        assert (
            kept["metadata"]["annotations"][LAST_APPLIED_CONFIGURATION]
            == (pod["metadata"]["annotations"][LAST_APPLIED_CONFIGURATION])
        )


def test_kept_last_applied_configuration_still_obeys_the_patterns() -> None:
    selection = MetadataSelection(
        last_applied_configuration=True, annotations=KeyFilter(exclude=("kubectl.*",))
    )
    assert annotations_after(selection, {LAST_APPLIED_CONFIGURATION: "{}", "note": "x"}) == {"note": "x"}


def test_without_anything_to_drop_the_default_document_is_the_profiles_own() -> None:
    pod, namespace = podfactory.pod(), podfactory.namespace()
    for profile in DocumentProfile:
        assert DocumentFormat(profile).pod_document(pod) == profile.pod_document(pod)
        assert DocumentFormat(profile).namespace_document(namespace) == profile.namespace_document(namespace)


def test_namespace_documents_follow_the_same_patterns_and_get_no_workload() -> None:
    namespace = podfactory.namespace(labels={"team": "a", "kubernetes.io/metadata.name": "shop"})
    namespace["metadata"]["annotations"] = {"note": "x", LAST_APPLIED_CONFIGURATION: "{}"}
    selection = MetadataSelection(
        labels=KeyFilter(exclude=("kubernetes.io/*",)), workload_annotation="workload"
    )
    for profile in DocumentProfile:
        metadata = json.loads(DocumentFormat(profile, selection).namespace_document(namespace))["metadata"]
        assert metadata["labels"] == {"team": "a"}
        assert metadata["annotations"] == {"note": "x"}


# --- The workload annotation -----------------------------------------------------------------


def deployment_pod(annotations: dict[str, str] | None) -> dict[str, Any]:
    pod = podfactory.pod("web-7d4b9c8f6d-x2x9z", labels={"pod-template-hash": "7d4b9c8f6d"})
    pod["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-7d4b9c8f6d",
            "uid": "r",
            "controller": True,
        }
    ]
    if annotations is None:
        del pod["metadata"]["annotations"]
    else:
        pod["metadata"]["annotations"] = annotations
    return pod


def test_the_workload_annotation_is_added_last_and_is_not_subject_to_the_patterns() -> None:
    selection = MetadataSelection(
        workload_annotation="example.com/workload", annotations=KeyFilter(exclude=("*",))
    )
    metadata = selection.pod(deployment_pod({"note": "x", "fluentbit.io/parser": "json"}))["metadata"]
    assert metadata["annotations"] == {
        "fluentbit.io/parser": "json",
        "example.com/workload": "Deployment/web",
    }


def test_the_workload_annotation_is_added_to_a_pod_without_annotations_in_place_of_the_map() -> None:
    metadata = MetadataSelection(workload_annotation="workload").pod(deployment_pod(None))["metadata"]
    assert metadata["annotations"] == {"workload": "Deployment/web"}


def test_the_workload_annotation_replaces_a_pod_annotation_of_the_same_key_where_it_was() -> None:
    pod = deployment_pod({"workload": "mine", "note": "x"})
    annotations = MetadataSelection(workload_annotation="workload").pod(pod)["metadata"]["annotations"]
    assert list(annotations.items()) == [("workload", "Deployment/web"), ("note", "x")]


def test_a_pod_without_a_controller_gets_no_workload_annotation() -> None:
    pod = deployment_pod({"note": "x"})
    del pod["metadata"]["ownerReferences"]
    assert MetadataSelection(workload_annotation="workload").pod(pod)["metadata"]["annotations"] == {
        "note": "x"
    }


def test_an_object_without_a_metadata_map_is_left_as_served() -> None:
    selection = MetadataSelection(labels=KeyFilter(exclude=("*",)), workload_annotation="w")
    objects: tuple[dict[str, Any], ...] = ({"metadata": None}, {"spec": {}}, {"metadata": "odd"})
    for obj in objects:
        assert selection.pod(obj) is obj


def test_selection_never_changes_the_object_it_is_given() -> None:
    pod = deployment_pod({"note": "x"})
    before = json.dumps(pod)
    MetadataSelection(workload_annotation="w", labels=KeyFilter(exclude=("*",))).pod(pod)
    assert json.dumps(pod) == before


# --- Against an oracle -----------------------------------------------------------------------

_KEY_CHARS = "ab./-"
keys = st.text(alphabet=_KEY_CHARS, min_size=1, max_size=6)
patterns = st.lists(st.text(alphabet=_KEY_CHARS + "*?", min_size=1, max_size=4), max_size=3).map(tuple)


@given(labels=st.dictionaries(keys, st.text(max_size=3), max_size=8), include=patterns, exclude=patterns)
def test_kept_labels_are_those_fnmatch_would_keep_in_the_apis_order(
    labels: dict[str, str], include: tuple[str, ...], exclude: tuple[str, ...]
) -> None:
    expected = {
        key: value
        for key, value in labels.items()
        if (not include or any(fnmatch.fnmatchcase(key, p) for p in include))
        and not any(fnmatch.fnmatchcase(key, p) for p in exclude)
    }
    found = labels_after(MetadataSelection(labels=KeyFilter(include, exclude)), labels)
    assert found == (expected or (None if labels else {}))
    assert list(found or {}) == list(expected)
