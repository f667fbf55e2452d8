"""The HTTP endpoints: /healthz, /readyz and /metrics, served from a daemon thread."""

from __future__ import annotations

import http.server
import socket
import threading
from typing import TYPE_CHECKING, ClassVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from collections.abc import Callable

    from prometheus_client import CollectorRegistry


class _Handler(http.server.BaseHTTPRequestHandler):
    server: HealthServer
    protocol_version = "HTTP/1.1"
    routes: ClassVar[tuple[str, ...]] = ("/healthz", "/readyz", "/metrics")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            ok = self.server.alive()
            self._reply(200 if ok else 503, b"ok\n" if ok else b"main loop stopped or stuck\n")
        elif path == "/readyz":
            ok = self.server.ready()
            self._reply(
                200 if ok else 503, b"ready\n" if ok else b"not ready: initial list or watch pending\n"
            )
        elif path == "/metrics":
            self._reply(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        else:
            self._reply(404, b"not found: try /healthz, /readyz or /metrics\n")

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes arrive every few seconds; access logs would drown the state changes."""


class HealthServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        *,
        listen: tuple[str, int],
        registry: CollectorRegistry,
        ready: Callable[[], bool],
        alive: Callable[[], bool],
    ) -> None:
        # An IPv6 address ([::] or [::1] in --listen) needs an IPv6 socket; [::] takes IPv4 too,
        # as Linux's default (net.ipv6.bindv6only=0) makes it dual-stack.
        self.address_family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        super().__init__(listen, _Handler)
        self.registry = registry
        self.ready = ready
        self.alive = alive
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
