"""KubernetesCluster against the stand-in API server: list, watch, resourceVersions, failures, close."""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from typing import TYPE_CHECKING

import pytest

from pod_meta_exporter.adapters.kubernetes import incluster
from pod_meta_exporter.adapters.kubernetes.cluster import KubernetesCluster
from pod_meta_exporter.adapters.kubernetes.endpoint import Endpoint
from pod_meta_exporter.adapters.kubernetes.transport import HttpTransport
from pod_meta_exporter.adapters.kubernetes.watch_settings import WatchSettings
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.domain.events import (
    NamespaceDeleted,
    NamespacesResynced,
    NamespaceUpserted,
    PodDeleted,
    PodsResynced,
    PodUpserted,
)
from support.kube_stub import (
    NODE,
    Drop,
    Event,
    Failing,
    Hang,
    KubeStub,
    Listing,
    Raw,
    Stream,
    Unanswered,
    added,
    bookmark,
    deleted,
    expired,
    initial_events_end,
    modified,
    namespace,
    pod,
    status,
    transport_to,
)
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from pod_meta_exporter.domain.events import ClusterEvent
    from pod_meta_exporter.domain.ports import Cluster

# The LIST path; the WatchList tests ask for the stream.
FAST = WatchSettings(
    connect_timeout=2.0, inactivity_timeout=5.0, backoff_first=0.01, backoff_cap=0.05, watch_list=False
)
STREAMING = dataclasses.replace(FAST, watch_list=True)
A, B, C = pod("a", "3"), pod("b", "7"), pod("c", "11")


class Running:
    """A started cluster whose events are collected as the service's emit would take them."""

    def __init__(self, cluster: KubernetesCluster) -> None:
        self.cluster = cluster
        self.events: list[ClusterEvent] = []
        self.ended = threading.Event()
        self._lock = threading.Lock()
        cluster.start(self._emit, ended=self.ended.set)

    def _emit(self, event: ClusterEvent) -> None:
        with self._lock:
            self.events.append(event)

    def seen(self) -> list[ClusterEvent]:
        with self._lock:
            return list(self.events)

    def wait_for_events(self, count: int) -> list[ClusterEvent]:
        wait_for(lambda: len(self.seen()) >= count, seen=self.seen)
        return self.seen()

    def close(self) -> float:
        """Close, and return how long close() took: the threads it could not cut emit nothing more."""
        started = time.monotonic()
        self.cluster.close()
        took = time.monotonic() - started
        assert not self.ended.is_set(), "the events ended before close()"
        return took


@pytest.fixture
def stub() -> Iterator[KubeStub]:
    with KubeStub() as server:
        yield server
    assert server.errors == []


@pytest.fixture
def transport(stub: KubeStub) -> Iterator[HttpTransport]:
    made = stub.transport()
    yield made
    made.close()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def start(transport: HttpTransport, metrics: Metrics) -> Iterator[Callable[..., Running]]:
    running: list[Running] = []

    def start(
        *, namespace_metadata: bool = False, settings: WatchSettings = FAST, rng: random.Random | None = None
    ) -> Running:
        cluster = KubernetesCluster(
            transport=transport,
            node_name=NODE,
            namespace_metadata=namespace_metadata,
            settings=settings,
            metrics=metrics,
            rng=rng or random.Random(7),
        )
        running.append(Running(cluster))
        return running[-1]

    yield start
    for each in running:
        each.close()
    wait_for(lambda: not watch_threads(), seen=watch_threads)


def watch_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("watch-")]


