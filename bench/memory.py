"""Exporter RSS with 0, 110, 500 and 2,000 pods on its node, in a pod and with a kubeconfig side by
side, and at a restart with the state streamed (WatchList) or listed; what its imports alone cost;
and how long a start spends importing, in each mode."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import workload
from support.exporter import InCluster
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from support.control_plane import ControlPlane
    from support.exporter import Exporter
    from support.kubeapi import KubeApi

_RSS = 'import re; print(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1))'

# The official client's own package __init__ runs first whatever submodule is imported; this stub
# skips it, to see what the request machinery alone (configuration, api_client, rest) would cost.
_STUB = (
    "import importlib.util, sys, types; "
    "spec = importlib.util.find_spec('kubernetes'); "
    "package = types.ModuleType('kubernetes'); package.__path__ = list(spec.submodule_search_locations); "
    "sys.modules['kubernetes'] = package"
)
_OWN = "import pod_meta_exporter.entrypoints.cli, pod_meta_exporter.adapters.kubernetes"

IMPORTS: tuple[tuple[str, str], ...] = (
    ("the interpreter (`python -c pass`)", "pass"),
    ("`import kubernetes.client`", "import kubernetes.client"),
    (
        "`kubernetes.client.CoreV1Api` (the class the old exporter avoided)",
        "from kubernetes import client; client.CoreV1Api",
    ),
    ("exporter modules (`entrypoints.cli` + `adapters.kubernetes`): in a pod", _OWN),
    (
        "exporter modules + the kubeconfig loader: with a kubeconfig",
        f"{_OWN}, pod_meta_exporter.adapters.kubernetes.kubeconfig, kubernetes.config",
    ),
    (
        "client internals only: `configuration`, `api_client`, `rest` (package `__init__` skipped)",
        f"{_STUB}; import kubernetes.client.configuration, kubernetes.client.api_client, "
        "kubernetes.client.rest",
    ),
    ("`ssl`", "import ssl"),
    ("`urllib3`", "import urllib3"),
    ("`prometheus_client`", "import prometheus_client"),
    ("`dependency_injector` (containers, providers)", "import dependency_injector.containers"),
)
MODES = ("in a pod", "kubeconfig")
RESTART_STREAMED = "restart, state streamed"
RESTART_LISTED = "restart, state listed (WatchList off)"


@dataclass
class Result:
    rss_kib: dict[str, dict[str, int]] = field(default_factory=dict)  # by mode, then situation
    hwm_kib: dict[str, dict[str, int]] = field(default_factory=dict)
    imports_kib: list[tuple[str, int]] = field(default_factory=list)
    # By mode: seconds spent importing during a start (python -X importtime, summed), modules
    # imported, and those of the official client.
    import_seconds: dict[str, float] = field(default_factory=dict)
    modules: dict[str, int] = field(default_factory=dict)
    client_modules: dict[str, int] = field(default_factory=dict)

    def record(self, mode: str, situation: str, rss: int, hwm: int) -> None:
        self.rss_kib.setdefault(mode, {})[situation] = rss
        self.hwm_kib.setdefault(mode, {})[situation] = hwm

    def growth_per_pod_kib(self, mode: str, low: str, high: str, pods: int) -> float:
        return (self.rss_kib[mode][high] - self.rss_kib[mode][low]) / pods


def import_rss(pythonpath: Path | None = None, *, hidden: Path | None = None) -> list[tuple[str, int]]:
    """Each row's VmRSS; the rows "in a pod" with `hidden` first on PYTHONPATH, as in the image."""
    figures = []
    for label, code in IMPORTS:
        paths = [hidden] if hidden is not None and "in a pod" in label else []
        paths += [pythonpath] if pythonpath is not None else []
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))} if paths else dict(os.environ)
        output = subprocess.run(
            [sys.executable, "-c", f"{code}; {_RSS}"], capture_output=True, text=True, check=True, env=env
        )
        figures.append((label, int(output.stdout.split()[-1])))
    return figures


def _create_up_to(
    api: KubeApi, factory: workload.Pods, created: list[dict[str, object]], count: int
) -> list[dict[str, object]]:
    """The pods created to bring `created` up to `count`, four at a time."""
    pods = factory.batch(range(len(created), count), prefix="mem")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda pod: workload.create_pod(api, pod), pods))
    return pods


def _delete(api: KubeApi, pods: list[dict[str, object]]) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda pod: workload.delete_pod(api, pod), pods))


