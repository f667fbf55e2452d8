"""Check and test the exporter's alerts with promtool: the rule group of
deploy/monitoring/alerts/prometheusrule.yaml, as a plain rule file, against
tests/fixtures/monitoring/alerts.test.yaml (series that fire each alert, and series that must not).

    .venv/bin/python scripts/test-alerts.py   # part of make lint
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULE = ROOT / "deploy" / "monitoring" / "alerts" / "prometheusrule.yaml"
TESTS = ROOT / "tests" / "fixtures" / "monitoring" / "alerts.test.yaml"
PROMTOOL = ROOT / "scripts" / "promtool.sh"


def main() -> int:
    groups = yaml.safe_load(RULE.read_text())["spec"]["groups"]
    with tempfile.TemporaryDirectory(prefix="alerts-") as work:
        rules = Path(work) / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        shutil.copy(TESTS, Path(work) / TESTS.name)
        for command in (["check", "rules", str(rules)], ["test", "rules", str(Path(work) / TESTS.name)]):
            done = subprocess.run(["bash", str(PROMTOOL), *command], check=False)
            if done.returncode:
                return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
