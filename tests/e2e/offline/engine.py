"""A Docker engine of the e2e tier's own: Debian's dockerd, started where none is running and stopped
after, with nothing of it left on the machine.

- **Its own namespaces.** dockerd runs under `unshare --pid --mount --kill-child`, as the node
  tier's kubelet does: its mounts (overlay2, the containers' /proc and /sys, kind's volumes, a
  /run of its own) stay in its mount namespace, and every process it starts (containerd, shims,
  docker-proxy, the kind node and all inside it) dies with its PID namespace, even if this run
  is killed.
- **The host's network, untouched.** No default bridge, no iptables rules, no NAT, no change to
  `ip_forward`: kind's network is a bridge that the host reaches directly, which is all kind needs
  (its API server is published on loopback by docker-proxy). Image builds use the host's network.
  The bridge and its veths are removed when the engine stops.
- **Its own cgroup parent**, removed with what kind's kubelet created below it.
- **Its own data root and socket**, in a work directory removed at the end; clients reach it
  through `DOCKER_HOST`, set by `environment()`.
- **runc without what root lacks**: see runc_wrapper.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from e2e.offline import runc_wrapper
from support import cgroups
from support.control_plane import Process
from support.processes import in_namespaces_of_its_own
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Mapping

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # the client of the same release as dockerd (20.10, API 1.41)
WORK_PREFIX = "pod-meta-exporter-e2e-"
# What dockerd and kind create in the host's network namespace: the default bridge (disabled
# here, but named in case), kind's network bridge, and the host ends of the containers' veths.
ENGINE_LINKS = re.compile(r"^(docker0|br-[0-9a-f]{12}|veth[0-9a-f]{7})$")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


class EngineError(RuntimeError):
    """The engine did not start, or did not stop cleanly; the message says what and where."""


def reachable(environ: Mapping[str, str] | None = None) -> bool:
    """Whether `docker info` answers: an engine this run did not start, or ours."""
    docker = shutil.which("docker", path=None if environ is None else environ.get("PATH"))
    if docker is None:
        return False
    try:
        subprocess.run(
            [docker, "info"],
            check=True,
            capture_output=True,
            timeout=30,
            env=None if environ is None else dict(environ),
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


def _links() -> set[str]:
    return {path.name for path in Path("/sys/class/net").iterdir()}


class OfflineEngine:
    """dockerd in namespaces of its own, with a work directory under `parent` (default /var/tmp)."""

    def __init__(self, *, parent: Path | None = None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=parent or Path("/var/tmp")))
        self.cgroup_parent = cgroups.E2E_PREFIX + self.workdir.name.removeprefix(WORK_PREFIX)
        self.socket = self.workdir / "docker.sock"
        self._process: Process | None = None
        self._links_before: set[str] = set()

    @property
    def log_path(self) -> Path:
        return self.workdir / "dockerd.log"

    def environment(self) -> dict[str, str]:
        """The variables under which docker, kind and pytest-kind use this engine, and the Docker
        client of dockerd's own release first on PATH."""
        bin_dir = self.workdir / "bin"
        return {"DOCKER_HOST": f"unix://{self.socket}", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    def start(self) -> None:
        self._links_before = _links()
        bin_dir = self.workdir / "bin"
        bin_dir.mkdir()
        (bin_dir / "docker").symlink_to(DOCKER)
        config = self.workdir / "daemon.json"
        config.write_text(json.dumps(self._daemon_config(), indent=2))
        # containerd puts its shims' sockets in /run/containerd/s whatever its state directory,
        # and dockerd its plugins in /run/docker: a /run of their own.
        run_of_its_own = 'mount -t tmpfs -o mode=0755 e2e-engine-run /run && exec "$0" "$@"'
        self._process = Process(
            "dockerd",
            in_namespaces_of_its_own(
                ["sh", "-c", run_of_its_own, DOCKERD, f"--config-file={config}"], proc=True
            ),
            self.log_path,
        )
        environ = {**os.environ, **self.environment()}
        try:
            self._process.wait_until(
                "dockerd to answer", lambda: reachable(environ), timeout=START_TIMEOUT, interval=0.5
            )
        except Exception:
            self.stop()
            raise

    def _daemon_config(self) -> dict[str, object]:
        config: dict[str, object] = {
            "data-root": str(self.workdir / "data"),
            "exec-root": str(self.workdir / "exec"),
            "pidfile": str(self.workdir / "docker.pid"),
            "hosts": [f"unix://{self.socket}"],
            "bridge": "none",
            "iptables": False,
            "ip6tables": False,
            "ip-forward": False,
            "ip-masq": False,
            "cgroup-parent": f"/{self.cgroup_parent}",
            "exec-opts": ["native.cgroupdriver=cgroupfs"],
            # Root here may not lower its own score (CAP_SYS_RESOURCE): leave it as it is.
            "oom-score-adjust": 0,
            "storage-driver": "overlay2",
            "log-level": "warn",
        }
        missing = runc_wrapper.missing_here()
        if missing:
            launcher = self.workdir / "bin" / "runc"
            launcher.write_text(f'#!/bin/sh\nexec {sys.executable} {runc_wrapper.__file__} "$@"\n')
            launcher.chmod(0o755)
            config["runtimes"] = {"runc-without-missing-caps": {"path": str(launcher)}}
            config["default-runtime"] = "runc-without-missing-caps"
        return config

    def stop(self) -> None:
        """Remove every container and network, stop dockerd, then remove what is left of it:
        the bridge and veths, the cgroups, the work directory. EngineError if any remains."""
        problems: list[str] = []
        if self._process is not None:
            environ = {**os.environ, **self.environment()}
            self._thaw()
            if self._process.exited() is None:
                for command in (
                    "docker ps --all --quiet | xargs --no-run-if-empty docker rm --force --volumes",
                    "docker network prune --force",
                ):
                    done = subprocess.run(
                        ["sh", "-c", command], env=environ, capture_output=True, text=True, check=False
                    )
                    if done.returncode != 0:
                        problems.append(f"{command}: {done.stderr.strip()}")
            self._terminate()
            self._process = None
        self._thaw()
        for link in sorted(_links() - self._links_before):
            if ENGINE_LINKS.match(link):
                subprocess.run(["ip", "link", "delete", link], check=False, capture_output=True)
        problems += _remove_cgroups(self.cgroup_parent)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.workdir.exists():
            problems.append(f"{self.workdir} could not be removed")
        if problems:
            raise EngineError("the Docker engine did not stop cleanly: " + "; ".join(problems))

    def _thaw(self) -> None:
        for mount in cgroups.hierarchies():
            cgroups.thaw(mount / self.cgroup_parent)

    def _terminate(self) -> None:
        """SIGTERM to dockerd, which stops containerd; then to unshare, which kills what is left."""
        assert self._process is not None
        children = Path(f"/proc/{self._process.pid}/task/{self._process.pid}/children")
        with contextlib.suppress(OSError, ValueError):
            (dockerd,) = (int(pid) for pid in children.read_text().split())
            os.kill(dockerd, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while Path(f"/proc/{dockerd}").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
        self._process.stop()


def _remove_cgroups(name: str) -> list[str]:
    """rmdir the engine's cgroup parent in every hierarchy, leaves first, once its processes are
    gone (the kernel frees them asynchronously after the PID namespace dies)."""
    roots = [mount / name for mount in cgroups.hierarchies()]

    def removed() -> bool:
        for root in roots:
            cgroups.thaw(root)
        return all([cgroups.remove_tree(root) for root in roots])  # noqa: C419 - try each, every time

    try:
        wait_for(
            removed,
            timeout=30,
            what=f"the cgroups under {name} to empty",
        )
    except AssertionError as error:
        return [str(error)]
    return []
