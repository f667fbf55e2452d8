"""`pod-meta-exporter` as a real subprocess (the console script), as the tiers and the benchmarks run
it: from a workstation with a kubeconfig, or as in a pod; its HTTP endpoints, files and /proc figures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from support.metrics import Scrape, histogram_quantile
from support.processes import KILL_WITH_PARENT, LOOPBACK, free_port, tail
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

Json = dict[str, Any]

SCRIPT = Path(sys.executable).parent / "pod-meta-exporter"
EVENT_TO_FILE = "pod_meta_exporter_event_to_file_seconds"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class InCluster:
    """A pod's view of the API server: KUBERNETES_SERVICE_HOST/PORT, and the service account
    directory (token, ca.crt) at its standard path, /var/run/secrets/kubernetes.io/serviceaccount,
    which a private mount namespace binds there for the exporter alone (root only)."""

    service_account_dir: Path
    host: str
    port: int

    MOUNT = (
        "mount -t tmpfs -o mode=0755 pod-run /var/run"
        " && mkdir -p /var/run/secrets/kubernetes.io/serviceaccount"
        ' && mount --bind "$1" /var/run/secrets/kubernetes.io/serviceaccount && shift && exec "$@"'
    )

    @classmethod
    def prepare(cls, directory: Path, *, server: str, ca_file: Path, token: str) -> InCluster:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.crt").write_bytes(ca_file.read_bytes())
        host, _, port = server.removeprefix("https://").rpartition(":")
        in_cluster = cls(directory, host, int(port))
        in_cluster.write_token(token)
        return in_cluster

    def write_token(self, token: str) -> None:
        """Replace the token at once, as the kubelet swaps a projected volume's files."""
        fresh = self.service_account_dir / ".token.new"
        fresh.write_text(token)
        fresh.replace(self.service_account_dir / "token")

    @property
    def environ(self) -> dict[str, str]:
        return {"KUBERNETES_SERVICE_HOST": self.host, "KUBERNETES_SERVICE_PORT": str(self.port)}

    def wrap(self, argv: Sequence[str]) -> list[str]:
        return [
            "unshare", "--mount", "--propagation=private", "--",
            "sh", "-c", self.MOUNT, "sh", str(self.service_account_dir), *argv,
        ]  # fmt: skip


