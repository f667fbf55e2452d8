"""The integration tier's tools: a JSON client for the test API server, and the exporter as a subprocess."""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.parser import text_string_to_metric_families

import manifests
from waiting import wait_for

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from prometheus_client.metrics_core import Metric

    from integration.kube_control_plane import ControlPlane

Json = dict[str, Any]

EXPORTER_BIN = Path(sys.executable).parent / "pod-meta-exporter"
NODE = "node-a"  # the exporters' node
OTHER_NODE = "node-b"
NODES = (NODE, OTHER_NODE)
IMAGE = "registry.example/app:1.0"  # never pulled: no kubelet runs
_LOOPBACK = "127.0.0.1"
DEFAULT_RETENTION = "3s"  # short, so that tests can wait for removals
# Without a grace period for watches, kube-apiserver does not exit on SIGTERM while a watch is
# open: stop_apiserver() would wait 15s for it and then SIGKILL it.
APISERVER_ARGS = ("--shutdown-watch-termination-grace-period=1s",)


class ApiError(RuntimeError):
    """The API server answered with a status the caller did not expect."""

    def __init__(self, method: str, path: str, status: int, body: Json) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body.get('message', body)}")
        self.status = status
        self.body = body


class Kube:
    """One identity's JSON requests to the test API server (a bearer token, TLS verified)."""

    def __init__(self, *, server: str, ssl_context: ssl.SSLContext, token: str) -> None:
        self.server = server
        self._ssl_context = ssl_context
        self._token = token

    def call(
        self,
        method: str,
        path: str,
        body: Json | None = None,
        *,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> tuple[int, Json]:
        """(status, decoded body) for any HTTP status."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.server + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._ssl_context) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _decode(error.read())

    def expect(
        self,
        method: str,
        path: str,
        body: Json | None = None,
        *,
        ok: Iterable[int] = (200, 201),
        content_type: str = "application/json",
    ) -> Json:
        status, answer = self.call(method, path, body, content_type=content_type)
        if status not in set(ok):
            raise ApiError(method, path, status, answer)
        return answer


def admin_of(control_plane: ControlPlane) -> Kube:
    """system:masters, through the control plane's static token: for tests, never the exporter."""
    return Kube(
        server=control_plane.server_url,
        ssl_context=control_plane.ssl_context,
        token=control_plane.admin_token,
    )


def _decode(raw: bytes) -> Json:
    if not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except ValueError:
        try:  # a watch: one JSON event per line
            return {"lines": [json.loads(line) for line in raw.splitlines() if line.strip()]}
        except ValueError:  # /readyz and the like
            return {"text": raw.decode(errors="replace")}
    return decoded if isinstance(decoded, dict) else {"value": decoded}


# --- objects ---------------------------------------------------------------------------------


def unique_name(prefix: str, *, limit: int = 63) -> str:
    """A DNS-1123 label: the prefix cut to fit, and a random suffix."""
    cleaned = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")
    suffix = secrets.token_hex(3)
    return f"{cleaned[: limit - len(suffix) - 1].rstrip('-')}-{suffix}"


def create_namespace(kube: Kube, name: str) -> Json:
    return kube.expect(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )


def pod_manifest(
    namespace: str,
    name: str,
    *,
    node: str = NODE,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner_references: list[Json] | None = None,
    env: dict[str, str] | None = None,
) -> Json:
    """A pod already bound to a node: no scheduler or kubelet runs, so it stays Pending there."""
    metadata: Json = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if annotations is not None:
        metadata["annotations"] = annotations
    if owner_references is not None:
        metadata["ownerReferences"] = owner_references
    container: Json = {"name": "app", "image": IMAGE}
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"nodeName": node, "containers": [container]},
    }


def create_pod(
    kube: Kube,
    namespace: str,
    name: str,
    *,
    node: str = NODE,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner_references: list[Json] | None = None,
    env: dict[str, str] | None = None,
) -> Json:
    """Create the pod; the API's answer (with its uid)."""
    manifest = pod_manifest(
        namespace,
        name,
        node=node,
        labels=labels,
        annotations=annotations,
        owner_references=owner_references,
        env=env,
    )
    return kube.expect("POST", f"/api/v1/namespaces/{namespace}/pods", manifest)


def delete_pod(kube: Kube, namespace: str, name: str) -> None:
    """Delete at once: without a kubelet, a graceful deletion would never finish."""
    kube.expect("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0")


