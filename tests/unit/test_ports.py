"""The fakes fill the ports (mypy checks the signatures; this drives each call once)."""

from __future__ import annotations

from pod_meta_exporter.adapters.clock import FakeClock
from pod_meta_exporter.adapters.cluster import FakeCluster
from pod_meta_exporter.adapters.store import MemoryStore
from pod_meta_exporter.domain import events, ports
from support import podfactory


def test_the_fakes_answer_every_call_of_their_ports() -> None:
    clock: ports.Clock = FakeClock(5.0)
    store: ports.MetaStore = MemoryStore()
    upserted = events.PodUpserted(podfactory.pod())
    cluster: ports.Cluster = FakeCluster(upserted)
    assert clock.now() == 5.0
    store.write("shop_web-0.meta", b"{}")
    assert list(store.names()) == ["shop_web-0.meta"]
    store.remove("shop_web-0.meta")
    assert list(store.names()) == []
    delivered: list[events.ClusterEvent] = []
    ended: list[bool] = []
    cluster.start(delivered.append, ended=lambda: ended.append(True))
    assert delivered == [upserted]
    assert cluster.is_live()
    cluster.close()
    assert not cluster.is_live()
    assert ended == []
