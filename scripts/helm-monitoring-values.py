"""Write deploy/helm/monitoring-values.yaml from deploy/monitoring/: the fluent-bit chart's Service
and ServiceMonitor reach the sidecar's port, and the chart's PrometheusRule carries the alerts of
deploy/monitoring/alerts/prometheusrule.yaml, so both deployments alert alike. A unit test fails
when the file and this script's output differ.

    .venv/bin/python scripts/helm-monitoring-values.py   # make helm-values
"""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULE = ROOT / "deploy" / "monitoring" / "alerts" / "prometheusrule.yaml"
TARGET = ROOT / "deploy" / "helm" / "monitoring-values.yaml"

HEADER = """\
# Written by scripts/helm-monitoring-values.py from deploy/monitoring/; do not edit by hand.
#
# Monitoring for the official fluent-bit chart (chart 0.58.2; every key here is one its values.yaml
# defines, which tests/unit/test_monitoring.py holds), after fluent-bit-values.yaml:
#
#   helm upgrade --install fluent-bit fluent/fluent-bit -n logging \\
#     -f deploy/helm/fluent-bit-values.yaml -f deploy/helm/monitoring-values.yaml
#
# - The chart's Service gets the sidecar's port (extraPorts; the chart also lists it on the
#   fluent-bit container, which changes nothing: the pod shares one network namespace), and its
#   ServiceMonitor scrapes it beside Fluent Bit's own (serviceMonitor.additionalEndpoints).
# - prometheusRule.rules are the alerts of deploy/monitoring/alerts, with their runbooks.
# - The dashboard: the chart's `dashboards` switch renders only the chart's own files, so ship
#   ours with  kubectl apply -k deploy/monitoring/dashboard -n logging
"""


def values() -> dict[str, object]:
    (group,) = yaml.safe_load(RULE.read_text())["spec"]["groups"]
    return {
        "extraPorts": [{"name": "exporter-metrics", "port": 8080, "containerPort": 8080, "protocol": "TCP"}],
        "serviceMonitor": {
            "enabled": True,
            "additionalEndpoints": [{"port": "exporter-metrics", "path": "/metrics", "interval": "30s"}],
        },
        "prometheusRule": {"enabled": True, "rules": group["rules"]},
    }


def render() -> str:
    return HEADER + "\n" + yaml.safe_dump(values(), sort_keys=False, width=200)


def main() -> int:
    TARGET.write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
