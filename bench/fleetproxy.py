"""An HTTPS proxy between a fleet of exporters and the API server: it passes every request on and
counts it, or, told to, answers every watch with 410 Gone, or every request with 429 and a
Retry-After, as a misbehaving proxy or an overloaded control plane would."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import ssl
import threading
import urllib.parse
from collections import Counter
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pathlib import Path

PASS, GONE_WATCHES, TOO_MANY = "pass", "410 every watch", "429 every request"
RETRY_AFTER = 5
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


def kind_of(method: str, target: str) -> str:
    """list, watch, watch (state streamed) or get, as the exporters' requests are."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    if query.get("watch", ["false"])[0] in {"1", "true"}:
        return "watch (state streamed)" if query.get("sendInitialEvents") == ["true"] else "watch"
    path = urllib.parse.urlsplit(target).path.rstrip("/")
    return "list" if method == "GET" and path.endswith(("/pods", "/namespaces")) else method.lower()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FleetProxy
    protocol_version = "HTTP/1.1"
    status_bodies: ClassVar[dict[int, dict[str, object]]] = {
        410: {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired", "code": 410,
              "message": "too old resource version (the fleet proxy answers every watch so)"},
        503: {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "ServiceUnavailable",
              "code": 503, "message": "the API server does not answer"},
        429: {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "TooManyRequests",
              "code": 429, "message": "the fleet proxy answers every request so"},
    }  # fmt: skip

    def do_GET(self) -> None:
        kind = kind_of("GET", self.path)
        mode = self.server.mode
        refused = mode != PASS and (mode == TOO_MANY or kind.startswith("watch"))
        self.server.count(kind, refused=refused, client=self.headers.get("Authorization", ""))
        if mode == TOO_MANY:
            self._refuse(429, {"Retry-After": str(RETRY_AFTER)})
        elif mode == GONE_WATCHES and kind.startswith("watch"):
            self._refuse(410, {})
        else:
            self._forward()

    def _refuse(self, code: int, headers: dict[str, str]) -> None:
        body = json.dumps(self.status_bodies[code]).encode()
        self.send_response(code)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        upstream = http.client.HTTPSConnection(
            self.server.upstream_host,
            self.server.upstream_port,
            context=self.server.client_context,
            timeout=700,
        )
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            try:
                upstream.request("GET", self.path, headers=headers)
                answer = upstream.getresponse()
            except OSError:
                self._refuse(503, {})  # as a load balancer answers while the API server is down
                return
            self.server.opened(self.connection)
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Connection", "close")  # the body runs until the connection closes
            self.end_headers()
            while chunk := answer.read1(65536):
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:
            pass  # the API server went away (a restart), or the exporter did
        finally:
            self.server.closed(self.connection)
            upstream.close()
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Thousands of requests: the counts say it."""


class FleetProxy(http.server.ThreadingHTTPServer):
    """Serves TLS with the API server's own certificate and key, so the exporters, which verify
    it against the cluster CA, reach it at the same address on another port."""

    daemon_threads = True

    def __init__(self, *, upstream: str, cert: Path, key: Path, ca: Path) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = parsed.hostname or "127.0.0.1", parsed.port or 443
        super().__init__((self.upstream_host, 0), _Handler)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert, key)
        # The handshake happens in each connection's thread, not in the one that accepts them all.
        self.socket = server_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.client_context = ssl.create_default_context(cafile=str(ca))
        self.mode = PASS
        self._counts: Counter[tuple[str, bool]] = Counter()
        self._clients: Counter[str] = Counter()  # requests by Authorization header
        self._open: set[socket.socket] = set()  # connections streaming an answer
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, name="fleet-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def count(self, kind: str, *, refused: bool, client: str) -> None:
        with self._lock:
            self._counts[(kind, refused)] += 1
            self._clients[client] += 1

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.discard(connection)

    def cut(self, mode: str) -> None:
        """Answer from now on as `mode` says, and cut every answer being streamed (the watches), as
        a proxy that restarts with a new configuration does: every exporter meets the new mode."""
        with self._lock:
            self.mode = mode
            streaming = list(self._open)
        for connection in streaming:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def clients(self) -> Counter[str]:
        """Requests by client (each exporter has a token of its own), since start()."""
        with self._lock:
            return Counter(self._clients)

    def counts(self) -> Counter[tuple[str, bool]]:
        """(kind, refused by the proxy) -> requests, since start()."""
        with self._lock:
            return Counter(self._counts)

    def since(self, before: Counter[tuple[str, bool]]) -> Counter[tuple[str, bool]]:
        now = self.counts()
        now.subtract(before)
        return Counter({key: value for key, value in now.items() if value})

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up mid-answer (an exporter stopped) is not news."""
