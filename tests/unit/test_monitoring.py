"""deploy/monitoring and the Helm values: keys the fluent-bit chart defines, values in step with their
source, and a dashboard that works in any Grafana (a datasource variable, no hard-coded UID)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
HELM = ROOT / "deploy" / "helm"
DASHBOARD = MONITORING / "dashboard" / "pod-meta-exporter.json"
RULE = MONITORING / "alerts" / "prometheusrule.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

# The keys of the official fluent-bit chart at 0.58.2 (fluent/helm-charts, charts/fluent-bit) that
# our values files use: from its values.yaml as its README's helm-docs table lists it, and
# prometheusRule.rules, which values.yaml documents in a comment and templates/prometheusrule.yaml
# reads (rendered with toYaml, not tpl, so {{ $labels.pod }} reaches Prometheus unchanged).
CHART_VERSION = "0.58.2"
CHART_KEYS = frozenset(
    {
        "config.inputs",
        "config.filters",
        "extraContainers",
        "extraVolumes",
        "extraVolumeMounts",
        "extraPorts",
        "serviceMonitor.enabled",
        "serviceMonitor.additionalEndpoints",
        "prometheusRule.enabled",
        "prometheusRule.rules",
    }
)


def leaf_keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths down to a value that is not a mapping: a list is one value, as helm sees it."""
    found: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        found |= leaf_keys(value, f"{path}.") if isinstance(value, dict) else {path}
    return found


@pytest.mark.parametrize("path", sorted(HELM.glob("*.yaml")), ids=lambda path: path.name)
def test_the_helm_values_use_only_keys_of_the_pinned_chart(path: Path) -> None:
    used = leaf_keys(yaml.safe_load(path.read_text()))
    assert used
    assert used <= CHART_KEYS, f"not keys of fluent-bit {CHART_VERSION}: {sorted(used - CHART_KEYS)}"


def test_the_helm_monitoring_values_are_the_scripts_output_from_deploy_monitoring() -> None:
    spec = importlib.util.spec_from_file_location(
        "helm_values", ROOT / "scripts" / "helm-monitoring-values.py"
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert (HELM / "monitoring-values.yaml").read_text() == script.render(), "run make helm-values"
    (group,) = yaml.safe_load(RULE.read_text())["spec"]["groups"]
    assert yaml.safe_load(script.render())["prometheusRule"]["rules"] == group["rules"]


def test_every_alert_has_a_summary_a_severity_and_a_runbook_that_exists() -> None:
    (group,) = yaml.safe_load(RULE.read_text())["spec"]["groups"]
    runbooks = RUNBOOKS.read_text()
    anchors = {_anchor(heading) for heading in re.findall(r"^## (.+)$", runbooks, flags=re.MULTILINE)}
    names = [rule["alert"] for rule in group["rules"]]
    assert {"PodMetaExporterNotReady", "PodMetaExporterStaleWatch"} <= set(names)
    assert {"PodMetaExporterWritesFailing", "PodMetaExporterApiErrors"} <= set(names)
    for rule in group["rules"]:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        url = rule["annotations"]["runbook_url"]
        assert url.endswith(f"docs/runbooks.md#{rule['alert'].lower()}"), url
        assert rule["alert"].lower() in anchors, f"no runbook section for {rule['alert']}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_dashboard_works_in_any_grafana() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39  # Grafana 11 and later
    assert "uid" not in dashboard or dashboard["uid"] in (None, "")
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    sources = [panel["datasource"] for panel in dashboard["panels"]]
    sources += [target["datasource"] for panel in dashboard["panels"] for target in panel["targets"]]
    sources += [variable["datasource"] for variable in variables.values() if "datasource" in variable]
    assert sources
    assert all(source == {"type": "prometheus", "uid": "${datasource}"} for source in sources)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_dashboard_has_the_panels_operators_look_for() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    for needed in (
        "pod_meta_exporter_files_written_total",
        "pod_meta_exporter_files_unchanged_total",
        "pod_meta_exporter_files_removed_total",
        "pod_meta_exporter_pending_removals",
        "histogram_quantile(0.99, sum by (le) (rate(pod_meta_exporter_event_to_file_seconds_bucket",
        "pod_meta_exporter_queued_events",
        "sum by (reason) (rate(pod_meta_exporter_api_errors_total",
        "pod_meta_exporter_seconds_since_last_event",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ):
        assert needed in exprs, needed
