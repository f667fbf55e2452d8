"""One source of truth for metric names: the /metrics of a running exporter (the real program, on
the simulated cluster, over real HTTP). Every metric the README's table, the alerts or the dashboard
name must be there, and every metric there must be in the README, so a renamed metric fails here
rather than in an operator's dashboard."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from support.waiting import wait_for

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
CLI = (sys.executable, "-m", "pod_meta_exporter.entrypoints.cli")
# A name as PromQL writes it; the suffixes of a histogram's series are its family's.
_NAME = re.compile(r"\b((?:pod_meta_exporter|process)_[a-z_]+)\b")
_SERIES_SUFFIXES = ("_bucket", "_count", "_sum")


def exported(tmp_path: Path) -> set[str]:
    """The sample names a running exporter serves, each counter with its _total."""
    log = tmp_path / "exporter.log"
    with log.open("w") as sink, subprocess.Popen(
        [*CLI, "--cluster", "simulated", "--destination-dir", str(tmp_path / "meta"),
         "--listen", "127.0.0.1:0", "--log-format", "json", "--node-name", "node-a"],
        stdout=subprocess.DEVNULL, stderr=sink,
    ) as process:  # fmt: skip
        try:
            port = wait_for(lambda: _port(log), timeout=20, what="the exporter's port in its log")
            # Wait for the first file, so that the simulated node has made every metric count once.
            wait_for(lambda: any((tmp_path / "meta").glob("*.meta")), timeout=20, what="a first file")
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
        finally:
            process.terminate()
            process.wait(timeout=10)
    names = set()
    for line in text.splitlines():
        match = re.match(r"# TYPE (\S+) (\S+)", line)
        if match:
            name, kind = match.groups()
            names.add(name if kind != "counter" or name.endswith("_total") else f"{name}_total")
    return names


def _port(log: Path) -> int | None:
    for line in log.read_text().splitlines():
        try:
            port = json.loads(line).get("port")
        except ValueError:  # a line still being written
            continue
        if port:
            return int(port)
    return None


def family(name: str) -> str:
    for suffix in _SERIES_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def readme_metrics() -> set[str]:
    section = (ROOT / "README.md").read_text().split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def named_in(text: str) -> set[str]:
    return {family(name) for name in _NAME.findall(text)}


def test_every_metric_named_anywhere_is_served_and_every_metric_served_is_in_the_readme(
    tmp_path: Path,
) -> None:
    served = exported(tmp_path)
    readme = readme_metrics()
    rule = yaml.safe_load((MONITORING / "alerts" / "prometheusrule.yaml").read_text())
    alerts = named_in(" ".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]))
    dashboard = json.loads((MONITORING / "dashboard" / "pod-meta-exporter.json").read_text())
    panels = named_in(" ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"]))
    variables = named_in(json.dumps(dashboard["templating"]))

    assert len(served) >= 20
    assert served == readme, (
        f"served, not in the README: {served - readme}; in the README, not served: {readme - served}"
    )
    assert alerts, "the alerts name no metric"
    assert alerts <= served, f"the alerts name metrics the exporter does not serve: {alerts - served}"
    assert panels | variables <= served, (
        f"the dashboard names unserved metrics: {(panels | variables) - served}"
    )
