"""deploy/'s kustomizations rendered into objects by the real kustomize, built from Go modules with the
control plane (scripts/build-controlplane.sh) or named by KUSTOMIZE_BIN."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support import control_plane

REPO = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO / "deploy"
BASE_DIR = DEPLOY_DIR / "fluent-bit"
NAMESPACE_METADATA_DIR = DEPLOY_DIR / "overlays" / "namespace-metadata"
CONTAINER_RUNTIME_DIR = DEPLOY_DIR / "overlays" / "container-runtime"
HELM_VALUES = DEPLOY_DIR / "helm" / "fluent-bit-values.yaml"
HELM_CONTAINER_RUNTIME_VALUES = DEPLOY_DIR / "helm" / "container-runtime-values.yaml"
E2E_OVERLAY_DIR = REPO / "tests" / "e2e" / "overlay"
E2E_LOCAL_OVERLAY_DIR = REPO / "tests" / "e2e" / "overlay-local"  # the same with local images

Manifest = dict[str, Any]


class KustomizeError(RuntimeError):
    """kustomize is not there, or `kustomize build` failed; the message says which and why."""


@functools.cache
def kustomize() -> Path | str:
    """The binary (KUSTOMIZE_BIN, else the binary cache, built there once where only Go is), or why
    there is none: the shape tiers.Tier.require takes."""
    try:
        found = control_plane.locate("kustomize")
        if found is None and control_plane.run_build_script(["kustomize"]):
            found = control_plane.locate("kustomize")
    except control_plane.ControlPlaneError as error:  # an override naming no executable, a failed build
        return str(error)
    return found or "no kustomize binary (make controlplane) and no Go to build it"


def render(directory: Path = BASE_DIR) -> list[Manifest]:
    """The objects `kustomize build DIRECTORY` prints, in its order; fresh ones on each call."""
    return [doc for doc in yaml.safe_load_all(_build(directory)) if doc is not None]


@functools.cache
def _build(directory: Path) -> str:
    binary = kustomize()
    if isinstance(binary, str):
        raise KustomizeError(binary)
    built = subprocess.run(
        [str(binary), "build", str(directory)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if built.returncode != 0:
        msg = f"kustomize build {directory}: {built.stderr.strip()}"
        raise KustomizeError(msg)
    return built.stdout
