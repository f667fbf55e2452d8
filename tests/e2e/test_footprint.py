"""What the sidecar costs a node: an image without the official client, and its memory with a node
of 100 pods, read from the running container itself."""

from __future__ import annotations

import json
import re
import subprocess
from typing import TYPE_CHECKING

import pytest

from e2e import harness

if TYPE_CHECKING:
    from e2e.harness import Stack

pytestmark = pytest.mark.e2e

PODS_ON_THE_NODE = 100
# Creating and scheduling pods is the cluster's; writing their files, the exporter's.
FILES_TIMEOUT = 180.0
# The Python packages the exporter's image must not hold: the official client, only for
# kubeconfigs (the kubeconfig extra), and pydantic, which dependency-injector imports if present.
NOT_IN_THE_IMAGE = ("kubernetes", "pydantic", "pydantic_core")


def test_e_the_sidecar_runs_without_the_official_client_and_reports_its_memory_with_100_pods(
    stack: Stack, namespace: str, request: pytest.FixtureRequest
) -> None:
    node = stack.single_node()
    pid = stack.exporter_pid(node)
    # The running container's own files, through /proc from the inspector (shared PID namespace).
    packages = set(stack.inspect(node, "ls", "-1", f"/proc/{pid}/root/app").split())
    assert "pod_meta_exporter" in packages, packages  # the directory looked at is the right one
    assert not packages & set(NOT_IN_THE_IMAGE), sorted(packages)
    mapped = stack.inspect(node, "cat", f"/proc/{pid}/maps")
    assert "pydantic" not in mapped

    existing = len(stack.get("pods", "-A", "--field-selector", f"spec.nodeName={node}")["items"])
    pods = [
        stack.sleeping_pod_manifest(namespace, case="footprint", index=index)
        for index in range(PODS_ON_THE_NODE - existing)
    ]
    stack.kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))
    try:
        wanted = {f"{namespace}_{pod['metadata']['name']}.meta" for pod in pods}
        harness.poll(
            lambda: (
                wanted <= set(stack.shared_files(node))
                or harness.Pending(f"{len(wanted - set(stack.shared_files(node)))} files missing")
            ),
            timeout=FILES_TIMEOUT,
            interval=2.0,
            what=f"a file for each of the {len(pods)} pods",
        )
        on_node = len(stack.get("pods", "-A", "--field-selector", f"spec.nodeName={node}")["items"])
        status = stack.inspect(node, "cat", f"/proc/{pid}/status")
    finally:
        # Gone before the next test, and before the cluster is: a node removed while it still
        # starts containers leaves runc's frozen cgroups behind (engine.py thaws them).
        timeout = f"--timeout={FILES_TIMEOUT:.0f}s"
        stack.kubectl_idempotent("delete", "pods", "-n", namespace, "-l", "e2e/case=footprint", timeout)

    rss, peak = (_kib(status, field) for field in ("VmRSS", "VmHWM"))
    size = _image_size(stack.exporter_image)
    request.config.stash.setdefault(harness.FIGURES, []).append(
        f"exporter: image {stack.exporter_image} {size / 1e6:.1f} MB; in its pod with {on_node} pods on "
        f"the node: VmRSS {rss / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB; no {', '.join(NOT_IN_THE_IMAGE)}"
    )


def _kib(status: str, field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE)
    assert found, f"no {field} in /proc/<pid>/status"
    return int(found.group(1))


def _image_size(image: str) -> int:
    shown = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shown.stdout)
