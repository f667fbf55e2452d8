"""The reflector's rules for which resourceVersion each list, stream and watch asks for, and when the
initial state is streamed or listed: against an in-memory ListWatch, in milliseconds."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest

from pod_meta_exporter.adapters.kubernetes import reflector, resources, stopping
from pod_meta_exporter.adapters.kubernetes.transport import ApiError
from pod_meta_exporter.adapters.kubernetes.watch_settings import WatchSettings
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.domain.events import PodDeleted, PodsResynced, PodUpserted
from support.listwatch_fake import Call, FakeListWatch, event, listing

if TYPE_CHECKING:
    from pod_meta_exporter.domain.events import ClusterEvent


def pod(name: str, rv: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": rv},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "env": [{"value": "secret"}]}]},
    }


def bookmark(rv: str, *, end: bool = False) -> bytes:
    annotations = {"k8s.io/initial-events-end": "true"} if end else {}
    return event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": rv, "annotations": annotations}})


def expired_event(rv: str = "5") -> bytes:
    status = {
        "kind": "Status",
        "code": 410,
        "reason": "Expired",
        "message": f"too old resource version: {rv}",
    }
    return event("ERROR", status)


GONE = ApiError(410, reason="Expired", message="too old resource version: 10 (20)")
TOO_LARGE = ApiError(
    504,
    reason="Timeout",
    message="Too large resource version: 30, current: 20",
    causes=("ResourceVersionTooLarge",),
)
WATCH_LIST_OFF = ApiError(
    422, reason="Invalid", message="sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch"
)
A, B, C = pod("a", "3"), pod("b", "7"), pod("c", "21")


class Run:
    """One watcher over a FakeListWatch, run in this thread until its script is spent."""

    def __init__(self, *, watch_list: bool = False) -> None:
        self.stop = stopping.StopToken()
        self.listwatch = FakeListWatch(exhausted=self.stop.set)
        self.events: list[ClusterEvent] = []
        self.metrics = Metrics()
        self.watcher = reflector.Reflector(
            listwatch=self.listwatch,
            resource=resources.pods("node-a", keep=DocumentProfile.MINIMAL.pod_subset),
            settings=WatchSettings(backoff_first=0.001, backoff_cap=0.001, watch_list=watch_list),
            metrics=self.metrics,
            rng=random.Random(3),
            stop=self.stop,
            emit=self.events.append,
        )

    def script(self, kind: str, *answers: list[bytes] | ApiError) -> Run:
        self.listwatch.script(kind, *answers)
        return self

    def run(self) -> list[Call]:
        self.watcher.run()
        return self.listwatch.calls[:-1]  # the last one found the script spent


def test_the_first_list_is_from_the_watch_cache_and_the_first_watch_from_the_list() -> None:
    run = Run().script("list", [listing([A], "10")]).script("watch", [event("ADDED", C)])

    assert run.run() == [Call("list", "0"), Call("watch", "10")]


def test_after_a_watchs_410_the_list_is_at_the_last_version_seen_never_back_in_time() -> None:
    run = (
        Run()
        .script("list", [listing([A], "10")], [listing([B], "30")])
        .script("watch", [event("ADDED", C), expired_event()], [])
    )

    assert run.run() == [Call("list", "0"), Call("watch", "10"), Call("list", "21"), Call("watch", "30")]


def test_after_a_lists_410_the_next_is_a_consistent_read_at_once() -> None:
    run = (
        Run()
        .script("list", [listing([A], "10")], GONE, [listing([B], "40")])
        .script("watch", [expired_event()], [])
    )

    calls = run.run()

    assert calls == [
        Call("list", "0"),
        Call("watch", "10"),
        Call("list", "10"),
        Call("list", ""),
        Call("watch", "40"),
    ]
    assert (
        run.metrics.registry.get_sample_value(
            "pod_meta_exporter_api_errors_total", {"resource": "pods", "reason": "http_410"}
        )
        is None
    )


def test_a_version_too_large_for_the_server_is_treated_as_expired() -> None:
    run = (
        Run()
        .script("list", [listing([A], "10")], TOO_LARGE, [listing([B], "40")])
        .script("watch", TOO_LARGE, [])
    )

    assert run.run() == [
        Call("list", "0"), Call("watch", "10"), Call("list", "10"), Call("list", ""), Call("watch", "40"),
    ]  # fmt: skip


def test_a_consistent_read_refused_backs_off_instead_of_spinning() -> None:
    run = Run().script("list", GONE, GONE, [listing([A], "9")]).script("watch", [])

    calls = run.run()

    assert calls == [Call("list", "0"), Call("list", ""), Call("list", ""), Call("watch", "9")]
    sample = {"resource": "pods", "reason": "expired"}
    assert run.metrics.registry.get_sample_value("pod_meta_exporter_api_errors_total", sample) == 1


def test_the_initial_state_streams_in_one_watch_that_goes_on_watching() -> None:
    run = (
        Run(watch_list=True)
        .script(
            "stream", [event("ADDED", A), event("ADDED", B), bookmark("10", end=True), event("MODIFIED", C)]
        )
        .script("watch", [])
    )

    calls = run.run()

    assert calls == [Call("stream", ""), Call("watch", "21")]
    resync, update = run.events
    assert isinstance(resync, PodsResynced)
    assert [p["metadata"]["name"] for p in resync.pods] == ["a", "b"]
    # Only what the core reads is kept: of the containers, their names.
    assert resync.pods[0]["spec"]["containers"] == [{"name": "app"}]
    assert update == PodUpserted(DocumentProfile.MINIMAL.pod_subset(C))
    assert run.watcher.watch_list is True


@pytest.mark.parametrize("watch_list", [True, False], ids=["streamed", "listed"])
def test_every_object_reaches_the_core_in_one_shape_cut_once_however_it_came(watch_list: bool) -> None:
    """Listed, streamed or watched, each object is cut to what the core reads, so no env value is held."""
    initial = [event("ADDED", A), bookmark("10", end=True)] if watch_list else [listing([A], "10")]
    run = (
        Run(watch_list=watch_list)
        .script("stream" if watch_list else "list", initial)
        .script("watch", [event("MODIFIED", B), event("DELETED", C)])
    )

    run.run()

    resync, modified, deleted = run.events
    assert isinstance(resync, PodsResynced)
    assert isinstance(modified, PodUpserted)
    assert isinstance(deleted, PodDeleted)
    objects = [*resync.pods, modified.pod, deleted.pod]
    assert objects == [DocumentProfile.MINIMAL.pod_subset(pod) for pod in (A, B, C)]
    assert all(obj["spec"]["containers"] == [{"name": "app"}] for obj in objects)


def test_after_a_410_the_state_streams_again_from_the_last_version_and_after_a_refusal_from_scratch() -> None:
    run = (
        Run(watch_list=True)
        .script(
            "stream",
            [bookmark("10", end=True), event("ADDED", C)],
            [expired_event()],  # refused in its initial events
            [bookmark("50", end=True)],
        )
        .script("watch", [expired_event()], [])
    )

    calls = run.run()

    assert calls == [
        Call("stream", ""),
        Call("watch", "21"),
        Call("stream", "21"),
        Call("stream", ""),
        Call("watch", "50"),
    ]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(WATCH_LIST_OFF, id="refused"),
        pytest.param([event("ADDED", A), event("MODIFIED", A)], id="ignored-then-a-change"),
        pytest.param([bookmark("10")], id="ignored-then-a-plain-bookmark"),
    ],
)
def test_a_server_that_does_not_stream_the_state_is_listed_for_that_sync_only(
    answer: list[bytes] | ApiError,
) -> None:
    run = (
        Run(watch_list=True)
        .script("stream", answer, [bookmark("30", end=True)])
        .script("list", [listing([A], "10")])
        .script("watch", [expired_event()], [])
    )

    calls = run.run()

    # A control plane upgrade refuses WatchList once: the next sync streams again.
    assert calls == [
        Call("stream", ""),
        Call("list", "0"),
        Call("watch", "10"),
        Call("stream", "10"),
        Call("watch", "30"),
    ]
    assert run.watcher.watch_list is True
    assert [type(e) for e in run.events] == [PodsResynced, PodsResynced]


def test_a_pod_holding_nan_reaches_the_core_and_does_not_fail_the_watch() -> None:
    poisoned = {**pod("p", "15"), "status": {"podIP": float("nan")}}
    run = (
        Run()
        .script("list", [listing([A], "10")])
        .script("watch", [event("ADDED", poisoned), event("ADDED", C)])
    )

    assert run.run() == [Call("list", "0"), Call("watch", "10")]
    assert [type(e).__name__ for e in run.events] == ["PodsResynced", "PodUpserted", "PodUpserted"]
    assert (
        run.metrics.registry.get_sample_value(
            "pod_meta_exporter_api_errors_total", {"resource": "pods", "reason": "malformed_json"}
        )
        is None
    )
