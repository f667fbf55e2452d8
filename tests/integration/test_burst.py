"""A burst of short-lived pods, as fast as the API server takes them: every one gets its file."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from integration.harness import create_pod, delete_pod, pod_file, uid
from support.waiting import wait_for

if TYPE_CHECKING:
    from integration.harness import Exporters
    from support.kubeapi import KubeApi

pytestmark = pytest.mark.integration

PODS = 200
THREADS = 6


@pytest.mark.timeout(180)
def test_a_burst_of_200_pods_created_and_deleted_at_once_all_get_their_files(
    admin: KubeApi, namespace: str, exporters: Exporters, summary: list[str]
) -> None:
    # A retention longer than the test: every file must still be there when it is checked.
    exporter = exporters.start(retention="5m")
    names = [f"burst-{i:03d}" for i in range(PODS)]

    def create_and_delete(name: str) -> str:
        created = create_pod(admin, namespace, name, labels={"app": "burst", "index": name[-3:]})
        delete_pod(admin, namespace, name)
        return uid(created)

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        uids = dict(zip(names, pool.map(create_and_delete, names), strict=True))
    churned = time.monotonic() - began

    expected = {pod_file(namespace, name) for name in names}
    wait_for(
        lambda: {name for name in exporter.files() if name.startswith(f"{namespace}_")} == expected,
        timeout=30,
        interval=0.1,
        what=f"{PODS} files",
    )
    assert {name: exporter.file_uid(pod_file(namespace, name)) for name in names} == uids
    # A file exists from its pod's ADDED event; its DELETED event, which starts the retention, may
    # still be on its way when the last file appears.
    wait_for(
        lambda: exporter.value("pod_meta_exporter_pending_removals") == PODS,
        timeout=30,
        interval=0.1,
        what=f"{PODS} pending removals",
        seen=lambda: exporter.value("pod_meta_exporter_pending_removals"),
    )
    assert exporter.metrics().total("pod_meta_exporter_rejected_objects_total") == 0

    count, quantiles = exporter.event_to_file_latency()
    figures = ", ".join(f"p{round(q * 100)} {seconds * 1000:.1f} ms" for q, seconds in quantiles.items())
    summary.append(
        f"event to file, {count} events of {PODS} pods created and deleted in {churned:.1f}s "
        f"by {THREADS} threads: {figures} (interpolated within histogram buckets)"
    )
