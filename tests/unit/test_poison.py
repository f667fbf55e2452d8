"""One object that strict JSON cannot hold (NaN, an infinity, a lone surrogate) is refused alone:
every other object is written, every file on disk is strict JSON, and nothing raises."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.service.service import Service
from pod_meta_exporter.testing import FakeClock, FakeCluster, MemoryStore
from support import podfactory
from support.fake_metrics import FakeMetrics


def strict(content: bytes) -> Any:
    """json.loads as Fluent Bit reads: no NaN, no Infinity, UTF-8 only."""

    def refuse(constant: str) -> None:
        msg = f"{constant} is not JSON"
        raise ValueError(msg)

    return json.loads(content.decode("utf-8"), parse_constant=refuse)


def service(*initial: events.ClusterEvent, profile: DocumentProfile = DocumentProfile.MINIMAL) -> Service:
    return Service(
        directory=MetaDirectory(retention=60.0, profile=profile),
        cluster=FakeCluster(*initial),
        store=MemoryStore(),
        clock=FakeClock(),
        metrics=FakeMetrics(),
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [("\ud800", "lone surrogate"), (math.nan, "NaN or infinite"), (-math.inf, "NaN or infinite")],
    ids=["surrogate", "nan", "infinity"],
)
def test_a_pod_that_cannot_be_written_is_refused_alone_and_the_others_are_written(
    value: object, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = podfactory.pod("good-0"), podfactory.pod("bad-0")
    bad["metadata"]["annotations"]["note"] = value
    running = service(events.PodsResynced((good, bad)))

    running.begin()
    assert running.turn() is None

    store, metrics = running.store, running.metrics
    assert isinstance(store, MemoryStore)
    assert isinstance(metrics, FakeMetrics)
    assert set(store.files) == {"shop_good-0.meta"}
    assert metrics.rejected == {"not_json": 1}
    (line,) = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert "pod shop/bad-0" in line
    assert why in line


def test_a_live_pods_file_stays_when_its_new_state_cannot_be_written() -> None:
    pod = podfactory.pod()
    running = service(events.PodsResynced((pod,)))
    running.begin()
    running.turn()
    before = dict(running.store.files)  # type: ignore[attr-defined]
    broken = podfactory.pod(pod_uid=pod["metadata"]["uid"])
    broken["metadata"]["labels"]["app"] = "\udfff"

    running.cluster.emit(events.PodsResynced((broken,)))  # type: ignore[attr-defined]
    running.turn()
    running.clock.advance(3600.0)  # type: ignore[attr-defined]
    running.turn()  # long past the retention: a pod that is still there keeps its file

    assert running.store.files == before  # type: ignore[attr-defined]


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and the infinities included
    st.text(alphabet=st.characters(exclude_categories=())),  # surrogates included, if rarely
    st.sampled_from(["\ud800", "tail \udfff", math.nan, -math.inf]),  # so that poison comes often
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_fields = st.sampled_from(
    [("metadata", "labels"), ("metadata", "annotations"), ("status", "podIP"), ("spec", "nodeName"),
     ("metadata", "ownerReferences"), ("status", "containerStatuses")]
)  # fmt: skip


@settings(max_examples=200)
@given(
    changes=st.lists(st.tuples(st.integers(0, 2), _fields, _values), max_size=6),
    profile=st.sampled_from(DocumentProfile),
)
def test_whatever_json_like_values_pods_hold_the_service_never_raises_and_every_file_is_strict_json(
    changes: list[tuple[int, tuple[str, str], Any]], profile: DocumentProfile
) -> None:
    pods = [podfactory.pod(f"web-{number}") for number in range(3)]
    for number, (part, key), value in changes:
        pods[number].setdefault(part, {})[key] = value
    running = service(events.PodsResynced(tuple(pods)), profile=profile)

    running.begin()
    for number, pod in enumerate(pods):
        running.cluster.emit(events.PodUpserted(pod))  # type: ignore[attr-defined]
        running.cluster.emit(events.PodDeleted(pod) if number == 2 else events.PodUpserted(pod))  # type: ignore[attr-defined]
    assert running.turn() is None

    files = running.store.files  # type: ignore[attr-defined]
    for content in files.values():
        strict(content)
    for pod in pods:
        try:
            json.dumps(pod, ensure_ascii=False, allow_nan=False).encode()
        except ValueError:
            continue
        assert f"shop_{pod['metadata']['name']}.meta" in files, "a pod that can be written is"
