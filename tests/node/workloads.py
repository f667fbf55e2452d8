"""The node tier's workloads: pods and Jobs of the local busybox image, as users write them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from support.waiting import wait_for

if TYPE_CHECKING:
    from support.kubeapi import Json, KubeApi

IMAGE = "local/busybox:1"  # docker.io/local/busybox:1, imported by services.NodeServices; never pulled
PRINT_TWO_LINES = ["sh", "-c", "echo first line; echo second line"]
ANNOTATIONS = {"team": "observability", "fluentbit.io/parser": "logfmt"}


def wait_until_ready_for_pods(admin: KubeApi, namespace: str) -> None:
    """The controller-manager has made the `default` ServiceAccount and the root CA ConfigMap,
    without which admission refuses a pod or the kubelet cannot start it."""
    wait_for(
        lambda: (
            admin.call("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default").status == 200
            and admin.call("GET", f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt").status == 200
        ),
        timeout=30,
        what=f"namespace {namespace} ready for pods",
    )


def container(name: str, command: list[str]) -> Json:
    return {"name": name, "image": IMAGE, "imagePullPolicy": "Never", "command": command}


def pod_template(
    app: str,
    *,
    command: list[str],
    restart_policy: str = "Never",
    init_command: list[str] | None = None,
) -> Json:
    spec: dict[str, Any] = {
        "restartPolicy": restart_policy,
        "terminationGracePeriodSeconds": 1,
        "containers": [container("main", command)],
    }
    if init_command is not None:
        spec["initContainers"] = [container("setup", init_command)]
    return {"metadata": {"labels": {"app": app}, "annotations": dict(ANNOTATIONS)}, "spec": spec}


def create_pod(
    admin: KubeApi,
    namespace: str,
    name: str,
    *,
    command: list[str] = PRINT_TWO_LINES,
    restart_policy: str = "Never",
    init_command: list[str] | None = None,
) -> Json:
    """A bare pod, placed by the scheduler as users' pods are."""
    template = pod_template(name, command=command, restart_policy=restart_policy, init_command=init_command)
    template["metadata"]["name"] = name
    manifest = {"apiVersion": "v1", "kind": "Pod", **template}
    return admin.expect("POST", f"/api/v1/namespaces/{namespace}/pods", manifest)


def create_job(admin: KubeApi, namespace: str, name: str, *, command: list[str] = PRINT_TWO_LINES) -> Json:
    """A Job whose one pod the controller-manager creates (a CronJob's pods are such Jobs')."""
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": pod_template(name, command=command)},
    }
    return admin.expect("POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", manifest)


def pods(admin: KubeApi, namespace: str) -> list[Json]:
    items: list[Json] = admin.expect("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
    return items


def phases(admin: KubeApi, namespace: str) -> dict[str, str]:
    return {pod["metadata"]["name"]: pod.get("status", {}).get("phase", "") for pod in pods(admin, namespace)}


def final_statuses(admin: KubeApi, namespace: str) -> dict[str, tuple[str, str]]:
    """containerID -> (image, imageID), as the kubelet finally reported them."""
    final: dict[str, tuple[str, str]] = {}
    for pod in pods(admin, namespace):
        status = pod.get("status", {})
        for entry in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
            if entry.get("containerID"):
                final[entry["containerID"]] = (entry.get("image", ""), entry.get("imageID", ""))
    return final
