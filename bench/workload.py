"""What the benchmarks put in the API server: a node, podgen's pods to create and delete, and a
ServiceAccount for the exporter."""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Any

import podgen
from support import identity
from support.exporter import Exporter
from support.kubeconfig import write_kubeconfig

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from support.exporter import InCluster
    from support.kubeapi import KubeApi, Reply

NODE = "bench-node"
NAMESPACES = tuple(f"team-{i}" for i in range(7))  # podgen's namespaces
_SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "managedFields")


def prepare_cluster(api: KubeApi) -> None:
    """The node the exporter watches and the namespaces of podgen's pods."""
    api.expect("POST", "/api/v1/nodes", {"metadata": {"name": NODE}}, ok=(200, 201, 409))
    for namespace in NAMESPACES:
        api.expect("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}, ok=(200, 201, 409))


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


def create_pod(api: KubeApi, pod: dict[str, Any]) -> Reply:
    return api.call("POST", pod_path(pod), pod, ok=(201,))


def delete_pod(api: KubeApi, pod: dict[str, Any]) -> Reply:
    path = f"{pod_path(pod)}/{pod['metadata']['name']}"
    return api.call("DELETE", path, {"gracePeriodSeconds": 0}, ok=(200, 202, 404))


def service_account_kubeconfig(api: KubeApi, *, server_url: str, ca_file: Path, path: Path) -> None:
    """deploy/'s ServiceAccount and RBAC, and a kubeconfig at `path` with a token for the account
    that outlives the whole benchmark."""
    identity.create_deploy_rbac(api)
    token = identity.service_account_token(api, seconds=7200)
    write_kubeconfig(
        path, server=server_url, ca_file=ca_file, token=token, user=identity.SERVICE_ACCOUNT_USER
    )


def exporter(
    *,
    directory: Path,
    log_path: Path,
    kubeconfig: Path | None = None,
    in_cluster: InCluster | None = None,
    args: Sequence[str] = (),
    pythonpath: Path | None = None,
    python_flags: Sequence[str] = (),
    hidden: Path | None = None,
) -> Exporter:
    """The exporter on NODE, logging warnings only. `pythonpath` is a scratch copy of src/, to try a
    change ahead of the editable install; `hidden`, a directory from without_packages()."""
    paths = [str(path) for path in (hidden, pythonpath) if path is not None]
    return Exporter(
        node=NODE,
        directory=directory,
        log_path=log_path,
        kubeconfig=kubeconfig,
        in_cluster=in_cluster,
        args=["--log-level=warning", *args],
        env={"PYTHONPATH": os.pathsep.join(paths)} if paths else None,
        python_flags=python_flags,
    )


# What the exporter's image does not install (deploy/docker/requirements.txt): the official client
# is the kubeconfig extra, and pydantic comes only with it, yet dependency-injector imports it
# whenever it can. The development environment has both.
NOT_IN_THE_IMAGE = ("kubernetes", "pydantic")


def without_packages(directory: Path, names: Sequence[str] = NOT_IN_THE_IMAGE) -> Path:
    """A directory that, first on PYTHONPATH, makes each of `names` fail to import as if it were
    not installed, so that an exporter run from this environment imports what it does in its image."""
    for name in names:
        package = directory / name
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(
            f"raise ModuleNotFoundError({f'No module named {name!r} (as in the image)'!r}, name={name!r})\n"
        )
    return directory
