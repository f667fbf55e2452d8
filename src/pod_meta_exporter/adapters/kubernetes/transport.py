"""HttpTransport: the adapter's GETs to the API server, over urllib3, with its authentication and TLS."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

import urllib3

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from pod_meta_exporter.adapters.kubernetes.endpoint import Endpoint

# client-go dials with a 30 s keepalive, which Go makes the idle time before the first probe, and
# leaves the probe interval and count at 15 s and 9: a dead peer behind a NAT or load balancer is
# noticed in about 2.5 minutes instead of at the read timeout.
_KEEPALIVE_IDLE, _KEEPALIVE_INTERVAL, _KEEPALIVE_COUNT = 30, 15, 9
_ERROR_BODY_LIMIT = 64 * 1024


class Response(Protocol):
    """A streaming response, as the watcher reads it (urllib3's HTTPResponse)."""

    def read(self, amt: int | None = None) -> bytes: ...
    def read1(self, amt: int | None = None) -> bytes: ...
    def close(self) -> None: ...
    def release_conn(self) -> None: ...
    def shutdown(self) -> None: ...


class Transport(Protocol):
    def get(self, path: str, query: Sequence[tuple[str, str]], *, timeout: tuple[float, float]) -> Response:
        """The response of a GET, unread; ApiError for a status other than 2xx. `timeout` is
        (connect, read): the read timeout is for each read, not for the whole response."""
        ...


class ApiError(Exception):
    """The API server answered with an error status; its Status reason and message if it sent one."""

    def __init__(
        self,
        status: int,
        *,
        reason: str = "",
        message: str = "",
        causes: tuple[str, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            f"HTTP {status}" + (f" {reason}" if reason else "") + (f": {message}" if message else "")
        )
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes  # the reasons of the Status's details.causes
        self.retry_after = retry_after  # seconds, from a 429's or 503's Retry-After header

    @classmethod
    def from_body(cls, status: int, body: bytes, *, retry_after: str | None = None) -> ApiError:
        seconds = _seconds(retry_after)
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            return cls(status, retry_after=seconds)
        reason, message = document.get("reason") or "", document.get("message") or ""
        return cls(
            status, reason=str(reason), message=str(message), causes=causes_of(document), retry_after=seconds
        )


# A Retry-After beyond this is a misconfigured server, not a reason to stop watching for an hour.
MAX_RETRY_AFTER = 300.0


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After in delay-seconds, the form the API server sends (HTTP dates are not honoured)."""
    if retry_after is None or not retry_after.strip().isdigit():
        return None
    return min(float(retry_after.strip()), MAX_RETRY_AFTER)


def causes_of(status: dict[str, object]) -> tuple[str, ...]:
    """The reasons of a Status's details.causes (such as ResourceVersionTooLarge)."""
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    if not isinstance(causes, list):
        return ()
    return tuple(str(cause.get("reason", "")) for cause in causes if isinstance(cause, dict))


class HttpTransport:
    """One connection pool to one API server: TLS verified, TCP keepalive, no retries of its own
    (the watcher backs off and retries), JSON only."""

    def __init__(self, endpoint: Endpoint, *, user_agent: str) -> None:
        self._endpoint = endpoint
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        self._pool = urllib3.PoolManager(
            num_pools=1,
            maxsize=2,  # the pod watch, and the namespace watch when asked for
            retries=False,
            ssl_context=_ssl_context(endpoint) if endpoint.server.startswith("https:") else None,
            server_hostname=endpoint.tls_server_name,
            socket_options=[
                *urllib3.connection.HTTPConnection.default_socket_options,
                (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
                (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, _KEEPALIVE_IDLE),
                (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, _KEEPALIVE_INTERVAL),
                (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, _KEEPALIVE_COUNT),
            ],
        )

    def get(self, path: str, query: Sequence[tuple[str, str]], *, timeout: tuple[float, float]) -> Response:
        headers = dict(self._headers)
        authorization = self._endpoint.authorization()
        if authorization:
            headers["Authorization"] = authorization
        response = self._pool.request(
            "GET",
            f"{self._endpoint.server}{path}?{urlencode(query)}",
            headers=headers,
            preload_content=False,
            redirect=False,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
        )
        if 200 <= response.status <= 299:  # noqa: PLR2004
            return response
        try:
            body = response.read(_ERROR_BODY_LIMIT)
        finally:
            response.release_conn()
        raise ApiError.from_body(response.status, body, retry_after=response.headers.get("Retry-After"))

    def close(self) -> None:
        self._pool.clear()


def _ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(endpoint.ca_file) if endpoint.ca_file else None,
        cadata=endpoint.ca_data.decode() if endpoint.ca_data else None,
    )
    if endpoint.client_cert is not None:
        context.load_cert_chain(
            str(endpoint.client_cert), str(endpoint.client_key) if endpoint.client_key else None
        )
    elif endpoint.client_cert_data is not None:
        with contextlib.ExitStack() as files:
            cert = files.enter_context(_in_memory(endpoint.client_cert_data))
            key = endpoint.client_key_data and files.enter_context(_in_memory(endpoint.client_key_data))
            context.load_cert_chain(cert, key or None)
    return context


@contextlib.contextmanager
def _in_memory(data: bytes) -> Iterator[str]:
    """A path to `data` that never reaches a disk: an anonymous memory file (memfd), which
    load_cert_chain reads by its /proc path, and which is gone once closed."""
    descriptor = os.memfd_create("pod-meta-exporter-tls", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, data)
        yield f"/proc/self/fd/{descriptor}"
    finally:
        os.close(descriptor)
