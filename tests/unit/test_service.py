"""The service wired by the container, with fakes swapped in through provider overrides."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

from pod_meta_exporter.adapters.simulated import SimulatedCluster
from pod_meta_exporter.domain import events
from pod_meta_exporter.entrypoints.container import Container
from pod_meta_exporter.testing import FakeCluster, MemoryStore
from support import podfactory
from support.settings import settings_for
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pod_meta_exporter.service.service import Service


def make_container(tmp_path: Path, **overrides: Any) -> Container:
    changes: dict[str, Any] = {"retention_period": 0.3, "log_format": "text", "cluster": "simulated"}
    return Container(settings=settings_for(tmp_path, **(changes | overrides)))


class Running:
    """A service running on a thread, stopped at the end of the test."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.status = self.service.run()

    def stop(self) -> float:
        started = time.monotonic()
        self.service.stop()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()
        return time.monotonic() - started


@pytest.fixture
def fake_cluster() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def running(tmp_path: Path, fake_cluster: FakeCluster) -> Iterator[tuple[Container, Running]]:
    container = make_container(tmp_path)
    container.store().prepare()
    with container.cluster.override(fake_cluster):
        run = Running(container.service())
        yield container, run
        run.stop()


def metric(container: Container, name: str, **labels: str) -> float:
    value = container.metrics().registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_the_service_writes_a_pods_file_and_removes_it_after_the_retention(
    running: tuple[Container, Running], fake_cluster: FakeCluster, tmp_path: Path
) -> None:
    container, _ = running
    pod = podfactory.pod()
    fake_cluster.emit(events.PodsResynced(()))
    fake_cluster.emit(events.PodUpserted(pod))
    path = tmp_path / "meta" / "shop_web-0.meta"
    wait_for(path.exists, what="the pod's file")
    assert json.loads(path.read_bytes())["metadata"]["uid"] == pod["metadata"]["uid"]
    fake_cluster.emit(events.PodDeleted(pod))
    wait_for(lambda: metric(container, "pod_meta_exporter_pending_removals") == 1, what="a pending removal")
    assert path.exists()
    wait_for(lambda: not path.exists(), timeout=5, what="removal after the retention, with no further event")
    assert metric(container, "pod_meta_exporter_files_removed_total") == 1
    assert metric(container, "pod_meta_exporter_events_total", type="pod_upserted") == 1
    assert metric(container, "pod_meta_exporter_event_to_file_seconds_count") >= 2


def test_readiness_needs_the_initial_list_and_a_live_watch(
    running: tuple[Container, Running], fake_cluster: FakeCluster
) -> None:
    container, _ = running
    service = container.service()
    wait_for(service.alive, what="the main loop")
    assert not service.ready()
    fake_cluster.emit(events.PodsResynced(()))
    wait_for(service.ready, what="readiness after the initial list")
    fake_cluster.live = False
    assert not service.ready()


def test_invalid_objects_are_counted_and_the_next_event_still_lands(
    running: tuple[Container, Running], fake_cluster: FakeCluster, tmp_path: Path
) -> None:
    container, _ = running
    fake_cluster.emit(events.PodUpserted({"metadata": {"namespace": "..", "name": "x", "uid": "u"}}))
    fake_cluster.emit(events.PodUpserted(podfactory.pod()))
    wait_for((tmp_path / "meta" / "shop_web-0.meta").exists, what="the valid pod's file")
    assert metric(container, "pod_meta_exporter_rejected_objects_total", reason="invalid_name") == 1
    assert [path.name for path in (tmp_path / "meta").iterdir()] == ["shop_web-0.meta"]


