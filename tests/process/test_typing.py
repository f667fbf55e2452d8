"""mypy as a subprocess: the typed ports refuse what a typo would make of a call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pod_meta_exporter.adapters.kubernetes import reflector

pytestmark = pytest.mark.process


def test_mypy_rejects_a_list_watch_call_with_a_made_up_keyword(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy comes with the lint extra")
    source = Path(reflector.__file__).parents[3]
    (tmp_path / "mypy.ini").write_text(
        f"[mypy]\nstrict = True\nmypy_path = {source}\nignore_missing_imports = True\n"
    )
    code = (
        "from pod_meta_exporter.adapters.kubernetes.listwatch import ListWatch\n"
        "def f(lw: ListWatch) -> None:\n"
        "    lw.watch(resource_version='1', timeout_seconds=5, send_initial_events=True)\n"
        "    lw.watch(resource_version='1', timeout=5, send_initial_events=True)\n"
    )
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            f"--config-file={tmp_path / 'mypy.ini'}",
            "--no-incremental",
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert checked.returncode == 1
    assert 'Unexpected keyword argument "timeout"' in checked.stdout
    assert checked.stdout.count("error:") == 1  # the right call passes
