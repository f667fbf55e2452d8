"""The node tier's load mode as a benchmark: container facts at Fluent Bit's first read, with the
API alone and with the container runtime as a second source, from one run of
tests/node/test_under_load.py (a real kubelet, containerd and runc; root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TEST = REPO / "tests" / "node" / "test_under_load.py"
FIGURES_VARIABLE = "NODE_LOAD_FIGURES"  # as the test names it


def run() -> dict[str, Any]:
    """The figures the test wrote; RuntimeError with the end of its output if it wrote none."""
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.json"
        outcome = subprocess.run(
            [sys.executable, "-m", "pytest", str(TEST), "-p", "no:cacheprovider", "-q", "-rs"],
            cwd=REPO,
            env={**os.environ, FIGURES_VARIABLE: str(figures)},
            capture_output=True,
            text=True,
            check=False,
        )
        if outcome.returncode != 0 or not figures.exists():
            tail = "\n".join((outcome.stdout + outcome.stderr).splitlines()[-15:])
            msg = f"the node tier's load mode gave no figures (exit {outcome.returncode}):\n{tail}"
            raise RuntimeError(msg)
        found: dict[str, Any] = json.loads(figures.read_text())
        return found
