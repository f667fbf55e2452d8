"""A small CRI runtime: a real gRPC server on a unix socket that serves Version, ListContainers and
ContainerStatus from containers a test adds, as containerd 1.6 serves them, and with `events`
GetContainerEvents too, as containerd 1.7 and later do."""

from __future__ import annotations

import queue
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc

from pod_meta_exporter.adapters.cri import api_pb2

if TYPE_CHECKING:
    from pathlib import Path

SERVICE = "runtime.v1.RuntimeService"


@dataclass
class Container:
    id: str
    pod_uid: str
    namespace: str
    pod: str
    name: str
    image: str = "docker.io/local/busybox:1"
    image_ref: str = "sha256:" + "12" * 32
    restart_count: int = 0
    state: int = api_pb2.CONTAINER_CREATED
    created_at: int = field(default_factory=time.time_ns)


class CriServer:
    """Containers by ID; `delay` slows every call, `gone` makes ContainerStatus answer NOT_FOUND.
    Without `events`, GetContainerEvents is UNIMPLEMENTED, as gRPC answers any unknown method."""

    def __init__(self, socket: Path, *, runtime_name: str = "containerd", events: bool = False) -> None:
        self.socket = socket
        self.runtime_name = runtime_name
        self.containers: dict[str, Container] = {}
        self.delay = 0.0
        self.gone: set[str] = set()
        self.calls: dict[str, int] = {"Version": 0, "ListContainers": 0, "ContainerStatus": 0}
        self._subscribers: list[queue.SimpleQueue[api_pb2.ContainerEventResponse | None]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handlers = {
            "Version": self._handler(self._version, api_pb2.VersionRequest),
            "ListContainers": self._handler(self._list, api_pb2.ListContainersRequest),
            "ContainerStatus": self._handler(self._status, api_pb2.ContainerStatusRequest),
        }
        if events:
            handlers["GetContainerEvents"] = grpc.unary_stream_rpc_method_handler(
                self._events,
                request_deserializer=api_pb2.GetEventsRequest.FromString,
                response_serializer=lambda response: response.SerializeToString(),
            )
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self._server.add_insecure_port(f"unix://{socket}")

    def __enter__(self) -> CriServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.put(None)
        self._server.stop(grace=None)

    def add(self, container: Container) -> None:
        """The container, created; with events, each subscriber is told."""
        event = api_pb2.ContainerEventResponse(
            container_id=container.id,
            container_event_type=api_pb2.CONTAINER_CREATED_EVENT,
            created_at=container.created_at,
            pod_sandbox_status=api_pb2.PodSandboxStatus(
                metadata=api_pb2.PodSandboxMetadata(
                    name=container.pod, uid=container.pod_uid, namespace=container.namespace
                )
            ),
        )
        with self._lock:
            self.containers[container.id] = container
            for subscriber in self._subscribers:
                subscriber.put(event)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _events(self, request: api_pb2.GetEventsRequest, context: grpc.ServicerContext) -> Any:
        events: queue.SimpleQueue[api_pb2.ContainerEventResponse | None] = queue.SimpleQueue()
        with self._lock:
            self._subscribers.append(events)
        try:
            while context.is_active():
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if event is None:
                    return
                yield event
        finally:
            with self._lock:
                self._subscribers.remove(events)

    def _handler(self, method: Any, request: Any) -> grpc.RpcMethodHandler[Any, Any]:
        def serve(message: Any, context: grpc.ServicerContext) -> Any:
            time.sleep(self.delay)
            return method(message, context)

        return grpc.unary_unary_rpc_method_handler(
            serve,
            request_deserializer=request.FromString,
            response_serializer=lambda response: response.SerializeToString(),
        )

    def _count(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1

    def _version(self, request: api_pb2.VersionRequest, context: grpc.ServicerContext) -> Any:
        self._count("Version")
        return api_pb2.VersionResponse(
            version="0.1.0",
            runtime_name=self.runtime_name,
            runtime_version="1.6.20",
            runtime_api_version="v1",
        )

    def _list(self, request: api_pb2.ListContainersRequest, context: grpc.ServicerContext) -> Any:
        self._count("ListContainers")
        with self._lock:
            listed = list(self.containers.values())
        # As containerd: the image is the bare image ID, not the name the kubelet reports.
        return api_pb2.ListContainersResponse(
            containers=[
                api_pb2.Container(
                    id=c.id,
                    image=api_pb2.ImageSpec(image=c.image_ref),
                    image_ref=c.image_ref,
                    state=c.state,  # type: ignore[arg-type]
                    created_at=c.created_at,
                    labels=_labels(c),
                )
                for c in listed
            ]
        )

    def _status(self, request: api_pb2.ContainerStatusRequest, context: grpc.ServicerContext) -> Any:
        self._count("ContainerStatus")
        with self._lock:
            c = self.containers.get(request.container_id)
        if c is None or c.id in self.gone:
            context.abort(grpc.StatusCode.NOT_FOUND, f"container {request.container_id} not found")
        assert c is not None
        now = time.time_ns()
        return api_pb2.ContainerStatusResponse(
            status=api_pb2.ContainerStatus(
                id=c.id,
                state=c.state,  # type: ignore[arg-type]
                created_at=c.created_at,
                started_at=now if c.state != api_pb2.CONTAINER_CREATED else 0,
                finished_at=now if c.state == api_pb2.CONTAINER_EXITED else 0,
                exit_code=0,
                reason="Completed" if c.state == api_pb2.CONTAINER_EXITED else "",
                image=api_pb2.ImageSpec(image=c.image),
                image_ref=c.image_ref,
                labels=_labels(c),
                annotations={"io.kubernetes.container.restartCount": str(c.restart_count)},
            )
        )


def _labels(c: Container) -> dict[str, str]:
    return {
        "io.kubernetes.pod.uid": c.pod_uid,
        "io.kubernetes.pod.namespace": c.namespace,
        "io.kubernetes.pod.name": c.pod,
        "io.kubernetes.container.name": c.name,
    }
