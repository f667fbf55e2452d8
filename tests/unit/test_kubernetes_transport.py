"""HttpTransport against the stub: the headers the API server sees, errors kept whole, TCP keepalive."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from pod_meta_exporter.adapters.kubernetes.endpoint import Endpoint
from pod_meta_exporter.adapters.kubernetes.transport import ApiError, HttpTransport
from support.kube_stub import Failing, KubeStub, Listing, pod

if TYPE_CHECKING:
    from collections.abc import Iterator

TIMEOUT = (2.0, 5.0)
USER_AGENT = "pod-meta-exporter/9.9.9 (linux/amd64)"


@pytest.fixture
def stub() -> Iterator[KubeStub]:
    with KubeStub() as server:
        yield server
    assert server.errors == []


def test_each_request_asks_for_json_names_the_exporter_and_carries_the_token_of_the_moment(
    stub: KubeStub,
) -> None:
    tokens = iter(["first", "second"])
    endpoint = Endpoint(server=stub.url, source="test", authorization=lambda: f"Bearer {next(tokens)}")
    transport = HttpTransport(endpoint, user_agent=USER_AGENT)
    stub.lists("pods", Listing([pod("a", "3")], "10"), Listing([], "11"))

    bodies = []
    for _ in range(2):
        response = transport.get("/api/v1/pods", [("resourceVersion", "0")], timeout=TIMEOUT)
        bodies.append(response.read())
        response.release_conn()
    transport.close()

    assert b'"name": "a"' in bodies[0]
    first, second = stub.requests
    assert first.query == {"resourceVersion": "0"}
    assert first.headers["Accept"] == "application/json"
    assert first.headers["User-Agent"] == USER_AGENT
    assert [first.headers["Authorization"], second.headers["Authorization"]] == [
        "Bearer first",
        "Bearer second",
    ]


def test_no_authorization_header_without_credentials(stub: KubeStub) -> None:
    transport = HttpTransport(Endpoint(server=stub.url, source="test"), user_agent=USER_AGENT)
    stub.lists("pods", Listing([], "1"))

    transport.get("/api/v1/pods", [], timeout=TIMEOUT).release_conn()
    transport.close()

    assert "Authorization" not in stub.requests[0].headers


def test_an_error_status_raises_with_the_apis_reason_and_message(stub: KubeStub) -> None:
    transport = stub.transport()
    stub.lists("pods", Failing(403, "Forbidden", 'pods is forbidden: User "x" cannot list'))

    with pytest.raises(ApiError) as raised:
        transport.get("/api/v1/pods", [], timeout=TIMEOUT)
    transport.close()

    assert (raised.value.status, raised.value.reason) == (403, "Forbidden")
    assert raised.value.message == 'pods is forbidden: User "x" cannot list'


def test_connections_use_tcp_keepalive_with_client_gos_timings(stub: KubeStub) -> None:
    transport = stub.transport()
    stub.lists("pods", Listing([], "1"))

    response = transport.get("/api/v1/pods", [], timeout=TIMEOUT)
    sock = response.connection.sock  # type: ignore[attr-defined]
    options = [
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
    ]
    response.read()
    response.release_conn()
    transport.close()

    assert options == [1, 30, 15, 9, 1]
