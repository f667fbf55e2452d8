"""CriRuntime: asks the node's container runtime about the containers of the node's pods, as soon as
it creates them, and hands their facts to the service.

A runtime with GetContainerEvents (containerd 1.7 and later, CRI-O) says when it creates a
container, and its facts are asked for at once. containerd 1.6 (Debian bookworm's, and many
nodes') has no such stream, so the runtime is polled: ListContainers, then ContainerStatus for each
container not seen before of a pod the service follows (ListContainers alone reports the bare
sha256 image ID as both the image and its ref). The poll is fast while a pod awaits a container
and there is no stream; otherwise a slow sweep backs the stream up and finds a crash-looping
container's new attempt long before the kubelet's back-off lets it log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, TypeVar

import grpc
from google.protobuf.message import Message

from pod_meta_exporter.adapters.cri import api_pb2, conversion
from pod_meta_exporter.domain import events, ports
from pod_meta_exporter.domain.containers import RuntimeInterest

if TYPE_CHECKING:
    from collections.abc import Callable

    from pod_meta_exporter.adapters.metrics import Metrics
    from pod_meta_exporter.domain.containers import RuntimeContainer

log = logging.getLogger(__name__)

# The runtime lists a container 67 to 814 ms before the kubelet makes its log link (median 93 to
# 374 ms, issue 19's probe on the node tier); polling at 20 ms finds it well before.
FAST_POLL = 0.02
SLOW_POLL = 1.0
# A pod that has awaited a container this long (an image that cannot be pulled, a long init
# container) is polled slowly, so that one stuck pod does not keep the fast poll going.
FAST_FOR = 60.0
CALL_TIMEOUT = 2.0
RETRY_FIRST, RETRY_CAP = 1.0, 30.0
# As the kubelet's CRI client: a node's ListContainers can exceed gRPC's 4 MiB default.
MAX_MESSAGE = 16 * 1024 * 1024
_SERVICE = "/runtime.v1.RuntimeService/"


class _Refused(Exception):
    """emit() refused an event: the service has stopped."""


_Request = TypeVar("_Request", bound=Message)
_Response = TypeVar("_Response", bound=Message)
_ANNOUNCING = (api_pb2.CONTAINER_CREATED_EVENT, api_pb2.CONTAINER_STARTED_EVENT)


class CriRuntime:
    """The ContainerRuntime port over a CRI endpoint (unix:///run/containerd/containerd.sock)."""

    def __init__(
        self, *, endpoint: str, metrics: Metrics, fast_poll: float = FAST_POLL, slow_poll: float = SLOW_POLL
    ) -> None:
        self.endpoint = endpoint
        self.metrics = metrics
        self.fast_poll = fast_poll
        self.slow_poll = slow_poll
        self._channel = grpc.insecure_channel(
            endpoint, options=[("grpc.max_receive_message_length", MAX_MESSAGE)]
        )
        self._version = _unary(self._channel, "Version", api_pb2.VersionRequest, api_pb2.VersionResponse)
        self._list = _unary(
            self._channel, "ListContainers", api_pb2.ListContainersRequest, api_pb2.ListContainersResponse
        )
        self._status = _unary(
            self._channel, "ContainerStatus", api_pb2.ContainerStatusRequest, api_pb2.ContainerStatusResponse
        )
        self._events = self._channel.unary_stream(
            _SERVICE + "GetContainerEvents",
            request_serializer=api_pb2.GetEventsRequest.SerializeToString,
            response_deserializer=api_pb2.ContainerEventResponse.FromString,
        )
        self._cancel_stream: Callable[[], object] | None = None  # of the open event stream, for close()
        self.streaming = False
        """Whether the runtime's event stream is open: then the poll is slow."""
        self._hints: set[str] = set()  # IDs of containers the stream announced, to ask about at once
        self._next_sweep = 0.0  # when ListContainers is next due (time.monotonic())
        self._lock = threading.Lock()
        self._interest = RuntimeInterest()
        self._awaited_since: dict[str, float] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._seen: set[str] = set()  # IDs of the containers whose facts were handed on
        self._prefix: str | None = None
        self._failing: str | None = None  # the reason of the failure that was last logged
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    # -- the port ---------------------------------------------------------------------------

    def start(self, emit: Callable[[events.ClusterEvent], None]) -> None:
        if self._thread is not None:
            msg = "the runtime source is started already"
            raise RuntimeError(msg)
        self._thread = threading.Thread(target=self._run, args=(emit,), name="cri-runtime", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="cri-events", daemon=True)
        self._thread.start()
        self._listener.start()

    def follow(self, interest: RuntimeInterest) -> None:
        now = time.monotonic()
        with self._lock:
            new = interest.awaited - self._awaited_since.keys()
            self._awaited_since = {uid: self._awaited_since.get(uid, now) for uid in interest.awaited}
            self._interest = interest
            if new:
                self._next_sweep = 0.0  # a pod awaits a container: look at once, then often
        if new:
            self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            cancel = self._cancel_stream
        if cancel is not None:
            cancel()
        for thread in (self._thread, self._listener):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=CALL_TIMEOUT + 1)
        self._channel.close()

    # -- the thread -------------------------------------------------------------------------

    def _run(self, emit: Callable[[events.ClusterEvent], None]) -> None:
        retry = RETRY_FIRST
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if self._prefix is None:
                    self._prefix = self._connect()
                self._poll(emit)
            except grpc.RpcError as error:
                self._failed(_reason(error), _details(error))
                delay, retry = retry, min(RETRY_CAP, retry * 2)
            except conversion.UnknownRuntime as error:
                self._failed("unknown_runtime", str(error))
                log.warning("the runtime source stays off; files follow the API alone")
                return
            except _Refused:
                return
            else:
                self._recovered()
                delay, retry = max(0.0, self._next_sweep - time.monotonic()), RETRY_FIRST
            self._wake.wait(delay)

    def _connect(self) -> str:
        version = self._version(api_pb2.VersionRequest(version="v1"), timeout=CALL_TIMEOUT)
        prefix = conversion.runtime_prefix(version.runtime_name)
        log.info(
            "container runtime %s %s (CRI %s) at %s: new containers' facts are written before the kubelet "
            "reports them",
            version.runtime_name,
            version.runtime_version,
            version.runtime_api_version,
            self.endpoint,
        )
        return prefix

    def _poll(self, emit: Callable[[events.ClusterEvent], None]) -> None:
        """The containers the stream announced, then, when it is due, a sweep of ListContainers."""
        with self._lock:
            live = self._interest.live
            hints, self._hints = self._hints, set()
        if not live:
            self._next_sweep = time.monotonic() + self.slow_poll
            return
        for container_id in hints - self._seen:
            self._hand_on(container_id, live, emit)
        if time.monotonic() < self._next_sweep:
            return
        listed = self._list(api_pb2.ListContainersRequest(), timeout=CALL_TIMEOUT).containers
        present: set[str] = set()
        for container in listed:
            present.add(container.id)
            if container.id not in self._seen and container.labels.get(conversion.POD_UID) in live:
                self._hand_on(container.id, live, emit)
        self._seen &= present
        self._next_sweep = time.monotonic() + self._interval()

    def _hand_on(
        self, container_id: str, live: frozenset[str], emit: Callable[[events.ClusterEvent], None]
    ) -> None:
        fact = self._fact(container_id)
        self._seen.add(container_id)
        if fact is None or fact.pod_uid not in live:
            return
        self.metrics.runtime_containers.inc()
        try:
            emit(events.ContainerObserved(fact))
        except ports.Stopped as error:
            raise _Refused from error

    # -- the event stream -------------------------------------------------------------------

    def _listen(self) -> None:
        """Follow GetContainerEvents while the runtime has it; without it, the poll is all."""
        retry = RETRY_FIRST
        while not self._stop.is_set():
            stream = self._events(api_pb2.GetEventsRequest())
            cancel: Callable[[], object] = stream.cancel
            with self._lock:
                self._cancel_stream = cancel
            if self._stop.is_set():  # close() came before the stream was there to cancel
                cancel()
            # A runtime sends nothing on the stream until its first event, but answers a method it
            # lacks at once with UNIMPLEMENTED: until that comes, the stream counts as open.
            self.streaming, announced = True, False
            try:
                for event in stream:
                    if not announced:
                        announced, retry = True, RETRY_FIRST
                        log.info("following the runtime's container events; polling slowly besides")
                    if event.container_event_type in _ANNOUNCING:
                        self._announce(event.container_id, event.pod_sandbox_status.metadata.uid)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                    self.streaming = False
                    with self._lock:
                        if self._awaited_since:  # polled slowly while the stream was assumed
                            self._next_sweep = 0.0
                    self._wake.set()
                    log.info("the runtime has no container events (containerd before 1.7): polling it")
                    return
                if error.code() != grpc.StatusCode.CANCELLED:
                    self.metrics.runtime_errors.labels(f"events_{_reason(error)}").inc()
            self.streaming = False
            self._next_sweep = 0.0  # what the stream missed meanwhile, the next sweep finds
            self._wake.set()
            self._stop.wait(retry)
            retry = min(RETRY_CAP, retry * 2)

    def _announce(self, container_id: str, pod_uid: str) -> None:
        with self._lock:
            if pod_uid not in self._interest.live:
                return  # the next sweep finds it, if the pod is followed by then
            self._hints.add(container_id)
        self._wake.set()

    def _fact(self, container_id: str) -> RuntimeContainer | None:
        assert self._prefix is not None
        try:
            status = self._status(
                api_pb2.ContainerStatusRequest(container_id=container_id), timeout=CALL_TIMEOUT
            ).status
        except grpc.RpcError as error:
            if (
                error.code() == grpc.StatusCode.NOT_FOUND
            ):  # removed since it was listed, as the kubelet allows
                return None
            raise
        try:
            return conversion.container_of(status, prefix=self._prefix)
        except conversion.NotAPodContainer as error:
            self.metrics.runtime_errors.labels("invalid_container").inc()
            log.warning("skipping a container of the runtime: %s", error)
            return None

    def _interval(self) -> float:
        """Until the next sweep: fast while a pod awaits a container and no stream says when it comes."""
        if self.streaming:
            return self.slow_poll
        now = time.monotonic()
        with self._lock:
            fast = any(now - since < FAST_FOR for since in self._awaited_since.values())
        return self.fast_poll if fast else self.slow_poll

    def _failed(self, reason: str, details: str) -> None:
        self.metrics.runtime_errors.labels(reason).inc()
        if self._failing != reason:  # one line per failure, not one per retry
            self._failing = reason
            log.warning(
                "container runtime at %s: %s (%s); files follow the API alone until it answers",
                self.endpoint,
                details,
                reason,
                extra={"reason": reason},
            )

    def _recovered(self) -> None:
        if self._failing is not None:
            log.info("container runtime at %s answers again", self.endpoint)
            self._failing = None


def _unary(
    channel: grpc.Channel, method: str, request: type[_Request], response: type[_Response]
) -> grpc.UnaryUnaryMultiCallable[_Request, _Response]:
    return channel.unary_unary(
        _SERVICE + method,
        request_serializer=request.SerializeToString,
        response_deserializer=response.FromString,
    )


def _details(error: grpc.RpcError) -> str:
    return error.details() or str(error)


def _reason(error: grpc.RpcError) -> str:
    """A metric label for a failed call: what an operator can act on."""
    code = error.code()
    details = _details(error)
    if code == grpc.StatusCode.UNAVAILABLE and "No such file or directory" in details:
        return "socket_missing"
    if code == grpc.StatusCode.UNAVAILABLE and "Permission denied" in details:
        return "permission_denied"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "timeout"
    return str(code.name).lower()
