"""Short-lived pods' lines leave Fluent Bit with their pod's metadata, read from the exporter's files.

Each line is read by three Fluent Bits (tests/e2e/overlay): fluent-bit, as deployed; the
baseline, without the files; and the offline one, with the files and no API server to fall back
on, so what it enriches was read from the files the exporter wrote, under the names it reads."""

from __future__ import annotations

import time

import pytest

from e2e import harness
from e2e.harness import BASELINE, FLUENT_BIT, OFFLINE, ShortLivedPod, Stack

pytestmark = pytest.mark.e2e

POD_COUNT_FOR_THE_BASELINE = 12
# How long test_b waits for the other two Fluent Bits once the offline one has printed the line.
OTHERS_TIMEOUT = 20.0


def assert_enriched(record: harness.Record, pod: ShortLivedPod) -> None:
    """The pod's own metadata, which its file holds from the moment the pod is bound to the node.

    The container's image and ID reach the API tens of milliseconds after its log appears
    (tests/node measures it), so Fluent Bit reads about 3% of containers' files before them, and
    their records lack container_image until kube_meta_cache_ttl runs out: checked when present."""
    assert "kubernetes" in record, f"record without metadata: {record}"
    metadata = record["kubernetes"]
    assert metadata["pod_name"] == pod.name
    assert metadata["namespace_name"] == pod.namespace
    assert metadata["labels"] == pod.labels
    assert metadata["pod_id"] == pod.uid
    # From the pod's containerStatuses: "busybox:1.36.1" while waiting, the resolved reference after.
    if "container_image" in metadata:
        assert "busybox" in metadata["container_image"], metadata


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize("deleted", [False, True], ids=["kept", "deleted-on-exit"])
def test_a_short_lived_pods_line_carries_its_pods_labels_uid_and_image(
    stack: Stack, namespace: str, deleted: bool, attempt: int
) -> None:
    since = harness.now()
    pod = stack.start_pod(namespace, case=f"echo-{attempt}")
    node = stack.wait_for_phase(pod, "Succeeded", "Failed")["spec"]["nodeName"]
    if deleted:
        stack.delete(pod)

    assert_enriched(stack.wait_for_record(pod, node, FLUENT_BIT, since=since), pod)
    assert_enriched(stack.wait_for_record(pod, node, OFFLINE, since=since), pod)


def test_b_a_line_read_only_after_its_pod_is_gone_is_still_enriched(
    stack: Stack, namespace: str, request: pytest.FixtureRequest
) -> None:
    since = harness.now()
    # The line waits for a trigger, so Fluent Bit can open the (empty) log file first.
    pod = stack.start_pod(namespace, case="late", script="until [ -e /tmp/go ]; do sleep 0.1; done")
    node = stack.wait_for_phase(pod, "Running")["spec"]["nodeName"]
    log_dir = f"/var/log/pods/{pod.namespace}_{pod.name}_{pod.uid}/"
    harness.poll(
        lambda: all(log_dir in fds for fds in stack.files_open_in_fluent_bit(node)),
        timeout=harness.RECORD_TIMEOUT,
        interval=harness.POLL,
        what=f"every Fluent Bit to open {log_dir}",
    )

    with stack.fluent_bit_paused(node):
        stack.exec_in(pod, "touch", "/tmp/go")
        stack.wait_for_phase(pod, "Succeeded", "Failed", timeout=harness.PAUSED_WAIT)
        stack.delete(pod)
        stack.wait_until_gone(pod, timeout=harness.PAUSED_WAIT)

    # The offline Fluent Bit can only have enriched the line from the pod's file, which the
    # exporter kept after the pod was gone from the API: that is what this test proves.
    assert_enriched(stack.wait_for_record(pod, node, OFFLINE, since=since), pod)
    # Whether the other two read the line at all is Fluent Bit's: once in 13 runs, the deployed
    # one resumed with inotify_fs_remove() for the deleted pod's log without reading its last
    # line, while the offline one read it. What they print is checked; what they miss, reported.
    printed = {
        container: stack.record_if_printed(pod, node, container, since=since, timeout=OTHERS_TIMEOUT)
        for container in (FLUENT_BIT, BASELINE)
    }
    deployed, baseline = printed[FLUENT_BIT], printed[BASELINE]
    if deployed is not None:
        assert_enriched(deployed, pod)
    if baseline is not None:
        # It asked the API, which no longer had the pod: the scenario really happened.
        assert "kubernetes" not in baseline, f"the pod was still known when read: {baseline}"
    missed = [container for container, record in printed.items() if record is None]
    request.config.stash.setdefault(harness.FIGURES, []).append(
        f"a line read after its pod was gone: printed by {OFFLINE}"
        + (
            f"; not printed by {', '.join(missed)} (Fluent Bit's tail)"
            if missed
            else f", {FLUENT_BIT} and {BASELINE}"
        )
    )


def test_d_how_many_short_lived_pods_lose_metadata_without_the_exporter(
    stack: Stack, namespace: str, request: pytest.FixtureRequest
) -> None:
    """Reports the baseline's losses, a race that depends on the machine, without asserting them;
    asserts that every line the Fluent Bits with the exporter's files printed is enriched."""
    since = harness.now()
    pods = [stack.start_pod(namespace, case="count") for _ in range(POD_COUNT_FOR_THE_BASELINE)]
    nodes = set(stack.delete_each_on_exit(pods).values())

    deadline = time.monotonic() + harness.RECORD_TIMEOUT

    def printed() -> dict[str, dict[str, harness.Record]] | harness.Pending:
        lines = {c: stack.records_by_line(nodes, c, since=since) for c in harness.FLUENT_BITS}
        missing = sum(pod.line not in by_line for by_line in lines.values() for pod in pods)
        if missing and time.monotonic() < deadline:
            return harness.Pending(f"{missing} lines not printed yet")
        return lines

    lines = harness.poll(printed, timeout=harness.RECORD_TIMEOUT + 10, interval=2.0, what="the pods' lines")
    for container, by_line in lines.items():
        records = [by_line.get(pod.line) for pod in pods]
        enriched = [r["kubernetes"] for r in records if r is not None and "kubernetes" in r]
        counts = {
            "enriched": len(enriched),
            "of those without container_image": sum("container_image" not in m for m in enriched),
            "without metadata": sum(1 for r in records if r is not None and "kubernetes" not in r),
            "not printed": records.count(None),
        }
        figure = ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
        request.config.stash.setdefault(harness.FIGURES, []).append(
            f"{container}: of {len(pods)} short-lived pods deleted on exit, {figure}"
        )
        request.node.user_properties.append((container, counts))
    assert any(pod.line in lines[FLUENT_BIT] for pod in pods), "Fluent Bit printed none of the lines"
    for container in (FLUENT_BIT, OFFLINE):
        for pod in pods:
            record = lines[container].get(pod.line)
            if record is not None:
                assert_enriched(record, pod)
