"""CriRuntime against a real gRPC server on a unix socket: the facts it hands on, how often it asks,
and each failure as one warning and a metric, never an exception out of its thread."""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING

import grpc
import pytest

from pod_meta_exporter.adapters.cri import api_pb2, conversion
from pod_meta_exporter.adapters.cri.runtime import CriRuntime
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.domain import events, ports
from pod_meta_exporter.domain.containers import RuntimeInterest
from support.cri_server import Container, CriServer
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

UID = "00000000-0000-4000-8000-000000000001"


def container(number: int, *, uid: str = UID, **fields: object) -> Container:
    return Container(
        id=f"{number:064x}",
        pod_uid=uid,
        namespace="shop",
        pod="web-0",
        name="app",
        **fields,  # type: ignore[arg-type]
    )


class Source:
    """A started CriRuntime and what it emitted."""

    def __init__(self, endpoint: str, **options: float) -> None:
        self.metrics = Metrics()
        self.runtime = CriRuntime(endpoint=endpoint, metrics=self.metrics, **options)
        self.emitted: queue.SimpleQueue[events.ClusterEvent] = queue.SimpleQueue()

    def facts(self, count: int, *, timeout: float = 5.0) -> list[events.ContainerObserved]:
        found = [self.emitted.get(timeout=timeout) for _ in range(count)]
        assert all(isinstance(event, events.ContainerObserved) for event in found)
        return found  # type: ignore[return-value]

    def errors(self, reason: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "pod_meta_exporter_runtime_errors_total", {"reason": reason}
        )
        return value or 0.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CriServer]:
    with CriServer(tmp_path / "cri.sock") as running:
        yield running


@pytest.fixture
def source(server: CriServer) -> Iterator[Source]:
    started = Source(f"unix://{server.socket}")
    started.runtime.start(started.emitted.put)
    yield started
    started.runtime.close()


def test_a_followed_pods_new_container_is_handed_on_in_the_kubelets_values(
    server: CriServer, source: Source
) -> None:
    server.add(container(1, uid="someone-elses"))
    server.add(container(2))
    source.runtime.follow(RuntimeInterest(live=frozenset({UID}), awaited=frozenset({UID})))

    (event,) = source.facts(1)

    fact = event.container
    assert (fact.pod_uid, fact.namespace, fact.pod, fact.name) == (UID, "shop", "web-0", "app")
    assert fact.container_id == f"containerd://{2:064x}"
    assert (fact.image, fact.image_id) == ("docker.io/local/busybox:1", "sha256:" + "12" * 32)
    assert fact.state == {"waiting": {}}
    assert source.emitted.empty(), "the other pod's container is not followed"


def test_each_container_is_handed_on_once_and_a_restart_is_found_by_the_slow_poll(
    server: CriServer, source: Source
) -> None:
    server.add(container(1))
    source.runtime.follow(RuntimeInterest(live=frozenset({UID})))
    source.facts(1)

    server.add(container(3, restart_count=1, state=api_pb2.CONTAINER_RUNNING))

    (event,) = source.facts(1, timeout=10)
    assert event.container.restart_count == 1
    assert "running" in event.container.state
    with pytest.raises(queue.Empty):
        source.emitted.get(timeout=1.2)


def test_nothing_is_asked_while_no_pod_is_followed_and_often_while_one_awaits_a_container(
    server: CriServer, source: Source
) -> None:
    wait_for(lambda: server.calls["Version"] >= 1, what="the version asked")
    threading.Event().wait(0.5)
    assert server.calls["ListContainers"] == 0

    source.runtime.follow(RuntimeInterest(live=frozenset({UID}), awaited=frozenset({UID})))
    wait_for(lambda: server.calls["ListContainers"] >= 10, timeout=10, what="the fast poll")

    source.runtime.follow(RuntimeInterest(live=frozenset({UID})))
    threading.Event().wait(0.2)
    before = server.calls["ListContainers"]
    threading.Event().wait(1.5)
    assert server.calls["ListContainers"] - before <= 3, "slow once nothing is awaited"


