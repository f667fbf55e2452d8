"""A CRI container status in the values the kubelet puts in the pod's status, by the kubelet's rules."""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

from pod_meta_exporter.adapters.cri import api_pb2
from pod_meta_exporter.domain.containers import RuntimeContainer

if TYPE_CHECKING:
    from collections.abc import Mapping

# The kubelet's labels and annotation on every container it creates (kuberuntime/labels.go).
POD_UID = "io.kubernetes.pod.uid"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
CONTAINER_NAME = "io.kubernetes.container.name"
RESTART_COUNT = "io.kubernetes.container.restartCount"
# The runtimes whose Version().runtime_name is known to be the kubelet's containerID prefix.
KNOWN_RUNTIMES = frozenset({"containerd", "cri-o", "docker"})
_RUNTIME_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


class UnknownRuntime(ValueError):
    """The runtime's name is not one whose containerID prefix is known."""


class NotAPodContainer(ValueError):
    """A container without the kubelet's labels: not made for a pod, or by something else."""


def runtime_prefix(runtime_name: str) -> str:
    """The containerID prefix: the kubelet writes `<runtime_name>://<id>` (kubecontainer.ContainerID
    .String(), with Type from Version().runtime_name, kuberuntime_manager.go)."""
    if runtime_name not in KNOWN_RUNTIMES or not _RUNTIME_NAME.fullmatch(runtime_name):
        msg = f"unknown container runtime {runtime_name!r}: its containerID prefix is not known"
        raise UnknownRuntime(msg)
    return f"{runtime_name}://"


def container_of(status: api_pb2.ContainerStatus, *, prefix: str) -> RuntimeContainer:
    """The kubelet's conversion (kubelet v1.36, kuberuntime_container.go toKubeContainerStatus and
    kubelet_pods.go convertToAPIContainerStatuses): `image` is status.image.image and `imageID`
    is status.image_ref, copied as they are (the normalization, docker.io/... and the digest, is
    the runtime's); restartCount is the kubelet's own annotation on the container."""
    labels, annotations = status.labels, status.annotations
    missing = [key for key in (POD_UID, POD_NAME, POD_NAMESPACE, CONTAINER_NAME) if not labels.get(key)]
    if missing:
        msg = f"container {status.id[:12]} has no {', '.join(missing)} label"
        raise NotAPodContainer(msg)
    restarts = annotations.get(RESTART_COUNT, "0")
    if not restarts.isdigit():
        msg = f"container {status.id[:12]} has restartCount {restarts!r}"
        raise NotAPodContainer(msg)
    container_id = prefix + status.id
    return RuntimeContainer(
        pod_uid=labels[POD_UID],
        namespace=labels[POD_NAMESPACE],
        pod=labels[POD_NAME],
        name=labels[CONTAINER_NAME],
        restart_count=int(restarts),
        container_id=container_id,
        image=status.image.image,
        image_id=status.image_ref,
        state=_state(status, container_id),
    )


def _state(status: api_pb2.ContainerStatus, container_id: str) -> Mapping[str, Any]:
    """The API's ContainerState, as convertToAPIContainerStatuses makes it from the runtime's."""
    if status.state == api_pb2.CONTAINER_RUNNING:
        return {"running": {"startedAt": _time(status.started_at)}}
    if status.state == api_pb2.CONTAINER_EXITED:
        terminated: dict[str, Any] = {"exitCode": status.exit_code}
        if status.reason:
            terminated["reason"] = status.reason
        if status.message:
            terminated["message"] = status.message
        terminated |= {
            "startedAt": _time(status.started_at),
            "finishedAt": _time(status.finished_at),
            "containerID": container_id,
        }
        return {"terminated": terminated}
    return {"waiting": {}}  # created, or unknown: "waiting to be running"


def _time(nanoseconds: int) -> str:
    """metav1.Time's JSON: RFC 3339 in UTC, whole seconds."""
    moment = datetime.datetime.fromtimestamp(nanoseconds // 1_000_000_000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
