"""The service with the container runtime as a second source, wired by the container: a real gRPC
runtime on a unix socket, the pods from a fake cluster."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

from pod_meta_exporter.adapters.cri.runtime import CriRuntime
from pod_meta_exporter.domain import events
from pod_meta_exporter.entrypoints.container import Container
from pod_meta_exporter.testing import FakeCluster, MemoryStore
from support import podfactory
from support.cri_server import Container as RuntimeContainer
from support.cri_server import CriServer
from support.settings import settings_for
from support.waiting import wait_for

if TYPE_CHECKING:
    from pathlib import Path


def test_without_the_flag_there_is_no_runtime_source_and_the_core_keeps_no_objects(tmp_path: Path) -> None:
    container = Container(settings=settings_for(tmp_path))

    assert container.runtime() is None
    assert container.directory().container_runtime is False


def test_a_pods_new_container_reaches_its_file_from_the_runtime_and_the_service_stops_it(
    tmp_path: Path,
) -> None:
    pod = podfactory.pod(image="local/busybox:1")
    pod["status"] = {"phase": "Pending"}  # the kubelet has reported nothing yet
    uid = pod["metadata"]["uid"]
    with CriServer(tmp_path / "cri.sock") as server:
        server.add(RuntimeContainer(id="ab" * 32, pod_uid=uid, namespace="shop", pod="web-0", name="app"))
        store, cluster = MemoryStore(), FakeCluster(events.PodsResynced((pod,)))
        container = Container(settings=settings_for(tmp_path, cri_endpoint=f"unix://{server.socket}"))
        container.store.override(store)
        container.cluster.override(cluster)
        service = container.service()
        assert isinstance(service.runtime, CriRuntime)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        try:
            document = wait_for(
                lambda: (
                    "shop_web-0.meta" in store.files
                    and json.loads(store.files["shop_web-0.meta"])["status"].get("containerStatuses")
                ),
                timeout=10,
                what="the runtime's container in the file",
            )
        finally:
            service.stop()
            thread.join(timeout=10)
    assert not thread.is_alive()
    assert document == [
        {
            "name": "app",
            "image": "docker.io/local/busybox:1",
            "imageID": "sha256:" + "12" * 32,
            "containerID": "containerd://" + "ab" * 32,
        }
    ]
    assert not any(t.name == "cri-runtime" and t.is_alive() for t in threading.enumerate())