def count(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(f"pod_meta_exporter_{name}_total", labels) or 0.0


def test_conforms_to_the_cluster_port(transport: HttpTransport, metrics: Metrics) -> None:
    cluster: Cluster = KubernetesCluster(
        transport=transport, node_name=NODE, namespace_metadata=False, settings=FAST, metrics=metrics
    )
    assert not cluster.is_live()
    cluster.close()
    assert not cluster.is_live()


def test_lists_then_watches_from_the_list_and_every_event_and_bookmark(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    b2 = pod("b", "12", phase="Succeeded")
    split = modified(b2).line()
    stub.lists("pods", Listing([A, B], "10"))
    stub.watches(
        "pods",
        Stream(
            (
                added(C),
                Raw(split[:20]),
                Raw(split[20:]),
                bookmark("13"),
                deleted(pod("a", "14")),
                bookmark("20"),
            )
        ),
    )
    running = start()

    events = running.wait_for_events(4)
    wait_for(lambda: len(stub.versions("pods", watch=True)) == 2, seen=lambda: stub.requests)

    assert events == [PodsResynced((A, B)), PodUpserted(C), PodUpserted(b2), PodDeleted(pod("a", "14"))]
    assert stub.versions("pods", watch=False) == ["0"]
    # The first watch starts at the list's version; the normal end re-watches from the last bookmark.
    assert stub.versions("pods", watch=True) == ["10", "20"]
    listing, *watches = [r.query for r in stub.requests]
    assert listing == {"fieldSelector": f"spec.nodeName={NODE}", "resourceVersion": "0"}
    for query in watches:
        assert query["watch"] == "true"
        assert query["allowWatchBookmarks"] == "true"
        assert query["fieldSelector"] == f"spec.nodeName={NODE}"
        assert 300 <= int(query["timeoutSeconds"]) <= 600
    wait_for(running.cluster.is_live)
    assert count(metrics, "relists", resource="pods") == 1
    assert count(metrics, "watch_restarts", resource="pods") == 1
    assert (
        metrics.registry.get_sample_value("pod_meta_exporter_api_errors_total", {"resource": "pods"}) is None
    )


def test_410_in_the_stream_lists_again_and_resyncs(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    stub.lists("pods", Listing([A, B], "10"), Listing([B], "30"))
    stub.watches("pods", Stream((added(C), expired("10"))))
    running = start()

    events = running.wait_for_events(3)
    wait_for(lambda: len(stub.versions("pods", watch=True)) == 2, seen=lambda: stub.requests)

    # The second resync lacks a and c: the core sees that they are gone. It lists at the last
    # version seen, never back in time.
    assert events == [PodsResynced((A, B)), PodUpserted(C), PodsResynced((B,))]
    assert stub.versions("pods", watch=False) == ["0", "11"]
    assert stub.versions("pods", watch=True) == ["10", "30"]
    assert count(metrics, "relists", resource="pods") == 2
    wait_for(running.cluster.is_live)


def test_after_a_410_the_sync_waits_its_turn_in_the_backoff_as_client_gos_reflector_does(
    stub: KubeStub, start: Callable[..., Running]
) -> None:
    stub.lists("pods", Listing([A], "10"), Listing([B], "30"))
    stub.watches(
        "pods", Failing(500, "InternalError"), Failing(503, "ServiceUnavailable"), Stream((expired("10"),))
    )
    running = start(settings=dataclasses.replace(FAST, backoff_first=0.25, backoff_cap=30.0))

    running.wait_for_events(2)
    watches = stub.requests_to("pods", watch=True)
    relist = stub.requests_to("pods", watch=False)[1]
    # The 500 and the 503 were watched again without a list, after 0.25 s and 0.5 s at least; the
    # 410 ended the watch, and the next sync came after the third step, 1 s at least.
    assert len(stub.requests_to("pods", watch=False)) == 2
    assert watches[1].at - watches[0].at >= 0.25
    assert watches[2].at - watches[1].at >= 0.5
    assert relist.at - watches[2].at >= 1.0


def test_410_on_the_watch_request_lists_again(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    a2 = pod("a", "50")
    stub.lists("pods", Listing([A], "10"), Listing([a2], "50"))
    stub.watches("pods", Failing(410, "Expired", "too old resource version: 10 (50)"))
    running = start()

    events = running.wait_for_events(2)
    wait_for(lambda: len(stub.versions("pods", watch=True)) == 2, seen=lambda: stub.requests)

    assert events == [PodsResynced((A,)), PodsResynced((a2,))]
    assert stub.versions("pods", watch=False) == ["0", "10"]
    assert stub.versions("pods", watch=True) == ["10", "50"]
    assert count(metrics, "relists", resource="pods") == 2
    assert count(metrics, "api_errors", resource="pods", reason="http_410") == 0


@pytest.mark.parametrize(
    ("ending", "reason"),
    [
        pytest.param((Drop(),), "connection_broken", id="connection-dropped-mid-line"),
        pytest.param((), "truncated_stream", id="stream-ended-mid-line"),
    ],
)
def test_a_line_cut_short_is_discarded_and_the_watch_resumes_from_the_last_good_version(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics, ending: tuple[Drop, ...], reason: str
) -> None:
    stub.lists("pods", Listing([A], "10"))
    stub.watches("pods", Stream((added(C), Raw(added(pod("d", "12")).line()[:30]), *ending)))
    running = start()

    wait_for(lambda: len(stub.versions("pods", watch=True)) == 2, seen=lambda: stub.requests)

    assert running.seen() == [PodsResynced((A,)), PodUpserted(C)]
    assert stub.versions("pods", watch=True) == ["10", "11"]
    assert count(metrics, "api_errors", resource="pods", reason=reason) == 1
    assert count(metrics, "relists", resource="pods") == 1


def test_malformed_json_breaks_the_stream_and_the_watch_resumes_from_the_last_good_version(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    stub.lists("pods", Listing([A], "10"))
    stub.watches(
        "pods", Stream((added(C), Raw(b'{"type": "ADDED", "object": {oops\n'), added(pod("d", "12"))))
    )
    running = start()

    wait_for(lambda: len(stub.versions("pods", watch=True)) == 2, seen=lambda: stub.requests)

    assert running.seen() == [PodsResynced((A,)), PodUpserted(C)]
    assert stub.versions("pods", watch=True) == ["10", "11"]
    assert count(metrics, "api_errors", resource="pods", reason="malformed_json") == 1
    [line] = [r.getMessage() for r in caplog.records if "malformed_json" in r.getMessage()]
    assert "\n" not in line
    assert "oops" not in line  # the content is never logged


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Failing(500), "http_500"),
        (Failing(503, "ServiceUnavailable"), "http_503"),
        (Failing(429, "TooManyRequests"), "http_429"),
        (Stream((Event("ERROR", status(500, "InternalError", "etcd went away")),)), "http_500"),
    ],
    ids=["500", "503", "429", "error-event"],
)
def test_a_watch_refused_by_an_overloaded_server_is_watched_again_from_the_same_version_without_a_list(
    stub: KubeStub,
    start: Callable[..., Running],
    metrics: Metrics,
    *,
    caplog: pytest.LogCaptureFixture,
    reply: Failing | Stream,
    reason: str,
) -> None:
    stub.lists("pods", Listing([A], "10"))
    stub.watches("pods", reply, Stream((added(C),)))
    running = start()

    events = running.wait_for_events(2)
    wait_for(lambda: len(stub.versions("pods", watch=True)) == 3, seen=lambda: stub.requests)

    assert events == [PodsResynced((A,)), PodUpserted(C)]
    assert stub.versions("pods", watch=True) == ["10", "10", "11"]
    assert count(metrics, "api_errors", resource="pods", reason=reason) == 1
    assert count(metrics, "relists", resource="pods") == 1
    [failure] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert reason in failure.getMessage()
    assert "watching again from its resourceVersion" in failure.getMessage()
    assert "\n" not in failure.getMessage()


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Failing(401, "Unauthorized"), "http_401"),
        (
            Failing(403, "Forbidden", 'pods is forbidden: User "system:serviceaccount:x:y" cannot watch'),
            "http_403",
        ),
        (Stream(), "short_watch"),
    ],
    ids=["401", "403", "empty-watch"],
)
def test_any_other_failed_watch_ends_the_sync_and_the_next_one_lists_from_the_last_version_after_the_backoff(
    stub: KubeStub,
    start: Callable[..., Running],
    metrics: Metrics,
    *,
    caplog: pytest.LogCaptureFixture,
    reply: Failing | Stream,
    reason: str,
) -> None:
    stub.lists("pods", Listing([A], "10"), Listing([A, C], "11"))
    stub.watches("pods", reply, Stream((added(pod("d", "12")),)))
    running = start()

    events = running.wait_for_events(3)

    assert events == [PodsResynced((A,)), PodsResynced((A, C)), PodUpserted(pod("d", "12"))]
    assert stub.versions("pods", watch=False) == ["0", "10"]
    assert stub.versions("pods", watch=True)[:2] == ["10", "11"]
    assert count(metrics, "api_errors", resource="pods", reason=reason) == 1
    assert count(metrics, "relists", resource="pods") == 2
    [failure] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert reason in failure.getMessage()
    assert "\n" not in failure.getMessage()
    if reason == "http_403":
        assert "RBAC" in failure.getMessage()
    wait_for(running.cluster.is_live)