def test_a_container_gone_between_list_and_status_is_skipped_as_the_kubelet_skips_it(
    server: CriServer, source: Source
) -> None:
    server.add(container(1))
    server.gone.add(f"{1:064x}")
    server.add(container(2, uid="other"))
    source.runtime.follow(RuntimeInterest(live=frozenset({UID, "other"})))
    (event,) = source.facts(1)
    assert event.container.pod_uid == "other"
    assert source.errors("not_found") == 0


def test_a_missing_socket_is_one_warning_and_a_metric_and_the_source_recovers_when_it_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    socket = tmp_path / "later.sock"
    source = Source(f"unix://{socket}")
    source.runtime.follow(RuntimeInterest(live=frozenset({UID})))
    with caplog.at_level(logging.INFO, logger="pod_meta_exporter.adapters.cri.runtime"):
        source.runtime.start(source.emitted.put)
        try:
            wait_for(lambda: source.errors("socket_missing") >= 2, timeout=10, what="two failed tries")
            with CriServer(socket) as server:
                server.add(container(1))
                (event,) = source.facts(1, timeout=15)
        finally:
            source.runtime.close()
    assert event.container.pod_uid == UID
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "No such file or directory" in warnings[0]
    assert "socket_missing" in warnings[0]
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_a_slow_runtime_times_out_and_an_unknown_runtime_turns_the_source_off(tmp_path: Path) -> None:
    with CriServer(tmp_path / "slow.sock") as slow:
        slow.delay = 2.5
        source = Source(f"unix://{slow.socket}")
        source.runtime.start(source.emitted.put)
        try:
            wait_for(lambda: source.errors("timeout") >= 1, timeout=10, what="a timeout")
        finally:
            slow.delay = 0.0
            source.runtime.close()

    with CriServer(tmp_path / "odd.sock", runtime_name="mystery") as odd:
        source = Source(f"unix://{odd.socket}")
        source.runtime.follow(RuntimeInterest(live=frozenset({UID})))
        odd.add(container(1))
        source.runtime.start(source.emitted.put)
        wait_for(lambda: source.errors("unknown_runtime") == 1, timeout=5, what="the runtime refused")
        threading.Event().wait(0.5)
        assert odd.calls["ListContainers"] == 0
        assert source.emitted.empty()
        source.runtime.close()


def test_the_source_stops_when_the_service_refuses_events(server: CriServer) -> None:
    server.add(container(1))
    source = Source(f"unix://{server.socket}")

    def refuse(event: events.ClusterEvent) -> None:
        raise ports.Stopped

    source.runtime.follow(RuntimeInterest(live=frozenset({UID})))
    source.runtime.start(refuse)
    thread = source.runtime._thread
    assert thread is not None
    thread.join(timeout=5)
    assert not thread.is_alive()
    source.runtime.close()


def test_the_kubelets_conversion_of_an_exited_container_and_labels_it_cannot_use() -> None:
    status = api_pb2.ContainerStatus(
        id="ab" * 32,
        state=api_pb2.CONTAINER_EXITED,
        started_at=1_700_000_000_500_000_000,
        finished_at=1_700_000_002_000_000_000,
        exit_code=3,
        reason="Error",
        image=api_pb2.ImageSpec(image="docker.io/library/nginx:1.27"),
        image_ref="docker.io/library/nginx@sha256:" + "cd" * 32,
        labels={
            "io.kubernetes.pod.uid": UID,
            "io.kubernetes.pod.namespace": "shop",
            "io.kubernetes.pod.name": "web-0",
            "io.kubernetes.container.name": "app",
        },
        annotations={"io.kubernetes.container.restartCount": "4"},
    )

    fact = conversion.container_of(status, prefix=conversion.runtime_prefix("cri-o"))

    assert fact.container_id == "cri-o://" + "ab" * 32
    assert fact.image_id == "docker.io/library/nginx@sha256:" + "cd" * 32
    assert fact.restart_count == 4
    assert fact.state == {
        "terminated": {
            "exitCode": 3,
            "reason": "Error",
            "startedAt": "2023-11-14T22:13:20Z",
            "finishedAt": "2023-11-14T22:13:22Z",
            "containerID": "cri-o://" + "ab" * 32,
        }
    }
    del status.labels["io.kubernetes.container.name"]
    with pytest.raises(conversion.NotAPodContainer, match=r"no io.kubernetes.container.name label"):
        conversion.container_of(status, prefix="containerd://")
    with pytest.raises(conversion.UnknownRuntime, match=r"unknown container runtime ''"):
        conversion.runtime_prefix("")


