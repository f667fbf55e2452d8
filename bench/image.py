"""The container image, built from the project's Dockerfile: its size, what its /app holds, and
what the exporter's modules cost on its interpreter.

It needs a Docker engine: the one that answers, or, as root where none does, the e2e tier's own
(tests/e2e/offline), on the bases that tier builds where no registry is reachable. The in-pod
memory of the running exporter, on a kind node with 100 pods, is the e2e tier's to measure
(tests/e2e/test_footprint.py), since only a cluster holds such a pod.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from e2e.offline import engine, images, run

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parent.parent
TAG = "pod-meta-exporter:bench"
OUT_OF_THE_IMAGE = ("kubernetes", "pydantic", "pydantic_core")
# The image's own interpreter: the exporter's imports as a start makes them, then its VmRSS.
_PROBE = """
import json, os, re, sys
import pod_meta_exporter.entrypoints.cli, pod_meta_exporter.entrypoints.container
import pod_meta_exporter.adapters.kubernetes
def size(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files)
status = open("/proc/self/status").read()
print(json.dumps({
    "python": sys.version.split()[0],
    "rss_kib": int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1)),
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in %(names)r),
    "app_bytes": size("/app"),
    "packages": {p: size(os.path.join("/app", p)) for p in os.listdir("/app")},
}))
"""


@dataclass(frozen=True)
class Result:
    bases: str  # what the Dockerfile was built on
    size_bytes: int  # docker image inspect's Size
    app_bytes: int
    packages: dict[str, int]  # the largest entries of /app, by size
    python: str
    import_rss_kib: int
    imported: list[str]  # of OUT_OF_THE_IMAGE: must stay empty


def run_benchmark() -> Result:
    with _engine() as environ:
        local = not run.registry_reachable()
        arguments: list[str] = []
        if local:
            bases = (images.python_build_image(), images.python_runtime_image())
            run.load({recipe.name: recipe.ensure(run.log) for recipe in bases}, environ)
            arguments = images.local_build_arguments()
        subprocess.run(
            ["docker", "build", "--quiet", "--tag", TAG, *arguments, str(REPO)],
            env=environ,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        size = int(_docker(environ, "image", "inspect", "--format", "{{.Size}}", TAG))
        probe = _PROBE % {"names": OUT_OF_THE_IMAGE}
        shown = json.loads(
            _docker(environ, "run", "--rm", "--entrypoint", "/usr/bin/python3.13", TAG, "-c", probe)
        )
        _docker(environ, "image", "rm", TAG)
    largest = dict(sorted(shown["packages"].items(), key=lambda item: -item[1])[:5])
    return Result(
        bases=(
            f"{images.LOCAL_PYTHON_BUILD} and {images.LOCAL_PYTHON_RUNTIME}, built from Debian trixie"
            " (no registry reachable)"
            if local
            else "the Dockerfile's defaults (python:3.13-slim-trixie, distroless python3-debian13)"
        ),
        size_bytes=size,
        app_bytes=shown["app_bytes"],
        packages=largest,
        python=shown["python"],
        import_rss_kib=shown["rss_kib"],
        imported=shown["imported"],
    )


def _docker(environ: dict[str, str], *args: str) -> str:
    return subprocess.run(["docker", *args], env=environ, capture_output=True, text=True, check=True).stdout


@contextlib.contextmanager
def _engine() -> Iterator[dict[str, str]]:
    """The environment under which `docker` reaches an engine: one that answers, or ours."""
    if engine.reachable():
        yield dict(os.environ)
        return
    reason = run.why_not_local()
    if reason is not None:
        msg = f"no Docker engine answers, and none can be started here: {reason}"
        raise RuntimeError(msg)
    own = engine.OfflineEngine()
    own.start()
    try:
        yield {**os.environ, **own.environment()}
    finally:
        own.stop()
