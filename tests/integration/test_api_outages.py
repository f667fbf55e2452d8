"""API server outages and expired watches: the exporter comes back with exactly the right files."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from integration.harness import APISERVER_ARGS, create_pod, delete_pod, pod_file
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from integration.harness import Exporters
    from support.control_plane import AuditedRequest, ControlPlane
    from support.exporter import Exporter
    from support.kubeapi import KubeApi

pytestmark = pytest.mark.integration

RETENTION = 3.0  # the fixture's default --retention-period
# Reconnects back off with full jitter up to 30s; after a few seconds of outage the next try
# comes within about 16s.
RECONNECT_TIMEOUT = 45.0


@pytest.mark.timeout(150)
def test_after_an_api_server_outage_the_exporter_reconnects_with_exactly_the_right_files(
    control_plane: ControlPlane, admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    exporter = exporters.start()
    a, b, c, d = (pod_file(namespace, name) for name in "abcd")
    for name in "abc":
        create_pod(admin, namespace, name)
    delete_pod(admin, namespace, "a")
    wait_for(lambda: files(exporter, namespace) == {a, b, c}, timeout=10, what="a (retained), b and c")

    control_plane.stop_apiserver()
    try:
        wait_for(lambda: exporter.readyz() == 503, timeout=15, what="/readyz 503 in the outage")
        # Down for a few seconds: the exporter retries, and its retention clock still runs.
        wait_for(lambda: api_errors(exporter) >= 2, timeout=15, what="two failed reconnects")
        wait_for(lambda: files(exporter, namespace) == {b, c}, timeout=RETENTION + 10, what="a's removal")
        assert exporter.readyz() == 503
    finally:
        control_plane.start_apiserver()

    delete_pod(admin, namespace, "b")
    create_pod(admin, namespace, "d")
    wait_for(lambda: exporter.readyz() == 200, timeout=RECONNECT_TIMEOUT, what="/readyz 200 after the outage")
    wait_for(lambda: files(exporter, namespace) == {b, c, d}, timeout=10, what="b (retained), c and d")
    wait_for(lambda: files(exporter, namespace) == {c, d}, timeout=RETENTION + 10, what="b's removal")
    assert exporter.readyz() == 200
    assert exporter.value("pod_meta_exporter_ready") == 1


@pytest.fixture
def watch_cache_disabled(control_plane: ControlPlane) -> Iterator[None]:
    """kube-apiserver serving watches from etcd, so a compacted resourceVersion gets a 410."""
    with control_plane.restarted_with([*APISERVER_ARGS, "--watch-cache=false"]):
        yield


@pytest.mark.timeout(150)
@pytest.mark.usefixtures("watch_cache_disabled")
def test_a_410_gone_leads_to_a_relist_that_notices_the_deletions_made_meanwhile(
    control_plane: ControlPlane, admin: KubeApi, namespace: str, exporters: Exporters
) -> None:
    exporter = exporters.start()
    names = [f"g{i}" for i in range(4)]
    for name in names:
        create_pod(admin, namespace, name)
    every = {pod_file(namespace, name) for name in names}
    wait_for(lambda: files(exporter, namespace) == every, timeout=10, what="four files")
    assert exporter.value("pod_meta_exporter_relists_total", resource="pods") == 1

    exporter.pause()
    # A restart cuts the paused exporter's watch, so no watch of its own sees what follows.
    control_plane.stop_apiserver()
    control_plane.start_apiserver()
    delete_pod(admin, namespace, "g0")
    delete_pod(admin, namespace, "g1")
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "moves-the-revision"}}
    admin.expect("POST", f"/api/v1/namespaces/{namespace}/configmaps", config_map)
    control_plane.compact_etcd()  # the exporter's resourceVersion, and the deletions, are history
    assert files(exporter, namespace) == every
    resumed = time.monotonic()
    exporter.resume()

    # Its watch from the old resourceVersion gets an ERROR event with code 410: it lists again.
    wait_for(
        lambda: exporter.value("pod_meta_exporter_relists_total", resource="pods") >= 2,
        timeout=RECONNECT_TIMEOUT,
        what="a relist",
    )
    remaining = {pod_file(namespace, "g2"), pod_file(namespace, "g3")}
    wait_for(lambda: files(exporter, namespace) == remaining, timeout=RETENTION + 10, what="g0, g1 removed")
    assert time.monotonic() - resumed >= RETENTION  # they were kept for the retention first
    pods_log = [record for record in exporter.log_records() if record.get("resource") == "pods"]
    expired = next(i for i, record in enumerate(pods_log) if "cannot be served" in record["message"])
    # Its watch had been answered 200: the 410 came as an ERROR event in the stream.
    assert "watch connected" in pods_log[expired - 1]["message"], pods_log
    wait_for(lambda: exporter.readyz() == 200, timeout=10, what="/readyz 200")
    # It synced again from the last version it had seen, as client-go's reflector does: never back
    # in time, never a quorum read for thousands of nodes at once. (The API server's audit log.)
    last_seen = pods_log[expired]["resource_version"]
    syncs = [r for r in exporter_requests(control_plane, exporter) if is_sync(r)]
    assert [r.parameters.get("resourceVersion", "") for r in syncs] == ["", last_seen]


def files(exporter: Exporter, namespace: str) -> set[str]:
    return {name for name in exporter.files() if name.startswith(f"{namespace}_")}


def api_errors(exporter: Exporter) -> float:
    return exporter.metrics().total("pod_meta_exporter_api_errors_total", resource="pods")


def exporter_requests(control_plane: ControlPlane, exporter: Exporter) -> list[AuditedRequest]:
    """The audited requests (deploy/'s ServiceAccount) since this exporter started: the exporters of
    earlier tests are stopped by then."""
    started = time.time() - (time.monotonic() - exporter.started_at)
    return [r for r in control_plane.audited_requests() if r.received >= started and r.resource == "pods"]


def is_sync(request: AuditedRequest) -> bool:
    """A list, or a watch that streams the initial state first."""
    return request.verb == "list" or request.parameters.get("sendInitialEvents") == "true"
