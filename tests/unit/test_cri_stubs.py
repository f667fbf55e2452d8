"""The CRI stubs are what scripts/generate-cri-stubs.sh makes of the vendored api.proto, which is
k8s.io/cri-api's at the pinned version (the integration tier compares it with the Go module)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from pod_meta_exporter.adapters import cri

ROOT = Path(__file__).resolve().parents[2]
CRI = ROOT / "src" / "pod_meta_exporter" / "adapters" / "cri"


def test_the_vendored_proto_is_the_pinned_one() -> None:
    assert hashlib.sha256((CRI / "api.proto").read_bytes()).hexdigest() == cri.CRI_API_PROTO_SHA256


def test_the_committed_stubs_are_what_the_script_generates(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    assert shutil.which("protoc-gen-mypy", path=str(bin_dir)), "mypy-protobuf is in the test extra"
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "generate-cri-stubs.sh"), str(tmp_path)],
        check=True,
        capture_output=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    for name in ("api_pb2.py", "api_pb2.pyi"):
        generated = tmp_path / "pod_meta_exporter" / "adapters" / "cri" / name
        assert generated.read_bytes() == (CRI / name).read_bytes(), (
            f"{name}: run scripts/generate-cri-stubs.sh"
        )
