"""SimulatedCluster: the demo's busy node, a Cluster in this process that needs no API server."""

from __future__ import annotations

import itertools
import random
import threading
from typing import TYPE_CHECKING, Any

from pod_meta_exporter.domain.events import (
    ClusterEvent,
    NamespacesResynced,
    PodDeleted,
    PodsResynced,
    PodUpserted,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pod_meta_exporter.domain.ports import Cluster


class SimulatedCluster:
    """A node running short-lived pods: Jobs that start, report their image, and finish.

    Every `interval` seconds a pod is created; it is modified when its container starts
    (imageID and containerID arrive late, as they do from a real kubelet) and deleted
    `lifetime` seconds later. A couple of long-lived pods stay throughout.
    """

    NAMESPACES = ("demo", "batch")

    def __init__(
        self,
        *,
        node_name: str,
        namespace_metadata: bool = False,
        interval: float = 0.5,
        lifetime: tuple[float, float] = (1.0, 4.0),
        seed: int | None = None,
    ) -> None:
        self.node_name = node_name
        self.namespace_metadata = namespace_metadata
        self.interval = interval
        self.lifetime = lifetime
        self._rng = random.Random(seed)
        self._closed = threading.Event()
        self._serial = itertools.count(1)
        self._tickets = itertools.count()  # orders events scheduled for the same moment
        self._thread: threading.Thread | None = None

    def start(self, emit: Callable[[ClusterEvent], None], *, ended: Callable[[], None]) -> None:
        if self._thread is not None:
            msg = "SimulatedCluster.start() can be called only once"
            raise RuntimeError(msg)

        def deliver() -> None:
            try:
                for event in self.events():
                    if self._closed.is_set():  # an event made just before close()
                        return
                    emit(event)
            except Exception:  # the consumer stopped
                return
            if not self._closed.is_set():
                ended()

        self._thread = threading.Thread(target=deliver, name="simulated-cluster", daemon=True)
        self._thread.start()

    def events(self) -> Iterator[ClusterEvent]:
        """The node's events, as they happen, until close()."""
        if self.namespace_metadata:
            yield NamespacesResynced(tuple(self._namespace(ns) for ns in self.NAMESPACES))
        yield PodsResynced(tuple(self._pod(f"web-{n}", "demo", started=True) for n in range(2)))
        schedule: list[tuple[float, int, ClusterEvent]] = []
        clock = 0.0
        next_create = 0.0
        while True:
            if not schedule or next_create <= schedule[0][0]:
                wait, clock = next_create - clock, next_create
                if self._closed.wait(max(wait, 0.0)):
                    return
                yield from self._create(clock, schedule)
                next_create += self.interval
            else:
                at, _, event = schedule.pop(0)
                wait, clock = at - clock, at
                if self._closed.wait(max(wait, 0.0)):
                    return
                yield event

    def _create(self, now: float, schedule: list[tuple[float, int, ClusterEvent]]) -> Iterator[ClusterEvent]:
        namespace = self._rng.choice(self.NAMESPACES)
        name = f"job-{next(self._serial):05d}-{self._rng.randrange(16**5):05x}"
        pending = self._pod(name, namespace, started=False)
        yield PodUpserted(pending)
        started = self._pod(name, namespace, started=True, uid=pending["metadata"]["uid"])
        lifetime = self._rng.uniform(*self.lifetime)
        schedule.append((now + min(0.2, lifetime / 2), next(self._tickets), PodUpserted(started)))
        schedule.append((now + lifetime, next(self._tickets), PodDeleted(started)))
        schedule.sort(key=lambda item: (item[0], item[1]))

    def is_live(self) -> bool:
        return self._thread is not None and not self._closed.is_set()

    def close(self) -> None:
        self._closed.set()

    def _pod(self, name: str, namespace: str, *, started: bool, uid: str | None = None) -> dict[str, Any]:
        uid = uid or f"{self._rng.getrandbits(128):032x}"
        image = "registry.example/batch/report:1.4.2"
        status: dict[str, Any] = {"phase": "Pending", "hostIP": "10.0.0.2", "podIP": "10.244.1.17"}
        container: dict[str, Any] = {
            "name": "main",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "ready": False,
            "restartCount": 0,
            "image": image,
            "imageID": "",
        }
        if started:
            status["phase"] = "Running"
            container["state"] = {"running": {"startedAt": "2026-11-27T10:00:00Z"}}
            container["ready"] = True
            container["imageID"] = f"registry.example/batch/report@sha256:{uid[:32]}{uid[:32]}"
            container["containerID"] = f"containerd://{uid}{uid}"
        status["containerStatuses"] = [container]
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": uid,
                "labels": {"app": name.split("-", maxsplit=1)[0], "simulated": "true"},
                "annotations": {"fluentbit.io/parser": "json"},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid}],
            },
            "spec": {
                "nodeName": self.node_name,
                "containers": [
                    {"name": "main", "image": image, "env": [{"name": "TOKEN", "value": "s3cret"}]}
                ],
            },
            "status": status,
        }

    def _namespace(self, name: str) -> dict[str, Any]:
        return {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": name, "uid": f"ns-{name}", "labels": {"team": f"{name}-team"}},
        }


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _simulated: Cluster = SimulatedCluster(node_name="n")
