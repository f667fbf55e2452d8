"""How the exporter gets the state and keeps it, against the real API server: streamed in one watch
(WatchList), listed where the server does not stream it, and a silent watch given up and renewed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from integration.harness import APISERVER_ARGS, create_pod, pod_file
from integration.tcp_proxy import TcpProxy
from integration.test_api_outages import exporter_requests, files, is_sync
from support import identity
from support.kubeconfig import write_kubeconfig
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from integration.harness import Exporters
    from support.control_plane import ControlPlane
    from support.kubeapi import KubeApi

pytestmark = pytest.mark.integration


@pytest.mark.timeout(60)
def test_the_state_streams_in_one_watch_and_nothing_is_listed(
    admin: KubeApi, control_plane: ControlPlane, namespace: str, exporters: Exporters
) -> None:
    for name in ("a", "b", "c"):
        create_pod(admin, namespace, name)
    exporter = exporters.start()

    wait_for(
        lambda: files(exporter, namespace) == {pod_file(namespace, n) for n in "abc"}, what="three files"
    )
    requests = exporter_requests(control_plane, exporter)
    assert [r.verb for r in requests] == ["watch"]
    assert requests[0].parameters["sendInitialEvents"] == "true"
    assert requests[0].parameters["resourceVersionMatch"] == "NotOlderThan"
    assert "resourceVersion" not in requests[0].parameters  # a consistent read, from the watch cache
    assert exporter.value("pod_meta_exporter_relists_total", resource="pods") == 1


@pytest.fixture
def watch_list_off(control_plane: ControlPlane) -> Iterator[None]:
    """kube-apiserver with the WatchList feature gate off, as an older server."""
    with control_plane.restarted_with([*APISERVER_ARGS, "--feature-gates=WatchList=false"]):
        yield


@pytest.mark.timeout(90)
@pytest.mark.usefixtures("watch_list_off")
def test_a_server_that_does_not_stream_the_state_is_listed_instead(
    admin: KubeApi, control_plane: ControlPlane, namespace: str, exporters: Exporters
) -> None:
    for name in ("a", "b"):
        create_pod(admin, namespace, name)
    exporter = exporters.start()

    wait_for(lambda: files(exporter, namespace) == {pod_file(namespace, n) for n in "ab"}, what="two files")
    create_pod(admin, namespace, "c")
    wait_for(lambda: pod_file(namespace, "c") in files(exporter, namespace), what="c, from the watch")
    stream, listing, watch = exporter_requests(control_plane, exporter)
    assert (stream.verb, stream.parameters.get("sendInitialEvents"), stream.code) == ("watch", "true", 422)
    assert (listing.verb, listing.parameters.get("resourceVersion"), listing.code) == ("list", "0", 200)
    assert watch.verb == "watch"
    assert "sendInitialEvents" not in watch.parameters
    assert not [r for r in exporter_requests(control_plane, exporter) if is_sync(r) and r.code != 422][1:]
    assert exporter.value("pod_meta_exporter_api_errors_total", resource="pods", reason="http_422") == 0


@pytest.fixture
def proxied(
    control_plane: ControlPlane, service_account_token: str, tmp_path: Path
) -> Iterator[tuple[TcpProxy, Path]]:
    """A TCP proxy in front of the API server, and the exporter's kubeconfig through it."""
    with TcpProxy(control_plane.address, control_plane.apiserver_port) as proxy:
        kubeconfig = write_kubeconfig(
            tmp_path / "proxied.kubeconfig",
            server=f"https://127.0.0.1:{proxy.port}",
            ca_file=control_plane.ca_file,
            token=service_account_token,
            user=identity.SERVICE_ACCOUNT_USER,
        )
        yield proxy, kubeconfig


@pytest.mark.timeout(90)
def test_a_watch_gone_silent_behind_a_stalled_proxy_is_given_up_and_watched_again(
    admin: KubeApi, namespace: str, exporters: Exporters, proxied: tuple[TcpProxy, Path]
) -> None:
    proxy, kubeconfig = proxied
    timeout = 5.0
    exporter = exporters.start(kubeconfig=kubeconfig, args=(f"--inactive-watch-timeout={timeout:g}s",))
    create_pod(admin, namespace, "before")
    exporter.wait_document(pod_file(namespace, "before"))

    def given_up() -> float:
        return exporter.value("pod_meta_exporter_api_errors_total", resource="pods", reason="inactive_watch")

    before = given_up()
    proxy.hold()  # the watch's connection stays open, and nothing more comes through it
    held = time.monotonic()
    wait_for(lambda: given_up() > before, timeout=timeout + 10, what="the silent watch given up")
    noticed = time.monotonic() - held
    create_pod(admin, namespace, "after")

    exporter.wait_document(pod_file(namespace, "after"), timeout=30)  # through a new connection
    assert noticed <= timeout + 2.0
    wait_for(lambda: exporter.readyz() == 200, what="/readyz 200")
