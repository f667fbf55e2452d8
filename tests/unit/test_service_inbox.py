"""The service's one bounded inbox: step() on a fake clock, stop and end, and a slow store that holds
the watch back instead of letting events pile up."""

from __future__ import annotations

import gc
import json
import threading
import time
import tracemalloc
import weakref
from typing import TYPE_CHECKING

import pytest

from pod_meta_exporter.adapters.clock import SystemClock
from pod_meta_exporter.adapters.kubernetes.cluster import KubernetesCluster
from pod_meta_exporter.adapters.kubernetes.watch_settings import WatchSettings
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.service.service import INBOX_SIZE, Service
from pod_meta_exporter.testing import FakeClock, FakeCluster, MemoryStore
from support import podfactory
from support.fake_metrics import FakeMetrics
from support.kube_stub import Hang, KubeStub, Listing, Stream, added, pod
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(100.0)


def make_service(
    cluster: FakeCluster | KubernetesCluster,
    store: MemoryStore,
    clock: FakeClock | SystemClock | None = None,
    inbox_size: int = INBOX_SIZE,
) -> Service:
    return Service(
        directory=MetaDirectory(retention=60.0),
        cluster=cluster,
        store=store,
        clock=clock or FakeClock(),
        metrics=Metrics(),
        inbox_size=inbox_size,
    )


def test_step_applies_events_and_the_retention_at_the_fake_clocks_time(clock: FakeClock) -> None:
    cluster, store = FakeCluster(events.PodsResynced(())), MemoryStore()
    service = make_service(cluster, store, clock)
    service.begin()
    pod_ = podfactory.pod()

    cluster.emit(events.PodUpserted(pod_))
    assert service.turn() is None
    assert list(store.files) == ["shop_web-0.meta"]

    cluster.emit(events.PodDeleted(pod_))
    service.turn()
    clock.advance(59.9)
    service.turn()
    assert list(store.files) == ["shop_web-0.meta"]
    clock.advance(0.2)
    service.turn()
    assert store.files == {}
    assert service.queued() == 0


def test_step_returns_0_once_stopped_and_1_once_the_events_ended(clock: FakeClock) -> None:
    stopped = make_service(FakeCluster(), MemoryStore(), clock)
    stopped.begin()
    stopped.stop()
    assert stopped.turn() == 0

    cluster = FakeCluster()
    ended = make_service(cluster, MemoryStore(), clock)
    ended.begin()
    cluster.end()
    assert ended.turn() == 1


def test_a_full_inbox_makes_emit_wait_until_the_loop_takes_events(clock: FakeClock) -> None:
    cluster = FakeCluster()
    service = make_service(cluster, MemoryStore(), clock, inbox_size=2)
    service.begin()
    cluster.emit(events.PodsResynced(()))
    cluster.emit(events.PodUpserted(podfactory.pod("a")))
    third = threading.Thread(target=cluster.emit, args=(events.PodUpserted(podfactory.pod("b")),))
    third.start()
    time.sleep(0.3)

    assert third.is_alive()  # waiting for a slot
    assert service.queued() == 2
    service.turn()
    third.join(timeout=2)
    assert not third.is_alive()
    assert service.queued() == 1


class StampingClock:
    """The fake clock, and an event set once something read it."""

    def __init__(self, clock: FakeClock, *, stamped: threading.Event) -> None:
        self._clock, self._stamped = clock, stamped

    def now(self) -> float:
        self._stamped.set()
        return self._clock.now()


def test_an_events_time_to_its_file_counts_its_wait_for_a_slot_in_the_inbox(clock: FakeClock) -> None:
    cluster = FakeCluster()
    metrics = FakeMetrics()
    service = Service(
        directory=MetaDirectory(retention=60.0),
        cluster=cluster,
        store=MemoryStore(),
        clock=clock,
        metrics=metrics,
        inbox_size=1,
    )
    service.begin()
    cluster.emit(events.PodsResynced(()))
    read = threading.Event()
    service.clock = StampingClock(clock, stamped=read)
    waiting = threading.Thread(target=cluster.emit, args=(events.PodUpserted(podfactory.pod("a")),))
    waiting.start()
    assert read.wait(timeout=10), "emit read the clock"  # at 0; then it waits for a slot
    service.clock = clock

    clock.advance(5.0)
    service.turn()
    waiting.join(timeout=2)
    service.turn()

    assert metrics.delays == [5.0, 5.0], "the wait for a slot is part of the event's time to its file"


