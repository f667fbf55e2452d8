"""Event-to-file latency on the real API server: pods created and deleted at a steady rate, then flat out."""

from __future__ import annotations

import heapq
import itertools
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import workload
from support.kubeapi import ApiError
from support.metrics import Scrape, histogram_bound, histogram_delta, histogram_quantile
from support.waiting import wait_for

if TYPE_CHECKING:
    from support.control_plane import ControlPlane
    from support.exporter import Exporter
    from support.kubeapi import KubeApi, Reply

HISTOGRAM = "pod_meta_exporter_event_to_file_seconds"
_DELETE_AFTER = 1.0  # seconds a steady-phase pod lives: about rate * 1 s pods exist at any time


@dataclass
class Phase:
    name: str
    seconds: float  # from the first create sent to the last create answered
    created: int
    failed: int
    histogram: dict[float, float] = field(default_factory=dict)
    after_return: list[float] = field(default_factory=list)  # file mtime - create answered, seconds
    after_send: list[float] = field(default_factory=list)  # file mtime - create sent, seconds
    missing: int = 0
    rewritten: int = 0  # files written beyond one per pod: their mtime is not the first write's

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0

    @property
    def events(self) -> int:
        return int(max(self.histogram.values(), default=0))

    def quantile(self, q: float) -> float:
        return histogram_quantile(q, self.histogram)

    @property
    def bound(self) -> float:
        return histogram_bound(self.histogram)


@dataclass
class Result:
    phases: list[Phase]
    mtime_lag_ms: float  # how far a file's mtime can trail time.time() (the kernel's coarse clock)
    target_rate: float
    threads: int


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _mtime_lag(directory: Path) -> float:
    """The largest amount by which a new file's mtime precedes the time.time() read just before it."""
    lag = 0.0
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        for i in range(200):
            before = time.time_ns()
            path = Path(scratch) / f"f{i}"
            path.write_bytes(b"x")
            lag = max(lag, (before - path.stat().st_mtime_ns) / 1e6)
            time.sleep(0.0005)
    return lag


class _Recorder:
    """The creates of one phase: pod, and the Call that created it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: list[tuple[dict[str, Any], Reply]] = []
        self.failed = 0

    def create(self, api: KubeApi, pod: dict[str, Any]) -> Reply | None:
        try:
            call = workload.create_pod(api, pod)
        except (ApiError, OSError):
            with self.lock:
                self.failed += 1
            return None
        with self.lock:
            self.created.append((pod, call))
        return call

    def seconds(self) -> float:
        if not self.created:
            return 0.0
        return max(c.returned for _, c in self.created) - min(c.sent for _, c in self.created)


def _steady(api: KubeApi, *, rate: float, seconds: float, threads: int) -> _Recorder:
    """Creates on a fixed schedule (rate/s); each pod deleted _DELETE_AFTER seconds after its create."""
    count = int(rate * seconds)
    pods = workload.Pods(seed=2).batch(range(count), prefix="steady")
    recorder = _Recorder()
    deletes: list[tuple[float, int]] = []
    lock = threading.Lock()
    done = threading.Event()

    def create(index: int) -> None:
        if recorder.create(api, pods[index]) is not None:
            with lock:
                heapq.heappush(deletes, (time.monotonic() + _DELETE_AFTER, index))

    def deleter() -> None:
        while True:
            with lock:
                due = deletes[0][0] if deletes else None
                index = heapq.heappop(deletes)[1] if due is not None and due <= time.monotonic() else None
            if index is not None:
                workload.delete_pod(api, pods[index])
            elif due is None and done.is_set():
                return
            else:
                time.sleep(0.002)

    delete_thread = threading.Thread(target=deleter, name="deleter")
    delete_thread.start()
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix="create") as pool:
            start = time.monotonic() + 0.05
            for index in range(count):
                delay = start + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(create, index)
    finally:
        done.set()
        delete_thread.join()
    return recorder


def _burst(api: KubeApi, *, seconds: float, threads: int) -> _Recorder:
    """`threads` clients, each creating a pod and deleting it at once, for `seconds`."""
    pods = workload.Pods(seed=3).batch(range(int(seconds * 1000)), prefix="burst")
    recorder = _Recorder()
    counter = itertools.count()
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            index = next(counter)
            if index >= len(pods):
                return
            if recorder.create(api, pods[index]) is not None:
                workload.delete_pod(api, pods[index])

    workers = [threading.Thread(target=client, name=f"burst-{n}") for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return recorder


def _events(metrics: Scrape) -> tuple[float, float]:
    name = "pod_meta_exporter_events_total"
    return metrics.total(name, type="pod_upserted"), metrics.total(name, type="pod_deleted")


def _finish(name: str, recorder: _Recorder, exporter: Exporter, before: Scrape) -> Phase:
    """Wait until the exporter has seen every delete of the phase, then read its figures."""
    created = len(recorder.created)
    _, deleted_before = _events(before)
    wait_for(
        lambda: _events(exporter.metrics())[1] - deleted_before >= created,
        timeout=60,
        what=f"the exporter to see the {created} deletes of the {name} phase",
    )
    after = exporter.metrics()
    phase = Phase(
        name, recorder.seconds(), created, recorder.failed, histogram_delta(before, after, HISTOGRAM)
    )
    written = "pod_meta_exporter_files_written_total"
    phase.rewritten = int(after.total(written) - before.total(written)) - created
    for pod, call in recorder.created:
        try:
            mtime = (exporter.directory / workload.meta_name(pod)).stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            phase.missing += 1
            continue
        phase.after_return.append(mtime - call.returned)
        phase.after_send.append(mtime - call.sent)
    return phase


def run(
    cp: ControlPlane,
    *,
    workdir: Path,
    rate: float,
    steady_seconds: float,
    burst_seconds: float,
    threads: int = 4,
    pythonpath: Path | None = None,
) -> Result:
    api = cp.admin
    workload.prepare_cluster(api)
    destination = workdir / "latency-meta"
    destination.mkdir()
    lag = _mtime_lag(workdir)
    phases = []
    exporter = workload.exporter(
        kubeconfig=cp.kubeconfig_path,
        directory=destination,
        log_path=workdir / "latency-exporter.log",
        # Deleted pods' files outlive the run, so their mtimes can be read afterwards.
        args=["--retention-period=30m"],
        pythonpath=pythonpath,
    )
    with exporter:
        exporter.wait_ready()
        before = exporter.metrics()
        steady = _steady(api, rate=rate, seconds=steady_seconds, threads=threads)
        phases.append(_finish(f"steady {rate:.0f} pods/s", steady, exporter, before))
        before = exporter.metrics()
        burst = _burst(api, seconds=burst_seconds, threads=threads)
        phases.append(_finish(f"flat out, {threads} clients", burst, exporter, before))
    api.close()
    return Result(phases, lag, rate, threads)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "max": max(values, default=float("nan")),
        "mean": statistics.fmean(values) if values else float("nan"),
        "negative": sum(v < 0 for v in values) / len(values) if values else float("nan"),
    }