def delete_pods(kube: Kube, namespace: str) -> None:
    kube.expect("DELETE", f"/api/v1/namespaces/{namespace}/pods?gracePeriodSeconds=0")


def merge_patch(kube: Kube, path: str, patch: Json) -> Json:
    return kube.expect("PATCH", path, patch, content_type="application/merge-patch+json")


def uid(obj: Json) -> str:
    value: str = obj["metadata"]["uid"]
    return value


def pod_file(namespace: str, name: str) -> str:
    return f"{namespace}_{name}.meta"


def namespace_file(namespace: str) -> str:
    return f"{namespace}.namespace_meta"


def can(kube: Kube, *, verb: str, resource: str, group: str = "", namespace: str = "") -> bool:
    """A SelfSubjectAccessReview: may this identity do it?"""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
        },
    }
    answer = kube.expect("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    return bool(answer["status"].get("allowed"))


# --- the exporter's identity: deploy/'s RBAC ----------------------------------------------------

SERVICE_ACCOUNT = ("logging", "fluent-bit")  # deploy/fluent-bit/serviceaccount.yaml
SERVICE_ACCOUNT_USER = "system:serviceaccount:logging:fluent-bit"
RBAC_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")


def rbac_objects(directory: Path = manifests.BASE_DIR) -> list[Json]:
    return [obj for obj in manifests.render(directory) if obj["kind"] in RBAC_KINDS]


def create_deploy_rbac(admin: Kube) -> None:
    """deploy/fluent-bit's Namespace, ServiceAccount, ClusterRole and binding, created through the API."""
    paths = {
        "Namespace": "/api/v1/namespaces",
        "ServiceAccount": f"/api/v1/namespaces/{SERVICE_ACCOUNT[0]}/serviceaccounts",
        "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    }
    for obj in rbac_objects():
        admin.expect("POST", paths[obj["kind"]], obj)


def service_account_token(admin: Kube, *, seconds: int = 3600, bound_to: Json | None = None) -> str:
    """A token for deploy/'s ServiceAccount, from the TokenRequest API; bound to an object, it is
    invalid once that object is deleted, as a pod's token is once the pod is gone."""
    namespace, name = SERVICE_ACCOUNT
    spec: Json = {"expirationSeconds": seconds}
    if bound_to is not None:
        metadata = bound_to["metadata"]
        spec["boundObjectRef"] = {
            "apiVersion": bound_to["apiVersion"],
            "kind": bound_to["kind"],
            "name": metadata["name"],
            "uid": metadata["uid"],
        }
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    answer = admin.expect("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", request)
    token: str = answer["status"]["token"]
    return token


# --- the exporter ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def write_kubeconfig(path: Path, *, server: str, ca_file: Path, token: str, user: str) -> Path:
    """A kubeconfig for one token, trusting only the test CA (JSON is valid YAML)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
        "current-context": "test",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


def _kill_with_parent() -> Callable[[], None] | None:
    """Linux: the kernel SIGKILLs the exporter if pytest dies before its teardown (a backstop)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


_PREEXEC = _kill_with_parent()


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


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
        in_cluster = cls(directory, *_host_and_port(server))
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


def _host_and_port(server: str) -> tuple[str, int]:
    host, _, port = server.removeprefix("https://").rpartition(":")
    return host, int(port)


class Exporter:
    """`pod-meta-exporter` as a real subprocess of this test run, on an HTTP port of its own.

    Its stderr (JSON log lines) goes to a file, read back by log_tail() for a failure's report.
    """

    def __init__(
        self,
        *,
        name: str,
        kubeconfig: Path | None,
        directory: Path,
        log_path: Path,
        retention: str,
        args: Sequence[str] = (),
        node: str = NODE,
        env: Mapping[str, str] | None = None,
        in_cluster: InCluster | None = None,
        python_flags: Sequence[str] = (),
    ) -> None:
        """`env` is added to this process's environment (for `EXPORTER_*` variables). Without a
        kubeconfig it runs `in_cluster`, as in a pod; `python_flags` go to the interpreter."""
        self.name = name
        self.kubeconfig = kubeconfig
        self.directory = directory
        self.log_path = log_path
        self.retention = retention
        self.args = list(args)
        self.node = node
        self.env = dict(env or {})
        self.in_cluster = in_cluster
        self.python_flags = list(python_flags)
        self.port = 0
        self.started_at = 0.0
        self._popen: subprocess.Popen[bytes] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, *, timeout: float = 30.0) -> Exporter:
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

    def _spawn(self) -> None:
        self.port = free_port()
        interpreter = [sys.executable, *self.python_flags] if self.python_flags else []
        argv = [
            *interpreter,
            str(EXPORTER_BIN),
            *([f"--kubeconfig={self.kubeconfig}"] if self.kubeconfig else []),
            f"--node-name={self.node}",
            f"--destination-dir={self.directory}",
            f"--retention-period={self.retention}",
            f"--listen={_LOOPBACK}:{self.port}",
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
                preexec_fn=_PREEXEC,  # noqa: PLW1509 - only calls prctl(2)
            )

    def _serving(self) -> bool:
        if self.returncode is not None:
            msg = f"{self.name} exited with {self.returncode}:\n{self.log_tail(20)}"
            raise AssertionError(msg)
        return self.status("/healthz") == 200

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
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_records(self) -> list[Json]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    # -- HTTP -------------------------------------------------------------------------------

    def status(self, path: str) -> int:
        """The HTTP status of GET path, or 0 when nothing answers."""
        try:
            with urllib.request.urlopen(f"http://{_LOOPBACK}:{self.port}{path}", timeout=5) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            with error:
                return error.code
        except OSError:
            return 0

    def readyz(self) -> int:
        return self.status("/readyz")

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        wait_for(
            lambda: self._serving() and self.readyz() == 200, timeout=timeout, what=f"{self.name} /readyz 200"
        )

    def metric_families(self) -> list[Metric]:
        with urllib.request.urlopen(f"http://{_LOOPBACK}:{self.port}/metrics", timeout=5) as response:
            text = response.read().decode()
        return list(text_string_to_metric_families(text))

    def samples(self) -> list[Sample]:
        return [
            Sample(sample.name, dict(sample.labels), sample.value)
            for family in self.metric_families()
            for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 for a labelled child that does not exist yet."""
        matching = [s.value for s in self.samples() if s.name == name and s.labels == labels]
        assert len(matching) <= 1, f"{name}{labels} matches {len(matching)} samples"
        return matching[0] if matching else 0.0

    def event_to_file_latency(self) -> tuple[int, dict[float, float]]:
        """The event-to-file histogram's count, and its p50, p90 and p99 in seconds."""
        buckets = sorted(
            (float(sample.labels["le"]), sample.value)
            for sample in self.samples()
            if sample.name == "pod_meta_exporter_event_to_file_seconds_bucket"
        )
        assert buckets, "pod_meta_exporter_event_to_file_seconds is not served"
        assert buckets[-1][0] == math.inf
        return int(buckets[-1][1]), {q: histogram_quantile(q, buckets) for q in (0.5, 0.9, 0.99)}

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


class Exporters:
    """Starts exporters for one test; each is stopped (SIGTERM, then SIGKILL) when the test ends."""

    def __init__(self, *, kubeconfig: Path, tmp_path: Path, started: list[Exporter]) -> None:
        self._kubeconfig = kubeconfig
        self._tmp_path = tmp_path
        self.started = started

    def start(
        self,
        *,
        directory: Path | None = None,
        retention: str = DEFAULT_RETENTION,
        args: tuple[str, ...] = (),
        in_cluster: InCluster | None = None,
        kubeconfig: Path | None = None,
        python_flags: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> Exporter:
        """Start one and wait until its /readyz answers 200: with deploy/'s ServiceAccount's
        kubeconfig (or the one given), or `in_cluster` as in a pod; `env` adds EXPORTER_* variables."""
        number = len(self.started) + 1
        exporter = Exporter(
            name=f"exporter-{number}",
            kubeconfig=None if in_cluster else kubeconfig or self._kubeconfig,
            directory=directory or self._tmp_path / "meta",
            log_path=self._tmp_path / f"exporter-{number}.log",
            retention=retention,
            args=args,
            in_cluster=in_cluster,
            python_flags=python_flags,
            env=env,
        )
        self.started.append(exporter)
        exporter.start()
        exporter.wait_ready()
        return exporter

    def stop_all(self) -> None:
        for exporter in self.started:
            exporter.stop()


# --- latency ---------------------------------------------------------------------------------


def histogram_quantile(quantile: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's histogram_quantile over (upper bound, cumulative count) pairs, +Inf last."""
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank = quantile * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound  # not reached: the +Inf bucket holds the total
