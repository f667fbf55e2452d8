"""scripts/offline-kind.py: the e2e suite's cluster and images, built on this machine where no
registry is reachable, and nothing of them left behind.

`run -- COMMAND` (what `make e2e` does with pytest):

- **registry**: a Docker engine answers and a registry is reachable (a GitHub runner): COMMAND
  runs as it is, and the suite pulls what is missing, kindest/node included.
- **local**, otherwise: every image is built here (images.py, node_image.py) or taken from the
  cache, Debian's dockerd is started if no engine answers (engine.py), the images are loaded, and
  COMMAND runs with the kind node image (`--kind-image`), this build's kind and kubectl, and
  E2E_IMAGES=local, under which the suite swaps the local images in. Then the engine is stopped,
  and the machine is compared with what it was before: any mount, link, iptables rule, sysctl,
  cgroup, path or process left is reported and fails the run.

Where local mode cannot run (not root, no Debian packages, no Go), COMMAND runs with
E2E_UNAVAILABLE saying why, and the suite skips in that one line, or fails under CI=true.

`build` builds (or checks) every image without starting anything.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from e2e.offline import engine, images, node_image
from e2e.offline.archives import image_id
from support.control_plane import REPO_ROOT, ControlPlaneError, locate, run_build_script
from support.host_state import HostState

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

# The Go binaries: the node image's, and kind and kubectl for the suite.
BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "kubelet",
    "kubeadm",
    "kubectl",
    "etcd",
    "coredns",
    "crictl",
    "kind",
)
# What local mode runs, from Debian (scripts/install-e2e-runtime.sh installs them).
COMMANDS = ("dockerd", "docker", "containerd", "ctr", "runc", "mmdebstrap", "unshare", "ldd", "tar", "go")
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-e2e-runtime.sh"
REGISTRIES = ("https://ghcr.io/v2/", "https://registry-1.docker.io/v2/")


def log(message: str) -> None:
    sys.stderr.write(f"offline-kind: {message}\n")
    sys.stderr.flush()


def registry_reachable() -> bool:
    """Whether the registries the suite pulls from answer at all (401 is an answer)."""
    for url in REGISTRIES:
        try:
            urllib.request.urlopen(url, timeout=10)
        except urllib.error.HTTPError:
            continue
        except (urllib.error.URLError, OSError):
            return False
    return True


def why_not_local() -> str | None:
    """Why local mode cannot run here, or None. As root, what is missing is installed first."""
    reason = _missing()
    if reason is not None and reason.startswith("missing") and os.geteuid() == 0:
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False)
        reason = _missing()
    return reason


def _missing() -> str | None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux (dockerd, namespaces, mmdebstrap)"
    missing = [command for command in COMMANDS if shutil.which(command) is None]
    missing += [str(path) for path in (images.FLUENT_BIT_BINARY, images.BUSYBOX_BINARY) if not path.exists()]
    if missing:
        return (
            f"missing {', '.join(missing)}: scripts/install-e2e-runtime.sh installs them from Debian, as root"
        )
    return None


@dataclass
class Built:
    node: images.Recipe
    loaded: list[images.Recipe]  # into the engine, besides the node: what the suite's pods run
    seconds: float = 0.0
    archives: dict[str, Path] = field(default_factory=dict)

    @property
    def all(self) -> list[images.Recipe]:
        return [self.node, *self.loaded]


def build() -> Built:
    """Every Go binary and image, from the cache where it is there."""
    started = time.monotonic()
    try:
        run_build_script(BINARIES)
    except ControlPlaneError as error:
        msg = f"offline-kind: {error}"
        raise SystemExit(msg) from None
    preloaded = [
        images.control_plane_image(name)
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    preloaded += [
        images.kube_proxy_image(),
        images.etcd_image(),
        images.coredns_image(),
        images.pause_image(),
    ]
    built = Built(
        node=node_image.node_image(preloaded, log),
        loaded=[
            images.busybox_image(),
            images.fluent_bit_image(),
            images.python_build_image(),
            images.python_runtime_image(),
        ],
    )
    for recipe in built.all:
        built.archives[recipe.name] = recipe.ensure(log)
    built.seconds = time.monotonic() - started
    return built


def load(archives: Mapping[str, Path], environ: dict[str, str]) -> None:
    """`docker load` each archive (by its image's name) whose image the engine does not hold
    under that ID already."""
    for name, archive in archives.items():
        present = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}}", name],
            capture_output=True,
            text=True,
            env=environ,
            check=False,
        ).stdout.strip()
        if present != image_id(archive):
            subprocess.run(["docker", "load", "--quiet", "--input", str(archive)], env=environ, check=True)


def run_local(command: list[str]) -> int:
    before = HostState.read()
    built = build()
    log(f"images ready in {built.seconds:.0f}s: {', '.join(recipe.name for recipe in built.all)}")
    own_engine = None if engine.reachable() else engine.OfflineEngine()
    # kubectl's discovery cache, which it would otherwise leave in ~/.kube/cache
    cache = tempfile.TemporaryDirectory(prefix="pod-meta-exporter-e2e-kubectl-")
    environ = {**os.environ, "KUBECACHEDIR": cache.name}
    code = 1
    try:
        if own_engine is not None:
            started = time.monotonic()
            own_engine.start()
            environ.update(own_engine.environment())
            log(f"started dockerd ({own_engine.workdir}) in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        load(built.archives, environ)
        log(f"images loaded in {time.monotonic() - started:.0f}s")
        kind, kubectl = locate("kind"), locate("kubectl")
        assert kind is not None  # build() built both
        assert kubectl is not None
        # kind and kubectl of this build first on PATH (kubectl at the cluster's version)
        environ["PATH"] = f"{kind.parent}{os.pathsep}{environ['PATH']}"
        environ["E2E_IMAGES"] = "local"
        environ["E2E_REQUIRED"] = "1"  # everything the suite needs is here: a skip would hide a fault
        kind_options = shlex.join(
            [f"--kind-image={built.node.name}", f"--kind-bin={kind}", f"--kind-kubectl-bin={kubectl}"]
        )
        environ["PYTEST_ADDOPTS"] = f"{environ.get('PYTEST_ADDOPTS', '')} {kind_options}".strip()
        code = subprocess.run(command, env=environ, check=False).returncode
    finally:
        if own_engine is not None:
            started = time.monotonic()
            try:
                own_engine.stop()
            except engine.EngineError as error:
                log(str(error))
                code = code or 1
            log(f"stopped dockerd in {time.monotonic() - started:.1f}s")
        cache.cleanup()
        changes = HostState.read().changes_since(before)
        if changes:
            log("the run left this on the machine:\n  " + "\n  ".join(changes))
            code = code or 1
        else:
            log(
                "the machine is as it was: no process, mount, network link, iptables rule, cgroup, "
                f"path or kernel setting left or changed ({len(before.sysctls)} settings compared)"
            )
    return code


def run(command: list[str]) -> int:
    mode = os.environ.get("E2E_IMAGES") or (
        "registry" if engine.reachable() and registry_reachable() else "local"
    )
    if mode == "registry":
        log("a Docker engine answers and the registries are reachable: the suite pulls what it needs")
        # An engine and registries are here: a missing kind or kubectl fails the suite, not skips it.
        environ = {**os.environ, "E2E_IMAGES": "registry", "E2E_REQUIRED": "1"}
        return subprocess.run(command, env=environ, check=False).returncode
    reason = why_not_local()
    if reason is not None:
        log(f"cannot build the cluster here: {reason}")
        return subprocess.run(command, env={**os.environ, "E2E_UNAVAILABLE": reason}, check=False).returncode
    return run_local(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="offline-kind", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    commands.add_parser("build", help="build every image the local mode loads (or find it in the cache)")
    running = commands.add_parser("run", help="run COMMAND against kind, with local images where needed")
    running.add_argument(
        "command", nargs=argparse.REMAINDER, help="after --: the command, e.g. pytest tests/e2e"
    )
    arguments = parser.parse_args(argv)
    if arguments.action == "build":
        reason = why_not_local()
        if reason is not None:
            log(f"cannot build here: {reason}")
            return 1
        built = build()
        for recipe in built.all:
            log(f"{recipe.name}: {built.archives[recipe.name]}")
        return 0
    command = arguments.command[1:] if arguments.command[:1] == ["--"] else arguments.command
    if not command:
        parser.error("run needs a command after --")
    return run(command)
