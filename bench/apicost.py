"""The exporter's requests to the API server, counted from the audit log, and its CPU on a quiet node."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import workload
from support import identity
from support.control_plane import AuditedRequest, ControlPlane
from support.waiting import wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from support.control_plane import Binaries
    from support.exporter import Exporter
    from support.kubeapi import KubeApi

PODS = 110  # the kubelet's default maximum per node
USER = identity.SERVICE_ACCOUNT_USER  # the audit policy logs this user's requests
RELISTS = "pod_meta_exporter_relists_total"
RESTARTS = "pod_meta_exporter_watch_restarts_total"


@dataclass
class Window:
    name: str
    seconds: float
    requests: list[AuditedRequest] = field(default_factory=list)

    def by_verb(self) -> Counter[tuple[str, str]]:
        """Requests by verb ("watch (state streamed)" for a WatchList one) and resource."""
        return Counter((verb(r), r.resource) for r in self.requests)

    def syncs(self) -> int:
        """Lists, and watches that stream the state first: the requests that fetch every pod."""
        return sum(1 for r in self.requests if r.verb == "list" or is_stream(r))


def is_stream(request: AuditedRequest) -> bool:
    return request.parameters.get("sendInitialEvents") == "true"


def verb(request: AuditedRequest) -> str:
    return "watch (state streamed)" if is_stream(request) else request.verb


@dataclass
class Result:
    user: str
    windows: list[Window]
    cpu_windows: list[tuple[float, float]]  # (seconds, CPU seconds) of consecutive quiet windows
    quiet_seconds: float
    watch_timeouts: list[int]
    relists: float  # the exporter's relists_total after the forced 410
    files_after_410: bool  # the pods changed while it was stopped have their files
    since_event_after_quiet: float  # the exporter's seconds_since_last_event (bookmarks count)

    @property
    def idle_cpu_percent(self) -> float:
        seconds = sum(s for s, _ in self.cpu_windows)
        return 100 * sum(c for _, c in self.cpu_windows) / seconds if seconds else float("nan")

    @property
    def idle_cpu_percent_max_window(self) -> float:
        return max((100 * c / s for s, c in self.cpu_windows if s), default=float("nan"))


def _quiet(exporter: Exporter, *, seconds: float, window: float) -> list[tuple[float, float]]:
    """CPU seconds of consecutive windows while nothing changes and nobody scrapes the exporter."""
    windows = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 1:
        started, cpu = time.monotonic(), exporter.cpu_seconds()
        time.sleep(min(window, left))
        windows.append((time.monotonic() - started, exporter.cpu_seconds() - cpu))
    return windows


def _restart(cp: ControlPlane, exporter: Exporter, args: list[str]) -> None:
    """The API server restarted with `args`: the watch is cut, and the exporter watches again."""
    before = exporter.metrics().total(RESTARTS)
    cp.stop_apiserver()
    cp.start_apiserver(args)
    wait_for(
        lambda: exporter.metrics().total(RESTARTS) > before and exporter.ready(),
        timeout=90,
        what="the exporter to watch again after the API server's restart",
    )


def _forced_410(cp: ControlPlane, exporter: Exporter, api: KubeApi, pods: workload.Pods) -> bool:
    """The exporter stopped while the API server restarts, pods change and etcd is compacted past
    its resourceVersion; without the watch cache its next watch reaches etcd. True once the new
    pods' files are written."""
    relists = exporter.metrics().total(RELISTS)
    new = pods.batch(range(PODS, PODS + 10), prefix="api")
    exporter.pause()
    try:
        cp.stop_apiserver()
        cp.start_apiserver()
        for pod in pods.batch(range(10), prefix="api"):
            workload.delete_pod(api, pod)
        for pod in new:
            workload.create_pod(api, pod)
        cp.compact_etcd()
    finally:
        exporter.resume()
    wait_for(
        lambda: exporter.metrics().total(RELISTS) > relists and exporter.ready(),
        timeout=90,
        what="the exporter to list again after the forced 410",
    )
    expected = {workload.meta_name(p) for p in new}
    return bool(wait_for(lambda: expected <= exporter.files(), timeout=30, what="the new pods' files"))


def run(
    binaries: Binaries | None,
    *,
    workdir: Path,
    quiet_seconds: float,
    cpu_window: float,
    pythonpath: Path | None = None,
) -> Result:
    marks = []
    with ControlPlane(binaries, workdir=workdir / "controlplane", audited_user=USER) as cp:
        api = cp.admin
        workload.prepare_cluster(api)
        kubeconfig = workdir / "exporter.kubeconfig"
        workload.service_account_kubeconfig(
            api, server_url=cp.server_url, ca_file=cp.ca_file, path=kubeconfig
        )
        pods = workload.Pods(seed=5)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda p: workload.create_pod(api, p), pods.batch(range(PODS), prefix="api")))
        exporter = workload.exporter(
            kubeconfig=kubeconfig,
            directory=workdir / "api-meta",
            log_path=workdir / "api-exporter.log",
            pythonpath=pythonpath,
        )
        marks.append(time.time())
        with exporter:
            exporter.wait_ready()
            wait_for(lambda: len(exporter.files()) >= PODS, timeout=60, what=f"{PODS} files")
            time.sleep(2)
            marks.append(time.time())
            cpu_windows = _quiet(exporter, seconds=quiet_seconds, window=cpu_window)
            marks.append(time.time())
            since_event = exporter.metrics().total("pod_meta_exporter_seconds_since_last_event")
            _restart(cp, exporter, ["--watch-cache=false"])
            time.sleep(2)
            marks.append(time.time())
            files_ok = _forced_410(cp, exporter, api, pods)
            time.sleep(2)
            marks.append(time.time())
            relists = exporter.metrics().total(RELISTS)
        api.close()
        requests = cp.audited_requests()
    names = ["start (until synced)", "quiet", "API server restart (watch cache off)", "forced 410"]
    windows = [Window(name, marks[i + 1] - marks[i]) for i, name in enumerate(names)]
    for request in requests:
        for i, window in enumerate(windows):
            if marks[i] <= request.received < marks[i + 1]:
                window.requests.append(request)
    timeouts = [t for r in requests if r.verb == "watch" and (t := r.timeout_seconds) is not None]
    return Result(
        user=USER,
        windows=windows,
        cpu_windows=cpu_windows,
        quiet_seconds=marks[2] - marks[1],
        watch_timeouts=timeouts,
        relists=relists,
        files_after_410=files_ok,
        since_event_after_quiet=since_event,
    )
