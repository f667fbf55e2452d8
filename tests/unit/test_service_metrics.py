"""What the service records, read from the fake metrics, and how the Prometheus metrics record it."""

from __future__ import annotations

import errno

from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.service.service import Service
from pod_meta_exporter.testing import FakeClock, FakeCluster, MemoryStore
from support import podfactory
from support.fake_metrics import FakeMetrics


def test_the_service_records_events_files_failures_and_delays() -> None:
    clock, cluster, store, metrics = FakeClock(100.0), FakeCluster(), MemoryStore(), FakeMetrics()
    service = Service(
        directory=MetaDirectory(retention=60.0), cluster=cluster, store=store, clock=clock, metrics=metrics
    )
    service.begin()
    pod, other = podfactory.pod("web-0"), podfactory.pod("web-1")
    assert not metrics.ready()

    cluster.emit(events.PodsResynced((pod,)))
    cluster.emit(events.PodUpserted({"metadata": {"namespace": "..", "name": "x", "uid": "u"}}))
    assert metrics.queued() == 2
    store.fail_writes = OSError(errno.ENOSPC, "No space left on device")
    cluster.emit(events.PodUpserted(other))
    clock.advance(0.25)
    service.turn()
    assert metrics.events == {"pods_resynced": 1, "pod_upserted": 2}
    assert metrics.rejected == {"invalid_name": 1}
    assert metrics.errors == {"ENOSPC": 2}
    assert metrics.written == 0
    assert metrics.delays == [0.25, 0.25, 0.25]
    assert metrics.ready()
    assert metrics.queued() == 0

    store.fail_writes = None
    cluster.emit(events.PodUpserted(pod))
    cluster.emit(events.PodDeleted(other))
    service.turn()
    assert metrics.written == 2
    assert metrics.unchanged == 0  # web-0's bytes never reached the disk, so they are written now
    assert metrics.pending == 1
    cluster.emit(events.PodUpserted(pod))
    service.turn()
    assert metrics.unchanged == 1

    clock.advance(60.0)
    service.turn()
    assert (metrics.removed, metrics.pending) == (1, 0)


def test_the_prometheus_metrics_record_what_the_service_records() -> None:
    metrics = Metrics()
    metrics.event_handled("pod_deleted")
    metrics.object_rejected("invalid_name")
    metrics.files_unchanged(3)
    metrics.files_written(2)
    metrics.files_removed(1)
    metrics.file_failed("EROFS")
    metrics.event_to_file(0.002)
    metrics.pending_removals(4)
    metrics.track(ready=lambda: True, queued=lambda: 7)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(f"pod_meta_exporter_{name}", labels)

    assert sample("events_total", type="pod_deleted") == 1
    assert sample("rejected_objects_total", reason="invalid_name") == 1
    assert sample("files_unchanged_total") == 3
    assert sample("files_written_total") == 2
    assert sample("files_removed_total") == 1
    assert sample("write_errors_total", errno="EROFS") == 1
    assert sample("event_to_file_seconds_bucket", le="0.0025") == 1
    assert sample("pending_removals") == 4
    assert sample("ready") == 1
    assert sample("queued_events") == 7
