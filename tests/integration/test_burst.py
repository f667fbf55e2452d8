"""A burst of short-lived pods, as fast as the API server takes them: every one gets its file."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from integration.harness import create_pod, delete_pod, histogram_quantile, pod_file, uid
from waiting import wait_for

if TYPE_CHECKING:
    from integration import harness
    from integration.harness import Exporter, Exporters

pytestmark = pytest.mark.integration

PODS = 200
THREADS = 6
HISTOGRAM = "pod_meta_exporter_event_to_file_seconds"


@pytest.mark.timeout(180)
def test_a_burst_of_200_pods_created_and_deleted_at_once_all_get_their_files(
    admin: harness.Kube, namespace: str, exporters: Exporters, summary: list[str]
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
    assert exporter.value("pod_meta_exporter_pending_removals") == PODS
    assert exporter.value("pod_meta_exporter_rejected_objects_total") == 0

    count, quantiles = latency(exporter)
    figures = ", ".join(f"p{round(q * 100)} {seconds * 1000:.1f} ms" for q, seconds in quantiles.items())
    summary.append(
        f"event to file, {count} events of {PODS} pods created and deleted in {churned:.1f}s "
        f"by {THREADS} threads: {figures} (interpolated within histogram buckets)"
    )


def latency(exporter: Exporter) -> tuple[int, dict[float, float]]:
    """The event-to-file histogram's count, and its p50, p90 and p99."""
    buckets = sorted(
        (float(sample.labels["le"]), sample.value)
        for sample in exporter.samples()
        if sample.name == f"{HISTOGRAM}_bucket"
    )
    assert buckets, f"{HISTOGRAM} is not served"
    assert buckets[-1][0] == math.inf
    return int(buckets[-1][1]), {q: histogram_quantile(q, buckets) for q in (0.5, 0.9, 0.99)}
