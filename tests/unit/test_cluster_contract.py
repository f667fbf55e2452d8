"""The Cluster contract, run against the Kubernetes adapter (over the stand-in API server) and the fakes."""

from __future__ import annotations

import itertools
import random
import threading
from typing import TYPE_CHECKING, Generic, TypeVar

import pytest

from pod_meta_exporter.adapters.kubernetes.cluster import KubernetesCluster
from pod_meta_exporter.adapters.kubernetes.watch_settings import WatchSettings
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.adapters.simulated import SimulatedCluster
from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.ports import Cluster
from pod_meta_exporter.testing import FakeCluster
from support import podfactory
from support.kube_stub import NODE, KubeStub, Listing, Stream, added, deleted, modified, pod
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

ClusterT = TypeVar("ClusterT", bound=Cluster)


class Consumer:
    """Takes events as the service's emit() does, from the cluster's threads; with `close_at`, closes
    the cluster from inside emit() when it takes that many events, as a consumer that stops would."""

    def __init__(self, cluster: Cluster, *, close_at: int | None = None) -> None:
        self.cluster = cluster
        self.close_at = close_at
        self.ended = threading.Event()
        self._events: list[events.ClusterEvent] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.cluster.start(self.emit, ended=self.ended.set)

    def emit(self, event: events.ClusterEvent) -> None:
        with self._lock:
            self._events.append(event)
            taken = len(self._events)
        if taken == self.close_at:
            self.cluster.close()

    def seen(self) -> list[events.ClusterEvent]:
        with self._lock:
            return list(self._events)

    def wait_for_events(self, count: int) -> list[events.ClusterEvent]:
        wait_for(lambda: len(self.seen()) >= count, what=f"{count} events")
        return self.seen()


class ClusterContract(Generic[ClusterT]):
    """What every cluster does: it delivers its events in order; after close() it delivers nothing,
    not even what it already held, and does not report the events as ended; start() is once only.

    Subclass once per cluster: the fixture `cluster` gives one not yet started, `expected` the first
    events it delivers once started, in order; settle() waits for its threads after close().
    """

    @pytest.fixture
    def cluster(self) -> ClusterT:
        raise NotImplementedError

    @pytest.fixture
    def expected(self) -> list[events.ClusterEvent]:
        raise NotImplementedError

    def settle(self) -> None:
        """Wait until the cluster's threads, if it has any, have ended after close()."""

    def test_events_are_delivered_in_order(
        self, cluster: ClusterT, expected: list[events.ClusterEvent]
    ) -> None:
        consumer = Consumer(cluster)
        consumer.start()
        assert consumer.wait_for_events(len(expected))[: len(expected)] == expected
        assert not consumer.ended.is_set()

    @pytest.mark.parametrize("close_at", [1, 2, 3])
    def test_nothing_is_delivered_after_close_not_even_what_was_pending(
        self, cluster: ClusterT, expected: list[events.ClusterEvent], close_at: int
    ) -> None:
        consumer = Consumer(cluster, close_at=close_at)
        consumer.start()
        consumer.wait_for_events(close_at)
        self.settle()
        assert consumer.seen() == expected[:close_at]
        assert not consumer.ended.is_set()

    def test_a_cluster_closed_before_start_delivers_nothing(self, cluster: ClusterT) -> None:
        consumer = Consumer(cluster)
        cluster.close()
        consumer.start()
        self.settle()
        assert consumer.seen() == []
        assert not consumer.ended.is_set()
        assert not cluster.is_live()

    def test_close_is_no_end_of_the_events_and_may_be_repeated(self, cluster: ClusterT) -> None:
        consumer = Consumer(cluster)
        consumer.start()
        consumer.wait_for_events(1)
        cluster.close()
        cluster.close()
        self.settle()
        assert not consumer.ended.is_set()
        assert not cluster.is_live()

    def test_the_cluster_is_live_only_while_started_and_not_closed(self, cluster: ClusterT) -> None:
        assert not cluster.is_live()
        Consumer(cluster).start()
        wait_for(cluster.is_live, what="a live cluster")
        cluster.close()
        assert not cluster.is_live()

    @pytest.mark.parametrize("closed", [False, True], ids=["running", "closed"])
    def test_a_second_start_is_an_error(self, cluster: ClusterT, closed: bool) -> None:
        first = Consumer(cluster)
        first.start()
        if closed:
            cluster.close()
        with pytest.raises(RuntimeError, match=r"start\(\) can be called only once"):
            Consumer(cluster).start()