class SlowStore(MemoryStore):
    """Writes take `delay` seconds until `slow` is cleared; records the inbox's depth at each."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.slow = threading.Event()
        self.slow.set()
        self.depths: list[int] = []
        self.service: Service | None = None

    def write(self, name: str, content: bytes) -> None:
        if self.slow.is_set():
            time.sleep(self.delay)
        if self.service is not None:
            self.depths.append(self.service.queued())
        super().write(name, content)


@pytest.fixture
def stub() -> Iterator[KubeStub]:
    with KubeStub() as server:
        yield server


@pytest.mark.timeout(60)
def test_a_slow_store_holds_the_watch_back_with_the_inbox_bounded_and_no_event_lost(stub: KubeStub) -> None:
    pods, bound = 3000, 64
    stub.lists("pods", Listing([], "1"))
    stub.watches("pods", Stream((*(added(pod(f"p-{i}", str(i + 2))) for i in range(pods)), Hang())))
    store = SlowStore(delay=0.001)
    transport = stub.transport()
    settings = WatchSettings(backoff_first=0.01, backoff_cap=0.05, watch_list=False)
    cluster = KubernetesCluster(
        transport=transport,
        node_name="node-a",
        namespace_metadata=False,
        settings=settings,
        metrics=Metrics(),
    )
    service = make_service(cluster, store, SystemClock(), inbox_size=bound)
    store.service = service
    tracemalloc.start()
    runner = threading.Thread(target=service.run)
    runner.start()
    try:
        wait_for(lambda: len(store.files) >= 500, timeout=20, what="500 files written slowly")
        growth_slow = tracemalloc.get_traced_memory()[0]
        wait_for(lambda: len(store.files) >= 1000, timeout=20, what="1000 files written slowly")
        growth_later = tracemalloc.get_traced_memory()[0]
        store.slow.clear()  # the store recovers
        wait_for(lambda: len(store.files) == pods, timeout=20, what="every pod's file")
    finally:
        service.stop()
        runner.join(timeout=5)
        tracemalloc.stop()
        transport.close()

    assert max(store.depths) <= bound
    # What the process holds is what the files written so far take (about 0.8 KB each in the
    # MemoryStore), not the events behind them: an unbounded inbox held 2,929 events and 5.2 MB at
    # the first mark when this test was written.
    assert growth_slow < 2_000_000, growth_slow
    assert growth_later - growth_slow < 1_000_000, (growth_slow, growth_later)
    for i in (0, pods // 2, pods - 1):
        assert json.loads(store.files[f"default_p-{i}.meta"])["metadata"]["uid"] == f"uid-p-{i}"


class Traceable(dict):  # type: ignore[type-arg]
    """An API object that a weak reference can follow (a plain dict cannot)."""


@pytest.mark.timeout(30)
def test_a_handled_list_is_not_held_while_the_loop_waits_for_the_next_event() -> None:
    listed = Traceable(podfactory.pod())
    cluster, store = FakeCluster(), MemoryStore()
    service = make_service(cluster, store, SystemClock())
    runner = threading.Thread(target=service.run)
    runner.start()
    try:
        cluster.emit(events.PodsResynced((listed,)))
        wait_for(lambda: "shop_web-0.meta" in store.files, what="the listed pod's file")
        gone = weakref.ref(listed)
        del listed
        gc.collect()

        assert gone() is None  # the loop is waiting, and holds nothing of the list it handled
    finally:
        service.stop()
        runner.join(timeout=5)
