"""Pod and namespace API objects shaped as the API serves them, for tests and the demo's tests."""

from __future__ import annotations

import itertools
from typing import Any

_uids = itertools.count(1)


def uid() -> str:
    return f"00000000-0000-4000-8000-{next(_uids):012d}"


def pod(
    name: str = "web-0",
    namespace: str = "shop",
    *,
    pod_uid: str | None = None,
    labels: dict[str, str] | None = None,
    node: str = "node-a",
    image: str = "nginx:1.27",
    phase: str = "Running",
    secret_env: str = "hunter2",
) -> dict[str, Any]:
    """A pod with the fields Fluent Bit reads and plenty it does not (env, managedFields...)."""
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": pod_uid or uid(),
            "resourceVersion": "1",
            "creationTimestamp": "2026-11-27T10:00:00Z",
            "labels": labels if labels is not None else {"app": name.rsplit("-", 1)[0]},
            "annotations": {"fluentbit.io/parser": "json"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "o-1"}
            ],
            "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "containers": [
                {"name": "app", "image": image, "env": [{"name": "PASSWORD", "value": secret_env}]}
            ],
            "nodeName": node,
        },
        "status": {
            "phase": phase,
            "hostIP": "10.0.0.1",
            "podIP": "10.1.0.7",
            "containerStatuses": [
                {
                    "name": "app",
                    "state": {"running": {"startedAt": "2026-11-27T10:00:01Z"}},
                    "ready": True,
                    "restartCount": 0,
                    "image": image,
                    "imageID": f"docker.io/library/{image}@sha256:{'ab' * 32}",
                    "containerID": f"containerd://{'cd' * 32}",
                }
            ],
        },
    }


def namespace(name: str = "shop", *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": uid(),
            "labels": labels if labels is not None else {"team": "checkout"},
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
