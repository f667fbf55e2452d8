"""The real program as a subprocess: a signal's stop, the exit codes of bad settings, and the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.waiting import wait_for

pytestmark = pytest.mark.process

CLI = (sys.executable, "-m", "pod_meta_exporter.entrypoints.cli")


def test_sigterm_stops_the_process_within_two_seconds_and_keeps_the_files(tmp_path: Path) -> None:
    meta = tmp_path / "meta"
    process = subprocess.Popen(
        [
            *CLI,
            "--cluster",
            "simulated",
            "--destination-dir",
            str(meta),
            "--listen",
            "127.0.0.1:0",
            "--retention-period",
            "1m",
            "--log-format",
            "json",
            "--node-name",
            "node-a",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: len(list(meta.glob("*.meta"))) >= 3, timeout=20, what="files from the simulated node"
        )
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=5)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert elapsed < 2.0
    assert len(list(meta.glob("*.meta"))) >= 3
    lines = [json.loads(line) for line in err.splitlines()]
    assert lines[0]["message"] == "starting"
    assert lines[0]["config"]["retention_period"] == "1m"
    assert lines[-1]["message"] == "stopping; the files stay in place for Fluent Bit"


def test_an_unusable_destination_directory_exits_2_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run(
        [
            *CLI,
            "--cluster",
            "simulated",
            "--destination-dir",
            str(blocker / "meta"),
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "text",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot use the destination directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_kubeconfig_exits_2_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *CLI, "--kubeconfig", str(tmp_path / "none"),
            "--destination-dir", str(tmp_path / "meta"), "--listen", "127.0.0.1:0", "--log-format", "text",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert errors[0].endswith(f"cannot start: kubeconfig {tmp_path / 'none'}: no such file")


def test_the_demo_shows_files_written_rewritten_and_removed(tmp_path: Path) -> None:
    demo = Path(__file__).parents[2] / "scripts" / "demo.py"
    result = subprocess.run(
        [sys.executable, str(demo)],
        env={**os.environ, "DEMO_SECONDS": "10", "DEMO_DIR": str(tmp_path / "demo-meta")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(" + demo_web-0.meta" in line for line in lines)
    assert any(" ~ " in line and "imageID" in line for line in lines)  # image IDs arrive later
    # Pods live at most 4s and are kept 5s; the first is created within 1s, so one is gone by 10s.
    assert any(" - " in line for line in lines), "no removal after the 5s retention"
    assert "pod_meta_exporter_files_written_total" in result.stdout