class Exporter:
    """One exporter on `node`, writing `directory`, on an HTTP port of its own. Without a kubeconfig
    it runs `in_cluster`, as in a pod. Its output (JSON log lines) goes to `log_path`; it is killed
    with this process if that dies first, and stopped (SIGTERM, then SIGKILL) by stop() or on exit."""

    def __init__(
        self,
        *,
        node: str,
        directory: Path,
        log_path: Path,
        kubeconfig: Path | None = None,
        in_cluster: InCluster | None = None,
        retention: str | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        python_flags: Sequence[str] = (),
        name: str = "exporter",
    ) -> None:
        """`env` is added to this process's environment (EXPORTER_* variables, a PYTHONPATH ahead of
        the editable install); `python_flags` go to the interpreter."""
        self.name = name
        self.node = node
        self.directory = directory
        self.log_path = log_path
        self.kubeconfig = kubeconfig
        self.in_cluster = in_cluster
        self.retention = retention
        self.args = list(args)
        self.env = dict(env or {})
        self.python_flags = list(python_flags)
        self.port = 0
        self.started_at = 0.0
        self._popen: subprocess.Popen[bytes] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, *, timeout: float = 30.0) -> Self:
        """Start it and wait until it serves HTTP (not until it is ready)."""
        attempts = 3  # another process may take the free port before the exporter binds it
        for attempt in range(1, attempts + 1):
            self._spawn()
            try:
                wait_for(self._serving, timeout=timeout, interval=0.05, what=f"{self.name} to serve HTTP")
            except AssertionError:
                lost_port = self.returncode is not None and "Address already in use" in self.log_tail(5)
                if not lost_port or attempt == attempts:
                    self.stop()
                    raise
            else:
                break
        return self

    @staticmethod
    def start_all(exporters: Sequence[Exporter], *, timeout: float = 300.0) -> None:
        """Start them all at once, as a DaemonSet rollout does, and wait until each serves HTTP.
        From the calling thread: each is killed when the thread that started it ends."""
        for exporter in exporters:
            exporter._spawn()
        for exporter in exporters:
            wait_for(exporter._serving, timeout=timeout, interval=0.1, what=f"{exporter.name} to serve HTTP")

    def _spawn(self) -> None:
        self.port = free_port()
        interpreter = [sys.executable, *self.python_flags] if self.python_flags else []
        argv = [
            *interpreter,
            str(SCRIPT),
            *([f"--kubeconfig={self.kubeconfig}"] if self.kubeconfig else []),
            f"--node-name={self.node}",
            f"--destination-dir={self.directory}",
            *([f"--retention-period={self.retention}"] if self.retention else []),
            f"--listen={LOOPBACK}:{self.port}",
            "--log-format=json",
            *self.args,
        ]
        env = {**os.environ, **self.env}
        if self.in_cluster is not None:
            argv = self.in_cluster.wrap(argv)
            env.update(self.in_cluster.environ)
        with self.log_path.open("ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            self.started_at = time.monotonic()
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
                preexec_fn=KILL_WITH_PARENT,  # noqa: PLW1509 - only calls prctl(2)
            )

    def _serving(self) -> bool:
        self.check_running()
        return self.status("/healthz") == 200

    def check_running(self) -> None:
        """AssertionError, with its log's tail, if it has exited."""
        if self.returncode is not None:
            msg = f"{self.name} exited with {self.returncode}:\n{self.log_tail(20)}"
            raise AssertionError(msg)

    @property
    def pid(self) -> int:
        assert self._popen is not None, "not started"
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def stop(self, *, timeout: float = 10.0) -> int | None:
        """SIGTERM (after SIGCONT, in case it is paused), then SIGKILL; always reaps it."""
        popen = self._popen
        if popen is None:
            return None
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(signal.SIGCONT)
                popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        return popen.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as when a node or container runtime kills it."""
        assert self._popen is not None, "not started"
        self._popen.kill()
        self._popen.wait()

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def log_records(self) -> list[Json]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    # -- HTTP -------------------------------------------------------------------------------

    def get(self, path: str, *, timeout: float = 10.0) -> tuple[int, str]:
        """The HTTP status and body of GET path; (0, "") when nothing answers."""
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{self.port}{path}", timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def status(self, path: str) -> int:
        return self.get(path, timeout=5)[0]

    def readyz(self) -> int:
        return self.status("/readyz")

    def ready(self) -> bool:
        return self.readyz() == 200

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        wait_for(lambda: self._serving() and self.ready(), timeout=timeout, what=f"{self.name} /readyz 200")

    def metrics(self) -> Scrape:
        self.check_running()
        status, text = self.get("/metrics")
        assert status == 200, f"{self.name} /metrics: HTTP {status}"
        return Scrape.parse(text)

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 for a labelled child that does not exist yet."""
        return self.metrics().value(name, **labels)

    def event_to_file_latency(self) -> tuple[int, dict[float, float]]:
        """The event-to-file histogram's count, and its p50, p90 and p99 in seconds."""
        buckets = self.metrics().buckets(EVENT_TO_FILE)
        assert buckets, f"{EVENT_TO_FILE} is not served"
        return int(buckets[max(buckets)]), {q: histogram_quantile(q, buckets) for q in (0.5, 0.9, 0.99)}

    # -- the directory ----------------------------------------------------------------------

    def files(self) -> set[str]:
        """The metadata files, without the writer's hidden temporaries."""
        return {path.name for path in self.directory.iterdir() if not path.name.startswith(".")}

    def hidden_files(self) -> set[str]:
        return {path.name for path in self.directory.iterdir() if path.name.startswith(".")}

    def document(self, filename: str) -> Json | None:
        """The file's JSON, or None if it does not exist."""
        try:
            document: Json = json.loads((self.directory / filename).read_bytes())
        except FileNotFoundError:
            return None
        return document

    def wait_document(self, filename: str, *, timeout: float = 10.0) -> Json:
        """The file's JSON, once it exists."""
        document = wait_for(lambda: self.document(filename), timeout=timeout, what=f"{filename} written")
        assert document is not None
        return document

    def file_uid(self, filename: str) -> str | None:
        document = self.document(filename)
        return None if document is None else str(document["metadata"]["uid"])

    # -- /proc ------------------------------------------------------------------------------

    def rss_kib(self) -> int:
        return _status_kib(self.pid, "VmRSS")

    def hwm_kib(self) -> int:
        return _status_kib(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        """utime + stime, from /proc/<pid>/stat (fields 14 and 15)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

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


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    msg = f"no {field} in /proc/{pid}/status"
    raise AssertionError(msg)
