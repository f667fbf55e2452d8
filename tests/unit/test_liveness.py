"""/healthz means it: it fails once the main loop is stuck (a write that hangs), and the exporter
listens on IPv6 and IPv4 addresses alike."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from pod_meta_exporter.adapters.clock import SystemClock
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.entrypoints.http import HealthServer
from pod_meta_exporter.entrypoints.settings import load
from pod_meta_exporter.service.service import Service
from pod_meta_exporter.testing import FakeCluster, MemoryStore
from support import podfactory
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

BOUND = 2.0  # the idle loop turns every third of it: room for a loaded machine's scheduling


class HangingStore(MemoryStore):
    """A store whose writes block while `hang` is set, as on a dead NFS mount or a stuck disk."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = threading.Event()
        self.release = threading.Event()

    def write(self, name: str, content: bytes) -> None:
        if self.hang.is_set():
            self.release.wait()
        super().write(name, content)


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def served() -> Iterator[tuple[Service, HangingStore, FakeCluster, str]]:
    store, cluster, metrics = HangingStore(), FakeCluster(events.PodsResynced(())), Metrics()
    service = Service(
        directory=MetaDirectory(retention=60.0),
        cluster=cluster,
        store=store,
        clock=SystemClock(),
        metrics=metrics,
        liveness_bound=BOUND,
    )
    server = HealthServer(
        listen=("127.0.0.1", 0), registry=metrics.registry, ready=service.ready, alive=service.alive
    )
    server.start()
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    yield service, store, cluster, f"http://127.0.0.1:{server.port}/healthz"
    store.release.set()
    service.stop()
    thread.join(timeout=10)
    server.stop()


def test_healthz_stays_ok_while_the_idle_loop_waits_and_fails_within_the_bound_when_a_write_hangs(
    served: tuple[Service, HangingStore, FakeCluster, str],
) -> None:
    service, store, cluster, url = served
    wait_for(service.ready, what="the service ready")
    time.sleep(BOUND * 2)  # idle, longer than the bound: the loop still turns
    assert status(url) == 200

    store.hang.set()
    hung = time.monotonic()
    cluster.emit(events.PodUpserted(podfactory.pod()))
    wait_for(lambda: status(url) == 503, timeout=BOUND + 10, what="/healthz failing")
    assert time.monotonic() - hung >= BOUND * 0.9, "not before the bound"

    store.release.set()
    wait_for(lambda: status(url) == 200, timeout=10, what="/healthz ok once the write returns")


@pytest.mark.parametrize("listen", ["[::1]:0", "[::]:0", "0.0.0.0:0", "127.0.0.1:0"])
def test_the_endpoints_listen_on_ipv6_and_ipv4_addresses(listen: str) -> None:
    address = load(["--listen", listen], {}, hostname="node-a").listen
    server = HealthServer(listen=address, registry=Metrics().registry, ready=lambda: True, alive=lambda: True)
    server.start()
    try:
        host = "[::1]" if ":" in address[0] else "127.0.0.1"
        assert status(f"http://{host}:{server.port}/healthz") == 200
        if address[0] == "::":  # dual-stack: IPv4 clients reach it too
            assert status(f"http://127.0.0.1:{server.port}/healthz") == 200
    finally:
        server.stop()


def test_the_default_listen_address_stays_the_documented_one() -> None:
    assert load([], {}, hostname="node-a").listen == ("0.0.0.0", 8080)
    assert load(["--listen", "[::]:8080"], {}, hostname="node-a").listen == ("::", 8080)