def test_write_errors_are_counted_by_errno_and_retried(tmp_path: Path, fake_cluster: FakeCluster) -> None:
    container = make_container(tmp_path)
    store = MemoryStore()
    store.fail["shop_web-0.meta"] = OSError(28, "No space left on device")
    with container.cluster.override(fake_cluster), container.store.override(store):
        run = Running(container.service())
        fake_cluster.emit(events.PodUpserted(podfactory.pod()))
        wait_for(
            lambda: metric(container, "pod_meta_exporter_write_errors_total", errno="ENOSPC") >= 1,
            what="an ENOSPC count",
        )
        del store.fail["shop_web-0.meta"]
        wait_for(lambda: "shop_web-0.meta" in store.files, timeout=5, what="the retried write")
        run.stop()
    assert run.status == 0


def test_stop_ends_the_service_quickly_and_leaves_the_files(
    running: tuple[Container, Running], fake_cluster: FakeCluster, tmp_path: Path
) -> None:
    _, run = running
    fake_cluster.emit(events.PodUpserted(podfactory.pod()))
    wait_for((tmp_path / "meta" / "shop_web-0.meta").exists, what="the pod's file")
    assert run.stop() < 2.0
    assert run.status == 0
    assert (tmp_path / "meta" / "shop_web-0.meta").exists()


def test_the_service_exits_1_when_the_event_stream_ends(tmp_path: Path) -> None:
    container = make_container(tmp_path)
    container.store().prepare()
    cluster = FakeCluster()
    cluster.end()
    with container.cluster.override(cluster):
        assert container.service().run() == 1


def test_files_left_by_an_earlier_run_are_adopted_and_kept(tmp_path: Path, fake_cluster: FakeCluster) -> None:
    container = make_container(tmp_path, retention_period=0.5)
    store = MemoryStore({"shop_gone-0.meta": b"{}"})
    with container.cluster.override(fake_cluster), container.store.override(store):
        run = Running(container.service())
        fake_cluster.emit(events.PodsResynced(()))
        wait_for(container.service().ready, what="ready")
        assert "shop_gone-0.meta" in store.files
        wait_for(lambda: "shop_gone-0.meta" not in store.files, timeout=5, what="adopted file's removal")
        run.stop()


def test_the_http_endpoints_report_health_readiness_and_metrics(
    running: tuple[Container, Running], fake_cluster: FakeCluster
) -> None:
    container, _ = running
    server = container.http()
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        wait_for(container.service().alive, what="the main loop")
        assert urllib.request.urlopen(f"{base}/healthz").status == 200
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"{base}/readyz")
        assert not_ready.value.code == 503
        not_ready.value.close()
        fake_cluster.emit(events.PodsResynced(()))
        wait_for(container.service().ready, what="ready")
        assert urllib.request.urlopen(f"{base}/readyz").status == 200
        body = urllib.request.urlopen(f"{base}/metrics").read().decode()
        assert 'pod_meta_exporter_events_total{type="pods_resynced"} 1.0' in body
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/nothing")
        assert missing.value.code == 404
        missing.value.close()
    finally:
        server.stop()


def test_the_simulated_cluster_creates_updates_and_deletes_short_lived_pods() -> None:
    cluster = SimulatedCluster(
        node_name="node-a", namespace_metadata=True, interval=0.01, lifetime=(0.02, 0.05), seed=7
    )
    seen: list[events.ClusterEvent] = []
    for event in cluster.events():
        seen.append(event)
        if len(seen) == 40:
            cluster.close()
    kinds = [type(event) for event in seen]
    assert kinds[:2] == [events.NamespacesResynced, events.PodsResynced]
    assert events.PodDeleted in kinds
    assert kinds.count(events.PodUpserted) > kinds.count(events.PodDeleted)
    first = next(e for e in seen if isinstance(e, events.PodUpserted))
    started = [
        e
        for e in seen
        if isinstance(e, events.PodUpserted) and e.pod["metadata"]["uid"] == first.pod["metadata"]["uid"]
    ]
    assert [bool(e.pod["status"]["containerStatuses"][0]["imageID"]) for e in started] == [False, True]
    assert not cluster.is_live()
