"""The exporter's identity is deploy/'s ServiceAccount: it may read pods (and namespaces with the
namespace-metadata overlay), and nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from integration import harness

if TYPE_CHECKING:
    from support.kubeapi import Json, KubeApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
# What system:basic-user and system:discovery grant every authenticated user: asking what you may do.
SELF_REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}


def test_the_exporter_authenticates_as_the_service_account_of_deploy(exporter_kube: KubeApi) -> None:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer = exporter_kube.expect("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review)

    user = answer["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:logging:fluent-bit"
    assert "system:masters" not in user.get("groups", [])


def test_the_base_role_may_list_and_watch_pods_and_nothing_else(exporter_kube: KubeApi) -> None:
    for verb in READ:
        assert harness.can(exporter_kube, verb=verb, resource="pods"), verb
    for verb in WRITE:
        assert not harness.can(exporter_kube, verb=verb, resource="pods", namespace="default"), verb
    assert not harness.can(exporter_kube, verb="list", resource="namespaces")
    assert not harness.can(exporter_kube, verb="get", resource="secrets", namespace="logging")
    assert not harness.can(exporter_kube, verb="list", resource="secrets")

    assert_only_reads(exporter_kube, {"pods"})

    assert exporter_kube.call("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a").status == 200
    watch = exporter_kube.call("GET", "/api/v1/pods?watch=true&timeoutSeconds=1")
    assert watch.status == 200, watch.json()
    assert exporter_kube.call("GET", "/api/v1/namespaces").status == 403
    assert exporter_kube.call("GET", "/api/v1/namespaces/logging/secrets").status == 403
    assert_writes_forbidden(exporter_kube)


def test_the_namespace_metadata_role_adds_reading_namespaces_only(
    exporter_kube: KubeApi, namespace_metadata_role: Json
) -> None:
    for resource in ("pods", "namespaces"):
        for verb in READ:
            assert harness.can(exporter_kube, verb=verb, resource=resource), (verb, resource)
    assert not harness.can(exporter_kube, verb="update", resource="namespaces")
    assert not harness.can(exporter_kube, verb="get", resource="secrets", namespace="logging")

    assert_only_reads(exporter_kube, {"pods", "namespaces"})

    assert exporter_kube.call("GET", "/api/v1/namespaces").status == 200
    watch = exporter_kube.call("GET", "/api/v1/namespaces?watch=true&timeoutSeconds=1")
    assert watch.status == 200, watch.json()
    assert exporter_kube.call("GET", "/api/v1/namespaces/logging/secrets").status == 403
    assert_writes_forbidden(exporter_kube)


def assert_only_reads(kube: KubeApi, resources: set[str]) -> None:
    """Every rule the identity holds (a SelfSubjectRulesReview) reads the given core resources,
    or is a self-review that every authenticated user may create."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": "logging"},
    }
    status = kube.expect("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", review)["status"]
    assert not status.get("incomplete"), status
    readable: set[str] = set()
    for rule in status["resourceRules"]:
        pairs = {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
        if pairs <= SELF_REVIEWS:
            assert set(rule["verbs"]) == {"create"}, rule
            continue
        assert set(rule["verbs"]) <= set(READ), rule
        assert rule["apiGroups"] == [""], rule
        assert "resourceNames" not in rule, rule
        readable.update(rule["resources"])
    assert readable == resources
    for rule in status["nonResourceRules"]:
        assert set(rule["verbs"]) == {"get"}, rule


def assert_writes_forbidden(kube: KubeApi) -> None:
    pod = harness.pod_manifest("logging", "not-allowed")
    assert kube.call("POST", "/api/v1/namespaces/logging/pods", pod).status == 403
    assert kube.call("DELETE", "/api/v1/namespaces/logging/pods/anything").status == 403
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-allowed"}}
    assert kube.call("POST", "/api/v1/namespaces/logging/configmaps", config_map).status == 403
    patch = {"metadata": {"labels": {"changed": "yes"}}}
    merge_patch = "application/merge-patch+json"
    reply = kube.call("PATCH", "/api/v1/namespaces/logging", patch, content_type=merge_patch)
    assert reply.status == 403
    assert kube.call("DELETE", "/api/v1/nodes/node-a").status == 403
