"""The exporter as a subprocess (the console script), its /metrics, and its /proc figures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from kubeapi import NODE
from waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from harness import InCluster

SCRIPT = Path(sys.executable).parent / "pod-meta-exporter"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ExporterError(RuntimeError):
    """The exporter exited, or never became ready."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Exporter:
    """pod-meta-exporter on NODE, writing `destination`; stopped (SIGTERM, then SIGKILL) on exit.
    With a kubeconfig it runs as from a workstation; with `in_cluster` instead, as in a pod."""

    def __init__(
        self,
        *,
        kubeconfig: Path | None,
        destination: Path,
        log_path: Path,
        args: Sequence[str] = (),
        pythonpath: Path | None = None,
        in_cluster: InCluster | None = None,
        python_flags: Sequence[str] = (),
    ) -> None:
        self.destination = destination
        self.log_path = log_path
        self.port = _free_port()
        self.argv = [
            *([sys.executable, *python_flags] if python_flags else []),
            str(SCRIPT),
            *([f"--kubeconfig={kubeconfig}"] if kubeconfig else []),
            f"--destination-dir={destination}",
            f"--node-name={NODE}",
            f"--listen=127.0.0.1:{self.port}",
            "--log-format=json",
            "--log-level=warning",
            *args,
        ]
        self._env = dict(os.environ)
        if pythonpath is not None:  # a scratch copy of src/ to try a change, ahead of the editable install
            self._env["PYTHONPATH"] = str(pythonpath)
        if in_cluster is not None:
            self.argv = in_cluster.wrap(self.argv)
            self._env.update(in_cluster.environ)
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # in case a scenario left it stopped
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def signal(self, signum: int) -> None:
        assert self._process is not None
        self._process.send_signal(signum)

    def get(self, path: str) -> tuple[int, str]:
        self._check_running()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_for(self.ready, timeout=timeout, what=f"the exporter's /readyz (log: {self.log_path})")

    def metrics(self) -> Metrics:
        status, text = self.get("/metrics")
        if status != 200:
            msg = f"/metrics: HTTP {status}"
            raise ExporterError(msg)
        return Metrics.parse(text)

    def files(self) -> set[str]:
        return {path.name for path in self.destination.iterdir() if path.name.endswith(".meta")}

    def rss_kib(self) -> int:
        return _status_kib(self.pid, "VmRSS")

    def hwm_kib(self) -> int:
        return _status_kib(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stable_rss_kib(self, *, interval: float = 0.5, samples: int = 4, timeout: float = 20.0) -> int:
        """VmRSS once `samples` readings in a row agree within 1% (or the median of the last ones)."""
        readings: list[int] = []
        deadline = time.monotonic() + timeout
        while True:
            readings.append(self.rss_kib())
            last = readings[-samples:]
            if len(last) == samples and max(last) - min(last) <= max(last) // 100:
                return sorted(last)[samples // 2]
            if time.monotonic() > deadline:
                return sorted(last)[len(last) // 2]
            time.sleep(interval)

    def _check_running(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
            msg = f"the exporter exited with status {code}; log tail:\n{tail}"
            raise ExporterError(msg)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    msg = f"no {field} in /proc/{pid}/status"
    raise ExporterError(msg)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass(frozen=True, slots=True)
class Metrics:
    """A /metrics scrape: samples by name, each with its labels."""

    samples: dict[str, list[tuple[dict[str, str], float]]]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            head, value = line.rsplit(" ", 1)
            name, _, rest = head.partition("{")
            labels = {}
            for pair in rest.rstrip("}").split(","):
                if pair:
                    key, _, quoted = pair.partition("=")
                    labels[key] = quoted.strip('"')
            samples.setdefault(name, []).append((labels, float(value)))
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels`."""
        return sum(
            value
            for have, value in self.samples.get(name, [])
            if all(have.get(key) == want for key, want in labels.items())
        )

    def buckets(self, name: str) -> dict[float, float]:
        """A histogram's cumulative bucket counts by upper bound."""
        return {float(labels["le"]): value for labels, value in self.samples.get(f"{name}_bucket", [])}


def histogram_delta(before: Metrics, after: Metrics, name: str) -> dict[float, float]:
    old = before.buckets(name)
    return {bound: count - old.get(bound, 0.0) for bound, count in after.buckets(name).items()}


def histogram_quantile(buckets: dict[float, float], q: float) -> float:
    """Prometheus's histogram_quantile: linear within the bucket that holds the rank."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if not total:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below) if count > below else bound
        lower, below = bound, count
    return lower


def histogram_bound(buckets: dict[float, float]) -> float:
    """The upper bound of the highest non-empty bucket: every observation was at most this."""
    highest, previous = float("nan"), 0.0
    for bound in sorted(buckets):
        if buckets[bound] > previous:
            highest = bound
        previous = buckets[bound]
    return highest