def test_a_failed_list_backs_off_and_lists_again(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    stub.lists("pods", Failing(500), Listing([A], "10"))
    running = start()

    assert running.wait_for_events(1) == [PodsResynced((A,))]
    wait_for(running.cluster.is_live)
    assert stub.versions("pods", watch=False) == ["0", "0"]
    assert stub.versions("pods", watch=True) == ["10"]
    assert count(metrics, "api_errors", resource="pods", reason="http_500") == 1
    assert count(metrics, "relists", resource="pods") == 1


def test_a_silent_watch_is_given_up_after_the_inactivity_timeout_and_watched_again(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    stub.lists("pods", Listing([A], "10"))
    stub.watches("pods", Stream((added(C), Hang())), Stream((added(pod("d", "12")), Hang())))
    running = start(settings=dataclasses.replace(FAST, inactivity_timeout=0.2))

    events = running.wait_for_events(3)
    wait_for(lambda: len(stub.versions("pods", watch=True)) >= 3, seen=lambda: stub.requests)

    assert events == [PodsResynced((A,)), PodUpserted(C), PodUpserted(pod("d", "12"))]
    assert stub.versions("pods", watch=True)[:3] == ["10", "11", "12"]
    assert count(metrics, "api_errors", resource="pods", reason="inactive_watch") >= 2
    assert count(metrics, "relists", resource="pods") == 1


def test_unknown_event_types_are_logged_once_and_skipped(
    stub: KubeStub, start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    stub.lists("pods", Listing([A], "10"))
    stub.watches(
        "pods", Stream((Event("RESIZED", pod("a", "11")), Event("RESIZED", pod("a", "12")), added(C), Hang()))
    )
    running = start()

    assert running.wait_for_events(2) == [PodsResynced((A,)), PodUpserted(C)]
    assert len([r for r in caplog.records if "RESIZED" in r.getMessage()]) == 1


def test_namespace_metadata_lists_and_watches_namespaces_too(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    gate = threading.Event()
    default, kube_system, team = (
        namespace("default", "2"),
        namespace("kube-system", "4"),
        namespace("team", "6"),
    )
    stub.lists("pods", Listing([A], "10"))
    stub.lists("namespaces", Unanswered(until=gate), Listing([default, kube_system], "5"))
    stub.watches(
        "namespaces",
        Stream((added(team), deleted(namespace("kube-system", "7")), bookmark("9", "Namespace"))),
    )
    running = start(namespace_metadata=True)

    running.wait_for_events(1)
    wait_for(lambda: stub.versions("pods", watch=True) == ["10"], seen=lambda: stub.requests)
    assert not running.cluster.is_live()  # pods are watched, namespaces not yet listed
    gate.set()

    running.wait_for_events(4)
    wait_for(lambda: len(stub.versions("namespaces", watch=True)) == 2, seen=lambda: stub.requests)
    wait_for(running.cluster.is_live)

    seen = running.seen()
    assert [e for e in seen if isinstance(e, PodsResynced | PodUpserted | PodDeleted)] == [PodsResynced((A,))]
    assert [e for e in seen if isinstance(e, NamespacesResynced | NamespaceUpserted | NamespaceDeleted)] == [
        NamespacesResynced((default, kube_system)),
        NamespaceUpserted(team),
        NamespaceDeleted(namespace("kube-system", "7")),
    ]
    assert stub.versions("namespaces", watch=True) == ["5", "9"]
    for request in stub.requests_to("namespaces", watch=True):
        assert "fieldSelector" not in request.query
        assert request.query["allowWatchBookmarks"] == "true"
    assert count(metrics, "relists", resource="namespaces") == 1


def test_close_ends_events_promptly_while_watching(stub: KubeStub, start: Callable[..., Running]) -> None:
    stub.lists("pods", Listing([A], "10"))
    running = start(settings=dataclasses.replace(FAST, inactivity_timeout=30.0))
    running.wait_for_events(1)
    wait_for(running.cluster.is_live)

    assert running.close() < 1.0
    assert not running.cluster.is_live()


def test_close_ends_events_promptly_while_backing_off(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    stub.lists("pods", Listing([A], "10"))
    stub.watches("pods", Stream((added(C), Drop())))
    running = start(
        settings=dataclasses.replace(FAST, inactivity_timeout=30.0, backoff_first=30.0, backoff_cap=30.0)
    )
    running.wait_for_events(2)
    wait_for(lambda: count(metrics, "api_errors", resource="pods", reason="connection_broken") == 1)

    assert not running.cluster.is_live()  # in the outage
    assert running.close() < 1.0


def test_close_ends_events_promptly_while_a_list_is_unanswered(
    stub: KubeStub, start: Callable[..., Running]
) -> None:
    gate = threading.Event()
    stub.lists("pods", Unanswered(until=gate), Failing(503))
    running = start(settings=dataclasses.replace(FAST, inactivity_timeout=30.0))
    wait_for(lambda: stub.versions("pods", watch=False) == ["0"], seen=lambda: stub.requests)

    assert running.close() < 1.0
    gate.set()  # the thread still waits for the response; let it have one, so it can end


def test_connection_refused_is_retried_forever_without_raising(metrics: Metrics) -> None:
    with KubeStub() as gone:
        url = gone.url  # a port with nobody listening, once the stub is gone
    transport = transport_to(url)
    try:
        cluster = KubernetesCluster(
            transport=transport,
            node_name=NODE,
            namespace_metadata=False,
            settings=FAST,
            metrics=metrics,
            rng=random.Random(1),
        )
        running = Running(cluster)
        wait_for(lambda: count(metrics, "api_errors", resource="pods", reason="connection_refused") >= 3)
        assert not cluster.is_live()
        assert running.close() < 1.0
    finally:
        transport.close()


@pytest.fixture
def rotating(stub: KubeStub, metrics: Metrics) -> Iterator[Callable[..., tuple[Running, threading.Event]]]:
    """Starts a cluster whose first watch hangs until the returned event is set, then drops; the
    stub takes only the token "first" until a test says otherwise."""
    made: list[tuple[Running, HttpTransport]] = []

    def start(authorization: Callable[[], str | None]) -> tuple[Running, threading.Event]:
        rotated = threading.Event()
        stub.tokens = {"first"}
        stub.lists("pods", Listing([A], "10"))
        stub.watches("pods", Stream((added(B), Hang(until=rotated))), Stream((added(C),)))
        endpoint = Endpoint(server=stub.url, source="the stub", authorization=authorization)
        transport = HttpTransport(endpoint, user_agent="pod-meta-exporter/test (linux/amd64)")
        cluster = KubernetesCluster(
            transport=transport, node_name=NODE, namespace_metadata=False, settings=FAST, metrics=metrics
        )
        made.append((Running(cluster), transport))
        return made[-1][0], rotated

    yield start
    for running, transport in made:
        running.close()
        transport.close()


def test_a_rotated_service_account_token_authenticates_the_next_watch_without_a_401(
    stub: KubeStub, metrics: Metrics, rotating: Callable[..., tuple[Running, threading.Event]], tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("first")
    running, rotated = rotating(incluster.TokenFile(token).authorization)
    running.wait_for_events(2)

    replacement = tmp_path / ".token.new"
    replacement.write_text("second")
    replacement.replace(token)
    stub.tokens = {"second"}  # the first token has expired
    rotated.set()  # and the watch it opened ends

    assert running.wait_for_events(3)[-1] == PodUpserted(C)
    sent = [r.headers["Authorization"] for r in stub.requests]
    assert sent[:2] == ["Bearer first"] * 2  # the list, and the first watch
    assert set(sent[2:]) == {"Bearer second"}
    assert count(metrics, "api_errors", resource="pods", reason="http_401") == 0


def test_a_token_read_only_once_would_be_refused_after_its_expiry(
    stub: KubeStub, metrics: Metrics, rotating: Callable[..., tuple[Running, threading.Event]]
) -> None:
    running, rotated = rotating(lambda: "Bearer first")
    running.wait_for_events(2)

    stub.tokens = {"second"}
    rotated.set()

    wait_for(lambda: count(metrics, "api_errors", resource="pods", reason="http_401") >= 2)
    assert not running.cluster.is_live()


def test_the_initial_state_is_streamed_with_the_watchlist_parameters_and_the_watch_goes_on(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics
) -> None:
    stub.streams("pods", Stream((added(A), added(B), initial_events_end("10"), added(C), Hang())))
    running = start(settings=STREAMING)

    assert running.wait_for_events(2) == [PodsResynced((A, B)), PodUpserted(C)]
    wait_for(running.cluster.is_live)
    (request,) = stub.requests
    assert request.kind == "stream"
    assert request.query == {
        "fieldSelector": f"spec.nodeName={NODE}",
        "watch": "true",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": request.query["timeoutSeconds"],
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
    }  # no resourceVersion: a consistent read, served from the watch cache
    assert count(metrics, "relists", resource="pods") == 1


def test_a_server_with_watchlist_off_is_listed_instead(
    stub: KubeStub, start: Callable[..., Running], metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    stub.lists("pods", Listing([A], "10"))  # the stream, unscripted, is refused as invalid (422)
    stub.watches("pods", Stream((added(C), Hang())))
    running = start(settings=STREAMING)

    assert running.wait_for_events(2) == [PodsResynced((A,)), PodUpserted(C)]
    assert stub.kinds("pods") == [("stream", None), ("list", "0"), ("watch", "10")]
    assert count(metrics, "api_errors", resource="pods", reason="http_422") == 0
    assert any("does not stream the initial state" in r.getMessage() for r in caplog.records)
