"""Exporter RSS with 0, 110, 500 and 2,000 pods on its node, and what its imports alone cost."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import kubeapi
from exporter import Exporter, wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from kube_control_plane import ControlPlane

_RSS = 'import re; print(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1))'

# The official client's own package __init__ runs first whatever submodule is imported; this stub
# skips it, to see what the request machinery alone (configuration, api_client, rest) would cost.
_STUB = (
    "import importlib.util, sys, types; "
    "spec = importlib.util.find_spec('kubernetes'); "
    "package = types.ModuleType('kubernetes'); package.__path__ = list(spec.submodule_search_locations); "
    "sys.modules['kubernetes'] = package"
)

IMPORTS: tuple[tuple[str, str], ...] = (
    ("the interpreter (`python -c pass`)", "pass"),
    ("`import kubernetes.client`", "import kubernetes.client"),
    (
        "`kubernetes.client.CoreV1Api` (the class the exporter builds)",
        "from kubernetes import client; client.CoreV1Api",
    ),
    (
        "exporter modules (`entrypoints.cli` + `adapters.kubernetes`), import only",
        "import pod_meta_exporter.entrypoints.cli, pod_meta_exporter.adapters.kubernetes",
    ),
    (
        "exporter modules + `CoreV1Api`",
        "import pod_meta_exporter.entrypoints.cli, pod_meta_exporter.adapters.kubernetes; "
        "from kubernetes import client; client.CoreV1Api",
    ),
    (
        "client internals only: `configuration`, `api_client`, `rest` (package `__init__` skipped)",
        f"{_STUB}; import kubernetes.client.configuration, kubernetes.client.api_client, "
        "kubernetes.client.rest",
    ),
    (
        "no client: `urllib3`, `yaml`, `prometheus_client`, `dependency_injector`",
        "import urllib3, yaml, ssl, json, prometheus_client, dependency_injector.containers",
    ),
)


@dataclass
class Result:
    rss_kib: dict[str, int] = field(default_factory=dict)  # by situation
    hwm_kib: dict[str, int] = field(default_factory=dict)
    imports_kib: list[tuple[str, int]] = field(default_factory=list)

    def growth_per_pod_kib(self, low: str, high: str, pods: int) -> float:
        return (self.rss_kib[high] - self.rss_kib[low]) / pods


def import_rss(pythonpath: Path | None = None) -> list[tuple[str, int]]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    figures = []
    for label, code in IMPORTS:
        output = subprocess.run(
            [sys.executable, "-c", f"{code}; {_RSS}"], capture_output=True, text=True, check=True, env=env
        )
        figures.append((label, int(output.stdout.split()[-1])))
    return figures


def _create(api: kubeapi.Api, pods: list[dict[str, object]], *, threads: int = 4) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda pod: kubeapi.create_pod(api, pod), pods))


def _listed(cp: ControlPlane, *, workdir: Path, pods: int, pythonpath: Path | None) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a second exporter started when `pods` pods exist: they come in one list."""
    restarted = Exporter(
        kubeconfig=cp.kubeconfig_path,
        destination=workdir / f"memory-meta-listed-{pods}",
        log_path=workdir / f"memory-exporter-listed-{pods}.log",
        pythonpath=pythonpath,
    )
    with restarted:
        restarted.wait_ready(timeout=120)
        wait_for(lambda: len(restarted.files()) >= pods, timeout=120, what=f"{pods} files")
        return restarted.stable_rss_kib(), restarted.hwm_kib()


def run(
    cp: ControlPlane, *, workdir: Path, counts: tuple[int, ...], pythonpath: Path | None = None
) -> Result:
    api = kubeapi.Api(cp.server_url, cp.ssl_context, cp.admin_token)
    kubeapi.prepare_cluster(api)
    factory = kubeapi.Pods(seed=4)
    result = Result()
    exporter = Exporter(
        kubeconfig=cp.kubeconfig_path,
        destination=workdir / "memory-meta",
        log_path=workdir / "memory-exporter.log",
        pythonpath=pythonpath,
    )
    with exporter:
        exporter.wait_ready()
        wait_for(lambda: not exporter.files(), timeout=30, what="an empty directory")
        result.rss_kib["0 pods (synced)"] = exporter.stable_rss_kib()
        result.hwm_kib["0 pods (synced)"] = exporter.hwm_kib()
        created = 0
        for count in counts:
            _create(api, factory.batch(range(created, count), prefix="mem"))
            created = count
            wait_for(lambda: len(exporter.files()) >= count, timeout=120, what=f"{count} files")  # noqa: B023
            label = f"{count:,} pods"
            result.rss_kib[label] = exporter.stable_rss_kib()
            result.hwm_kib[label] = exporter.hwm_kib()
            # A restart on this node: the same pods arrive in one list instead of one by one.
            listed = f"{label}, listed at start"
            result.rss_kib[listed], result.hwm_kib[listed] = _listed(
                cp, workdir=workdir, pods=count, pythonpath=pythonpath
            )
    api.close()
    result.imports_kib = import_rss(pythonpath)
    return result
