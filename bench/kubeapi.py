"""The harness's own API client: keep-alive HTTPS per thread, pods to create, a node, a ServiceAccount."""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import podgen

if TYPE_CHECKING:
    import ssl

NODE = "bench-node"
NAMESPACES = tuple(f"team-{i}" for i in range(7))  # podgen's namespaces
_SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "managedFields")


class ApiError(RuntimeError):
    """The API server answered with an unexpected status."""


@dataclass(frozen=True, slots=True)
class Call:
    status: int
    body: bytes
    sent: float  # time.time() before the request was written
    returned: float  # time.time() once the whole response was read


class Api:
    """A tiny client: one persistent TLS connection per thread (urllib would handshake per request)."""

    def __init__(self, server_url: str, context: ssl.SSLContext, token: str) -> None:
        host, port = server_url.removeprefix("https://").rsplit(":", 1)
        self._host, self._port, self._context = host, int(port), context
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._local = threading.local()

    def call(self, method: str, path: str, body: Any = None) -> Call:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            connection = self._connection()
            sent = time.time()
            try:
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                if attempt:
                    raise
                continue
            return Call(response.status, payload, sent, time.time())
        raise AssertionError  # unreachable: the loop returns or raises

    def ok(self, method: str, path: str, body: Any = None, *, accept: tuple[int, ...] = ()) -> Any:
        result = self.call(method, path, body)
        if result.status >= 300 and result.status not in accept:
            msg = f"{method} {path}: HTTP {result.status}: {result.body[:400].decode(errors='replace')}"
            raise ApiError(msg)
        return json.loads(result.body) if result.body else None

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _connection(self) -> http.client.HTTPSConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPSConnection(
                self._host, self._port, context=self._context, timeout=60
            )
            self._local.connection = connection
        return connection


def prepare_cluster(api: Api) -> None:
    """The node the exporter watches and the namespaces of podgen's pods."""
    api.ok("POST", "/api/v1/nodes", {"metadata": {"name": NODE}}, accept=(409,))
    for namespace in NAMESPACES:
        api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}, accept=(409,))


class Pods:
    """podgen pods (several containers, env, probes, owner, labels, annotations) bound to NODE, to create.

    A few hundred distinct bodies are generated once; each pod is a shallow copy with its own name.
    The API server ignores the status of a created pod and sets the server-side fields itself.
    """

    def __init__(self, *, seed: int = 1, distinct: int = 200) -> None:
        rng = random.Random(seed)
        self._templates = [self._template(podgen.pod(i, node=NODE, rng=rng)) for i in range(distinct)]

    @staticmethod
    def _template(pod: dict[str, Any]) -> dict[str, Any]:
        for key in (*_SERVER_SET, "generateName"):
            pod["metadata"].pop(key, None)
        pod.pop("status")
        for key in ("priority", "preemptionPolicy"):  # the Priority admission plugin refuses them
            pod["spec"].pop(key, None)
        return pod

    def pod(self, index: int, *, prefix: str) -> dict[str, Any]:
        template = self._templates[index % len(self._templates)]
        metadata = {
            **template["metadata"],
            "name": f"{prefix}-{index:05d}",
            "namespace": NAMESPACES[index % len(NAMESPACES)],
        }
        return {**template, "metadata": metadata}

    def batch(self, indexes: range, *, prefix: str) -> list[dict[str, Any]]:
        return [self.pod(i, prefix=prefix) for i in indexes]


def pod_path(pod: dict[str, Any]) -> str:
    return f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods"


def meta_name(pod: dict[str, Any]) -> str:
    """The exporter's file for this pod."""
    return f"{pod['metadata']['namespace']}_{pod['metadata']['name']}.meta"


def create_pod(api: Api, pod: dict[str, Any]) -> Call:
    result = api.call("POST", pod_path(pod), pod)
    if result.status != 201:
        msg = f"create {meta_name(pod)}: HTTP {result.status}: {result.body[:400].decode(errors='replace')}"
        raise ApiError(msg)
    return result


def delete_pod(api: Api, pod: dict[str, Any]) -> Call:
    path = f"{pod_path(pod)}/{pod['metadata']['name']}"
    result = api.call("DELETE", path, {"gracePeriodSeconds": 0})
    if result.status not in (200, 202, 404):
        msg = f"delete {meta_name(pod)}: HTTP {result.status}: {result.body[:400].decode(errors='replace')}"
        raise ApiError(msg)
    return result


def service_account_kubeconfig(api: Api, *, server_url: str, ca_file: Path, path: Path) -> str:
    """The deployed RBAC (deploy/fluent-bit's ClusterRole and binding) and a token for its
    ServiceAccount, as a kubeconfig at `path`; returns the user name the API server sees."""
    import yaml  # a test dependency, as for tests/integration/test_deploy.py

    deploy = Path(__file__).resolve().parents[1] / "deploy" / "fluent-bit"
    role = yaml.safe_load((deploy / "clusterrole.yaml").read_text())
    binding = yaml.safe_load((deploy / "clusterrolebinding.yaml").read_text())
    subject = binding["subjects"][0]
    namespace, name = subject["namespace"], subject["name"]
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}, accept=(409,))
    api.ok("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": name}})
    api.ok("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role)
    api.ok("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
    # Valid for longer than the whole benchmark.
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 7200},
    }
    token = api.ok("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", request)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "bench",
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": base64.b64encode(ca_file.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": name, "user": {"token": token["status"]["token"]}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": name}}],
        "current-context": "bench",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file)
    return f"system:serviceaccount:{namespace}:{name}"
