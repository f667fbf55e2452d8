"""The fakes fill the ports (mypy checks the signatures; this drives each call once)."""

from __future__ import annotations

import importlib

import pytest

from pod_meta_exporter.domain import events, ports
from pod_meta_exporter.testing import FakeClock, FakeCluster, MemoryStore
from support import podfactory
from support.fake_metrics import FakeMetrics


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


def test_the_fake_metrics_keep_every_call_of_their_port() -> None:
    fake = FakeMetrics()
    metrics: ports.ServiceMetrics = fake
    metrics.event_handled("pod_upserted")
    metrics.object_rejected("not_json")
    metrics.files_unchanged(2)
    metrics.files_written(3)
    metrics.files_removed(1)
    metrics.file_failed("ENOSPC")
    metrics.event_to_file(0.5)
    metrics.pending_removals(4)
    metrics.track(ready=lambda: True, queued=lambda: 5)
    assert fake.events == {"pod_upserted": 1}
    assert (fake.rejected, fake.unchanged, fake.written, fake.removed) == ({"not_json": 1}, 2, 3, 1)
    assert fake.errors == {"ENOSPC": 1}
    assert (fake.delays, fake.pending) == ([0.5], 4)
    assert fake.ready()
    assert fake.queued() == 5


@pytest.mark.parametrize(
    ("module", "name"),
    [("pod_meta_exporter.adapters.clock", "FakeClock"), ("pod_meta_exporter.adapters.store", "MemoryStore")],
)
def test_the_doubles_old_homes_still_give_them_for_one_release_with_a_deprecation_warning(
    module: str, name: str
) -> None:
    from pod_meta_exporter import testing

    with pytest.warns(DeprecationWarning, match=f"moved to pod_meta_exporter.testing.{name}"):
        double = getattr(importlib.import_module(module), name)
    assert double is getattr(testing, name)
    with pytest.raises(AttributeError):
        _ = importlib.import_module(module).NoSuchName
