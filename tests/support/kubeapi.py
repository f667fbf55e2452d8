"""One JSON client for the test API server: a bearer token, TLS verified against the test CA, and one
keep-alive connection per thread (a TLS handshake per request would dominate the benchmarks)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    import ssl
    from collections.abc import Collection

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    sent: float  # time.time() before the request was written
    returned: float  # time.time() once the whole response was read

    def json(self) -> Json:
        """The body decoded: a watch's events as {"lines": [...]}, plain text as {"text": ...}."""
        if not self.body.strip():
            return {}
        try:
            decoded = json.loads(self.body)
        except ValueError:
            try:
                return {"lines": [json.loads(line) for line in self.body.splitlines() if line.strip()]}
            except ValueError:  # /readyz and the like
                return {"text": self.body.decode(errors="replace")}
        return decoded if isinstance(decoded, dict) else {"value": decoded}


class ApiError(RuntimeError):
    """The API server answered with a status the caller did not expect."""

    def __init__(self, method: str, path: str, reply: Reply) -> None:
        body = reply.json()
        super().__init__(f"{method} {path}: HTTP {reply.status}: {str(body.get('message', body))[:400]}")
        self.status = reply.status
        self.body = body


class KubeApi:
    """One identity's requests to the API server at `server` (https://host:port)."""

    def __init__(self, *, server: str, ssl_context: ssl.SSLContext, token: str) -> None:
        self.server = server
        host, port = server.removeprefix("https://").rsplit(":", 1)
        self._host, self._port, self._context = host, int(port), ssl_context
        self._token = token
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPSConnection] = set()  # every thread's, for close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        content_type: str = "application/json",
        timeout: float = 30.0,
        ok: Collection[int] | None = None,
    ) -> Reply:
        """The reply; ApiError if `ok` is given and holds not its status. `body` is sent as JSON
        unless it is bytes."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        while True:
            connection, reused = self._connection(timeout)
            sent = time.time()
            try:
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self._drop()
                if reused:  # the server closed an idle connection (or restarted): once more, afresh
                    continue
                raise
            if response.will_close:
                self._drop()
            reply = Reply(response.status, payload, sent, time.time())
            if ok is not None and reply.status not in ok:
                raise ApiError(method, path, reply)
            return reply

    def expect(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        ok: Collection[int] = (200, 201),
        content_type: str = "application/json",
    ) -> Json:
        """The decoded body of a reply whose status is in `ok`; ApiError otherwise."""
        return self.call(method, path, body, content_type=content_type, ok=ok).json()

    def close(self) -> None:
        """Close every thread's connection; a later call opens a new one."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()

    def _drop(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._open.discard(connection)
            connection.close()

    def _connection(self, timeout: float) -> tuple[http.client.HTTPSConnection, bool]:
        connection: http.client.HTTPSConnection | None = getattr(self._local, "connection", None)
        with self._lock:
            reused = connection is not None and connection in self._open  # not since close()
            if connection is None or not reused:
                connection = http.client.HTTPSConnection(self._host, self._port, context=self._context)
                self._open.add(connection)
        self._local.connection = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection, reused