# --- the adapter over the stand-in API server --------------------------------------------------

A, B, C = pod("a", "3"), pod("b", "7"), pod("c", "11")
B2, A_GONE = pod("b", "12", phase="Succeeded"), pod("a", "14")
FAST = WatchSettings(
    connect_timeout=2.0, inactivity_timeout=5.0, backoff_first=0.01, backoff_cap=0.05, watch_list=False
)


def wait_until_gone(thread_prefix: str) -> None:
    def running() -> list[str]:
        return [thread.name for thread in threading.enumerate() if thread.name.startswith(thread_prefix)]

    wait_for(lambda: not running(), seen=running)


class TestKubernetesCluster(ClusterContract[KubernetesCluster]):
    @pytest.fixture
    def stub(self) -> Iterator[KubeStub]:
        with KubeStub() as server:
            yield server
        assert server.errors == []

    @pytest.fixture
    def cluster(self, stub: KubeStub) -> Iterator[KubernetesCluster]:
        # One list, then one watch of three events; the next watch hangs, connected and silent.
        stub.lists("pods", Listing([A, B], "10"))
        stub.watches("pods", Stream((added(C), modified(B2), deleted(A_GONE))))
        transport = stub.transport()
        cluster = KubernetesCluster(
            transport=transport,
            node_name=NODE,
            namespace_metadata=False,
            settings=FAST,
            metrics=Metrics(),
            rng=random.Random(7),
        )
        yield cluster
        cluster.close()
        self.settle()
        transport.close()

    @pytest.fixture
    def expected(self) -> list[events.ClusterEvent]:
        return [
            events.PodsResynced((A, B)),
            events.PodUpserted(C),
            events.PodUpserted(B2),
            events.PodDeleted(A_GONE),
        ]

    def settle(self) -> None:
        wait_until_gone("watch-")


# --- the fakes ---------------------------------------------------------------------------------

FED: list[events.ClusterEvent] = [
    events.PodsResynced(()),
    events.PodUpserted(podfactory.pod("a")),
    events.PodUpserted(podfactory.pod("b")),
    events.PodDeleted(podfactory.pod("a")),
]


class TestFakeCluster(ClusterContract[FakeCluster]):
    @pytest.fixture
    def cluster(self) -> FakeCluster:
        return FakeCluster(*FED)

    @pytest.fixture
    def expected(self) -> list[events.ClusterEvent]:
        return FED

    def test_what_is_fed_after_start_is_delivered_at_once(self) -> None:
        cluster = FakeCluster()
        consumer = Consumer(cluster)
        consumer.start()
        cluster.emit(FED[0])
        assert consumer.seen() == FED[:1]

    def test_what_is_fed_after_close_is_dropped(self, cluster: FakeCluster) -> None:
        consumer = Consumer(cluster)
        consumer.start()
        cluster.close()
        cluster.emit(events.PodUpserted(podfactory.pod("late")))
        assert consumer.seen() == FED

    # The Kubernetes adapter's watch goes on until close(), whatever fails: its end cannot be
    # made to happen from outside, so only the fake shows that ended() reports it.
    @pytest.mark.parametrize("before_start", [False, True], ids=["running", "before-start"])
    def test_events_that_end_before_close_are_reported_once(self, before_start: bool) -> None:
        cluster = FakeCluster(*FED)
        consumer = Consumer(cluster)
        if before_start:
            cluster.end()
        consumer.start()
        if not before_start:
            cluster.end()
        assert consumer.ended.is_set()
        assert consumer.seen() == FED

    def test_an_end_after_close_is_not_reported(self, cluster: FakeCluster) -> None:
        consumer = Consumer(cluster)
        consumer.start()
        cluster.close()
        cluster.end()
        assert not consumer.ended.is_set()


class TestSimulatedCluster(ClusterContract[SimulatedCluster]):
    @staticmethod
    def make() -> SimulatedCluster:
        return SimulatedCluster(
            node_name=NODE, namespace_metadata=True, interval=0.01, lifetime=(0.02, 0.05), seed=7
        )

    @pytest.fixture
    def cluster(self) -> Iterator[SimulatedCluster]:
        cluster = self.make()
        yield cluster
        cluster.close()
        self.settle()

    @pytest.fixture
    def expected(self) -> list[events.ClusterEvent]:
        # What a twin with the same seed makes: the events depend on the seed alone, not on timing.
        twin = self.make()
        made = list(itertools.islice(twin.events(), 6))
        twin.close()
        return made

    def settle(self) -> None:
        wait_until_gone("simulated-cluster")