def test_permission_and_other_failures_get_reasons_an_operator_can_act_on() -> None:
    from pod_meta_exporter.adapters.cri import runtime

    class Failed(grpc.RpcError):
        def __init__(self, code: grpc.StatusCode, details: str) -> None:
            self._code, self._details = code, details

        def code(self) -> grpc.StatusCode:
            return self._code

        def details(self) -> str:
            return self._details

    unavailable = grpc.StatusCode.UNAVAILABLE
    # Root passes any socket's permission check, so this one is not reproduced with a real socket.
    assert runtime._reason(Failed(unavailable, "connect: Permission denied")) == "permission_denied"
    assert runtime._reason(Failed(unavailable, "connection refused")) == "unavailable"
    assert runtime._reason(Failed(grpc.StatusCode.UNIMPLEMENTED, "")) == "unimplemented"


def test_with_container_events_a_new_container_is_asked_about_when_announced_not_polled(
    tmp_path: Path,
) -> None:
    with CriServer(tmp_path / "events.sock", events=True) as server:
        # A minute between sweeps: only the event can bring the container in time.
        source = Source(f"unix://{server.socket}", slow_poll=60.0)
        source.runtime.follow(RuntimeInterest(live=frozenset({UID}), awaited=frozenset({UID})))
        source.runtime.start(source.emitted.put)
        try:
            wait_for(lambda: source.runtime.streaming and server.subscribers == 1, what="the event stream")
            wait_for(lambda: server.calls["ListContainers"] == 1, what="the first sweep")

            server.add(container(7))

            (event,) = source.facts(1, timeout=10)
            assert event.container.container_id == f"containerd://{7:064x}"
            assert server.calls["ListContainers"] == 1, "no poll: the event announced it"
        finally:
            source.runtime.close()
    assert source.runtime._listener is not None
    assert not source.runtime._listener.is_alive(), "close() ends the stream"


def test_without_container_events_the_runtime_is_polled(server: CriServer, source: Source) -> None:
    source.runtime.follow(RuntimeInterest(live=frozenset({UID}), awaited=frozenset({UID})))
    wait_for(lambda: server.calls["ListContainers"] >= 5, timeout=5, what="the fast poll")
    assert not source.runtime.streaming


def test_a_pod_that_starts_awaiting_a_container_is_looked_for_at_once_whatever_the_sweep_interval(
    tmp_path: Path,
) -> None:
    with CriServer(tmp_path / "cri.sock") as server:
        source = Source(f"unix://{server.socket}", slow_poll=60.0)
        source.runtime.follow(RuntimeInterest(live=frozenset({"running-pod"})))
        source.runtime.start(source.emitted.put)
        try:
            wait_for(lambda: server.calls["ListContainers"] >= 1, what="the first sweep")
            server.add(container(9))

            source.runtime.follow(
                RuntimeInterest(live=frozenset({"running-pod", UID}), awaited=frozenset({UID}))
            )

            (event,) = source.facts(1, timeout=10)
            assert event.container.pod_uid == UID
        finally:
            source.runtime.close()
