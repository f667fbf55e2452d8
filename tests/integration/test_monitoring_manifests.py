"""The monitoring manifests pass a server-side dry run on the real API server with the Prometheus
Operator's CRDs installed, from its Go module at the pinned version: the kustomize overlay's
PodMonitor, PrometheusRule and dashboard ConfigMap, and what the fluent-bit chart renders from
deploy/helm/monitoring-values.yaml (its Service, ServiceMonitor and PrometheusRule)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest
import yaml

from integration.harness import dry_run
from support import gomodules, manifests
from support.manifests import DEPLOY_DIR
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from support.kubeapi import Json, KubeApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120), pytest.mark.usefixtures("deploy_rbac")]

# github.com/prometheus-operator/prometheus-operator: the newest version the Go module proxy
# served here (v0.90 and later were refused on 2026-12-07).
MODULE = "github.com/prometheus-operator/prometheus-operator"
PROMETHEUS_OPERATOR = "v0.89.0"
CRDS = ("podmonitors", "servicemonitors", "prometheusrules")
MONITORING_OVERLAY = DEPLOY_DIR / "overlays" / "monitoring"
HELM_MONITORING_VALUES = DEPLOY_DIR / "helm" / "monitoring-values.yaml"


def crd_documents() -> list[Json]:
    folder = gomodules.module_dir(MODULE, PROMETHEUS_OPERATOR) / "example" / "prometheus-operator-crd"
    return [yaml.safe_load((folder / f"monitoring.coreos.com_{name}.yaml").read_text()) for name in CRDS]


@pytest.fixture(scope="module")
def operator_crds(admin: KubeApi) -> Iterator[None]:
    """The CRDs, created for this module and deleted after it."""
    base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    created = []
    for crd in crd_documents():
        admin.expect("POST", base, crd)
        created.append(crd["metadata"]["name"])
    for name in created:
        wait_for(functools.partial(_established, admin, f"{base}/{name}"), timeout=30, what=f"CRD {name}")
    # Discovery serves the new group a moment after the CRDs are established.
    wait_for(
        lambda: admin.call("GET", "/apis/monitoring.coreos.com/v1").status == 200,
        timeout=30,
        what="discovery",
    )
    yield
    for name in created:
        admin.call("DELETE", f"{base}/{name}", ok=(200, 202, 404))


def _established(admin: KubeApi, path: str) -> bool:
    conditions = admin.expect("GET", path).get("status", {}).get("conditions", [])
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def chart_render(values: Json) -> list[Json]:
    """What the fluent-bit chart's templates (service.yaml, servicemonitor.yaml, prometheusrule.yaml,
    read at 0.58.2) make of the monitoring values for a release `fluent-bit` in `logging`."""
    labels = {"app.kubernetes.io/name": "fluent-bit", "app.kubernetes.io/instance": "fluent-bit"}
    meta = {"name": "fluent-bit", "namespace": "logging", "labels": labels}
    ports = [{"port": 2020, "targetPort": 2020, "protocol": "TCP", "name": "http"}]
    ports += [
        {"name": p["name"], "targetPort": p["containerPort"], "protocol": p["protocol"], "port": p["port"]}
        for p in values["extraPorts"]
    ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"type": "ClusterIP", "ports": ports, "selector": labels},
    }
    endpoints = [
        {"port": "http", "path": "/api/v2/metrics/prometheus"},
        *values["serviceMonitor"]["additionalEndpoints"],
    ]
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "jobLabel": "app.kubernetes.io/instance",
            "endpoints": endpoints,
            "namespaceSelector": {"matchNames": ["logging"]},
            "selector": {"matchLabels": labels},
        },
    }
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": meta,
        "spec": {"groups": [{"name": "fluent-bit", "rules": values["prometheusRule"]["rules"]}]},
    }
    return [service, monitor, rule]


@pytest.mark.usefixtures("operator_crds")
def test_the_monitoring_overlay_passes_a_server_side_dry_run(admin: KubeApi) -> None:
    objects = manifests.render(MONITORING_OVERLAY)
    kinds = {obj["kind"] for obj in objects}
    assert {"PodMonitor", "PrometheusRule", "ConfigMap", "DaemonSet"} <= kinds
    (dashboard,) = (o for o in objects if o["metadata"]["name"] == "pod-meta-exporter-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    for obj in objects:
        status, answer = dry_run(admin, obj)
        assert status in {200, 201}, f"{obj['kind']}/{obj['metadata']['name']}: HTTP {status}: {answer}"


@pytest.mark.usefixtures("operator_crds")
def test_the_charts_objects_from_the_helm_monitoring_values_pass_a_server_side_dry_run(
    admin: KubeApi,
) -> None:
    objects = chart_render(yaml.safe_load(HELM_MONITORING_VALUES.read_text()))
    for obj in objects:
        status, answer = dry_run(admin, obj)
        assert status in {200, 201}, f"{obj['kind']}/{obj['metadata']['name']}: HTTP {status}: {answer}"


@pytest.mark.usefixtures("operator_crds")
def test_the_dry_run_refuses_a_podmonitor_with_a_misspelled_field(admin: KubeApi) -> None:
    (monitor,) = (o for o in manifests.render(MONITORING_OVERLAY) if o["kind"] == "PodMonitor")
    monitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "30s"

    status, answer = dry_run(admin, monitor)

    assert status == 400, answer
    assert "intervall" in answer["message"]
