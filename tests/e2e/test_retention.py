"""A deleted pod's file stays for the retention period, then goes; no temporary file is left behind."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from e2e import harness

if TYPE_CHECKING:
    from e2e.harness import Stack

pytestmark = pytest.mark.e2e

# The exporter starts the retention when it sees the deletion, a little before this test does.
SLACK = 3.0


def test_c_a_deleted_pods_file_is_removed_after_the_retention(stack: Stack, namespace: str) -> None:
    retention = stack.retention_seconds()
    pod = stack.start_pod(namespace, case="retention")
    node = stack.wait_for_phase(pod, "Succeeded", "Failed")["spec"]["nodeName"]
    harness.poll(
        lambda: pod.meta_file in stack.shared_files(node),
        timeout=harness.RECORD_TIMEOUT,
        interval=harness.POLL,
        what=f"{pod.meta_file} to be written",
    )

    stack.delete(pod)
    stack.wait_until_gone(pod)
    gone_at = time.monotonic()
    assert pod.meta_file in stack.shared_files(node), "removed at deletion, not after the retention"

    harness.poll(
        lambda: pod.meta_file not in stack.shared_files(node),
        timeout=retention + 30,
        interval=harness.POLL,
        what=f"{pod.meta_file} to be removed",
    )
    assert time.monotonic() - gone_at >= retention - SLACK
    harness.poll(
        lambda: not [name for name in stack.shared_files(node) if name.startswith(".tmp-")],
        timeout=10,
        interval=harness.POLL,
        what="no temporary files in the directory",
    )
