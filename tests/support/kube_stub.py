"""A stand-in kube-apiserver for unit tests: scripted list and watch replies as chunked JSON lines."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pod_meta_exporter.adapters.kubernetes.endpoint import Endpoint
from pod_meta_exporter.adapters.kubernetes.transport import HttpTransport

if TYPE_CHECKING:
    from types import TracebackType

NODE = "node-a"
# What a kube-apiserver with the WatchList feature gate off answers sendInitialEvents with.
WATCH_LIST_OFF = (
    'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: '
    "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"
)
_POLL_SECONDS = 0.01


def transport_to(url: str, *, token: str | None = None) -> HttpTransport:
    endpoint = Endpoint(
        server=url, source="the stub", authorization=lambda: f"Bearer {token}" if token else None
    )
    return HttpTransport(endpoint, user_agent="pod-meta-exporter/test (linux/amd64)")


# --- API objects and watch events -------------------------------------------------------------


def pod(name: str, rv: str, *, namespace: str = "default", phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": rv},
        "spec": {"nodeName": NODE},
        "status": {"phase": phase},
    }


def namespace(name: str, rv: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "uid": f"uid-ns-{name}", "resourceVersion": rv, "labels": {"team": name}},
    }


@dataclass(frozen=True)
class Event:
    """One watch event, sent as one JSON line in one chunk."""

    type: str
    object: dict[str, Any]

    def line(self) -> bytes:
        return json.dumps({"type": self.type, "object": self.object}).encode() + b"\n"


def added(obj: dict[str, Any]) -> Event:
    return Event("ADDED", obj)


def modified(obj: dict[str, Any]) -> Event:
    return Event("MODIFIED", obj)


def deleted(obj: dict[str, Any]) -> Event:
    return Event("DELETED", obj)


def bookmark(rv: str, kind: str = "Pod") -> Event:
    return Event("BOOKMARK", {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": rv}})


def initial_events_end(rv: str, kind: str = "Pod") -> Event:
    """The bookmark that ends the initial events of a WatchList stream."""
    metadata = {"resourceVersion": rv, "annotations": {"k8s.io/initial-events-end": "true"}}
    return Event("BOOKMARK", {"kind": kind, "apiVersion": "v1", "metadata": metadata})


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def expired(rv: str = "10") -> Event:
    return Event("ERROR", status(410, "Expired", f"too old resource version: {rv} (99)"))


# --- Stream steps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """Bytes sent as one chunk as they are: half a line, or not JSON at all."""

    data: bytes


@dataclass(frozen=True)
class Drop:
    """Close the connection without the final chunk."""


@dataclass(frozen=True)
class Hang:
    """Send nothing until `until` is set or the stub stops, then drop the connection."""

    until: threading.Event | None = None


Step = Event | Raw | Drop | Hang


# --- Replies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """200 with a list, in two chunks."""

    items: list[dict[str, Any]]
    resource_version: str


@dataclass(frozen=True)
class Failing:
    """An error status with a Status body, as the API server sends."""

    code: int
    reason: str = "InternalError"
    message: str = "the stub was told to fail"


@dataclass(frozen=True)
class Stream:
    """200, chunked, then the steps; then the final chunk, unless a step dropped the connection."""

    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Unanswered:
    """No status line at all until `until` is set or the stub stops; then the connection drops."""

    until: threading.Event | None = None


Reply = Listing | Failing | Stream | Unanswered


@dataclass(frozen=True)
class Request:
    resource: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def kind(self) -> str:
        """list, watch, or stream: a watch that first streams the initial state (WatchList)."""
        if self.query.get("watch") != "true":
            return "list"
        return "stream" if self.query.get("sendInitialEvents") == "true" else "watch"

    @property
    def watch(self) -> bool:
        return self.kind == "watch"

    @property
    def resource_version(self) -> str | None:
        return self.query.get("resourceVersion")


@dataclass
class KubeStub:
    """Answers GET /api/v1/{pods,namespaces} from per-resource scripts of list and watch replies.

    A watch with no script left hangs (connected, silent); a list with none left gets no answer; a
    stream with none is refused as a server with WatchList turned off refuses it.
    Every request's query and headers are recorded, in order. With `tokens`, a request whose bearer
    token is not among them is answered 401, as the API server answers an expired token.
    """

    requests: list[Request] = field(default_factory=list)
    tokens: set[str] | None = None
    errors: list[BaseException] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _replies: dict[tuple[str, str], deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kube-stub"
        )

    def __enter__(self) -> KubeStub:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.cut_connections()
        self._server.server_close()  # joins the handler threads
        self._thread.join()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def transport(self, *, token: str | None = None) -> HttpTransport:
        return transport_to(self.url, token=token)

    def lists(self, resource: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[resource, "list"].extend(replies)

    def watches(self, resource: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[resource, "watch"].extend(replies)

    def streams(self, resource: str, *replies: Reply) -> None:
        """Replies to watches that ask for the initial state first (sendInitialEvents=true)."""
        with self._lock:
            self._replies[resource, "stream"].extend(replies)

    def requests_to(self, resource: str, *, watch: bool) -> list[Request]:
        """Plain watches, or lists (streams are neither)."""
        with self._lock:
            kind = "watch" if watch else "list"
            return [r for r in self.requests if r.resource == resource and r.kind == kind]

    def kinds(self, resource: str) -> list[tuple[str, str | None]]:
        """(kind, resourceVersion) of each request to resource, in order."""
        with self._lock:
            return [(r.kind, r.resource_version) for r in self.requests if r.resource == resource]

    def versions(self, resource: str, *, watch: bool) -> list[str | None]:
        """The resourceVersion of each list or watch request to resource, in order."""
        return [r.resource_version for r in self.requests_to(resource, watch=watch)]

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.tokens is not None and request.headers.get("Authorization", "")[7:] not in self.tokens:
                return Failing(401, "Unauthorized", "Unauthorized")
            script = self._replies[request.resource, request.kind]
            if script:
                return script.popleft()
        if request.kind == "stream":
            return Failing(422, "Invalid", WATCH_LIST_OFF)
        return Stream((Hang(),)) if request.watch else Unanswered()

    def _wait(self, until: threading.Event | None) -> None:
        while not self.stopping.is_set() and not (until is not None and until.is_set()):
            self.stopping.wait(_POLL_SECONDS)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so that server_close() joins them
    block_on_close = True

    def __init__(self, stub: KubeStub) -> None:
        self.stub = stub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        """Wake handlers waiting for a next request on a kept-alive connection."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):  # a client going away is normal
            self.stub.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        stub = self.server.stub
        reply = stub._next(
            Request(resource=url.path.rsplit("/", 1)[-1], query=query, headers=dict(self.headers.items()))
        )
        match reply:
            case Listing(items=items, resource_version=rv):
                body = json.dumps(
                    {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items}
                )
                self._start_chunked(200)
                half = len(body) // 2
                self._chunk(body[:half].encode())
                self._chunk(body[half:].encode())
                self._chunk(b"")
            case Failing(code=code, reason=reason, message=message):
                data = json.dumps(status(code, reason, message)).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            case Stream(steps=steps):
                self._start_chunked(200)
                for step in steps:
                    match step:
                        case Event():
                            self._chunk(step.line())
                        case Raw(data=data):
                            self._chunk(data)
                        case Drop():
                            self.close_connection = True
                            return
                        case Hang(until=until):
                            stub._wait(until)
                            self.close_connection = True
                            return
                self._chunk(b"")
            case Unanswered(until=until):
                stub._wait(until)
                self.close_connection = True

    def _start_chunked(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
