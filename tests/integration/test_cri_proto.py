"""The vendored CRI api.proto is k8s.io/cri-api's at the pinned version, byte for byte, as the Go
module proxy serves it (the unit tier checks that the stubs are generated from it)."""

from __future__ import annotations

from pathlib import Path

from pod_meta_exporter.adapters import cri
from support import gomodules

VENDORED = Path(cri.__file__).with_name("api.proto")


def test_the_vendored_api_proto_is_the_go_modules_at_the_pinned_version() -> None:
    module = gomodules.module_dir("k8s.io/cri-api", cri.CRI_API_VERSION)
    assert (module / "pkg/apis/runtime/v1/api.proto").read_bytes() == VENDORED.read_bytes()