class _Modes:
    """Makes exporters of either mode against one control plane: a kubeconfig (the admin's), or a
    pod's service account directory and environment, with the same token."""

    def __init__(self, cp: ControlPlane, *, workdir: Path, pythonpath: Path | None) -> None:
        self._cp, self._workdir, self._pythonpath = cp, workdir, pythonpath
        # In a pod the exporter runs from its image, which has neither the official client nor pydantic.
        self.image_packages = workload.without_packages(workdir / "not-in-the-image")
        self._in_cluster = InCluster.prepare(
            workdir / "serviceaccount", server=cp.server_url, ca_file=cp.ca_file, token=cp.admin_token
        )

    def exporter(self, mode: str, name: str, *, python_flags: tuple[str, ...] = ()) -> Exporter:
        in_pod = mode == "in a pod"
        slug = f"{'pod' if in_pod else 'kubeconfig'}-{name}"
        return workload.exporter(
            kubeconfig=None if in_pod else self._cp.kubeconfig_path,
            in_cluster=self._in_cluster if in_pod else None,
            directory=self._workdir / f"memory-meta-{slug}",
            log_path=self._workdir / f"memory-exporter-{slug}.log",
            pythonpath=self._pythonpath,
            python_flags=python_flags,
            hidden=self.image_packages if in_pod else None,
        )

    @contextlib.contextmanager
    def both(self, name: str) -> Iterator[dict[str, Exporter]]:
        exporters = {mode: self.exporter(mode, name) for mode in MODES}
        with exporters[MODES[0]], exporters[MODES[1]]:
            for exporter in exporters.values():
                exporter.wait_ready(timeout=120)
            yield exporters


def _holds(exporter: Exporter, pods: int) -> bool:
    return len(exporter.files()) >= pods


def _measure(result: Result, exporters: dict[str, Exporter], situation: str, *, pods: int) -> None:
    for exporter in exporters.values():
        wait_for(functools.partial(_holds, exporter, pods), timeout=120, what=f"{pods} files")
    for mode, exporter in exporters.items():
        result.record(mode, situation, exporter.stable_rss_kib(), exporter.hwm_kib())


def _import_time(modes: _Modes, mode: str) -> tuple[float, int, int]:
    """(seconds, modules, official client's modules) that a start imports, by `-X importtime`."""
    exporter = modes.exporter(mode, "importtime", python_flags=("-X", "importtime"))
    exporter.log_path.unlink(missing_ok=True)
    with exporter:
        exporter.wait_ready()
    imported = [
        line.split("|")
        for line in exporter.log_path.read_text().splitlines()
        if line.startswith("import time:") and line.count("|") == 2 and "self [us]" not in line
    ]
    seconds = sum(int(fields[0].removeprefix("import time:")) for fields in imported) / 1e6
    names = [fields[2].strip() for fields in imported]
    client = [name for name in names if name == "kubernetes" or name.startswith("kubernetes.")]
    return seconds, len(names), len(client)


def run(
    cp: ControlPlane, *, workdir: Path, counts: tuple[int, ...], pythonpath: Path | None = None
) -> Result:
    api = cp.admin
    workload.prepare_cluster(api)
    factory = workload.Pods(seed=4)
    modes = _Modes(cp, workdir=workdir, pythonpath=pythonpath)
    result = Result()
    for mode in MODES:
        seconds, modules, client = _import_time(modes, mode)
        result.import_seconds[mode], result.modules[mode], result.client_modules[mode] = (
            seconds,
            modules,
            client,
        )
    with modes.both("watching") as exporters:
        _measure(result, exporters, "0 pods (synced)", pods=0)
        created: list[dict[str, object]] = []
        for count in counts:
            created += _create_up_to(api, factory, created, count)
            label = f"{count:,} pods"
            _measure(result, exporters, label, pods=count)
            # A restart on this node: the same pods arrive at once, streamed in the watch.
            with modes.both(f"streamed-{count}") as restarted:
                _measure(result, restarted, f"{label}, {RESTART_STREAMED}", pods=count)
    # The same restarts against a server with WatchList off, which the exporter lists instead. A
    # pair of exporters of its own, so that the watching pair above never saw that server.
    _delete(api, created)
    with cp.restarted_with(["--feature-gates=WatchList=false"]):
        created = []
        for count in counts:
            created += _create_up_to(api, factory, created, count)
            with modes.both(f"listed-{count}") as restarted:
                _measure(result, restarted, f"{count:,} pods, {RESTART_LISTED}", pods=count)
    api.close()
    result.imports_kib = import_rss(pythonpath, hidden=modes.image_packages)
    return result
