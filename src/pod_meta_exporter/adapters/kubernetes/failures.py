"""Failures of a list or watch: what went wrong, as a metric label and one log line."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from typing import Any

import urllib3

from pod_meta_exporter.adapters.kubernetes.transport import ApiError, causes_of

_MAX_DETAIL = 300
_BAD_REQUEST, _GONE, _INVALID, _TIMEOUT = 400, 410, 422, 504
_HINTS = {
    401: "the credentials were refused; check the service account token",
    403: "forbidden: check the service account's RBAC, which needs list and watch",
}


@dataclass(frozen=True, slots=True)
class Failure:
    """reason is a metric label from a small fixed set; detail is one line for the log."""

    reason: str
    detail: str
    retry_after: float | None = None  # the server's Retry-After, in seconds

    @property
    def watch_again(self) -> bool:
        """A watch that failed so is watched again from its resourceVersion, after the backoff,
        without a sync: the server is overloaded or restarting (connection refused, 429, 5xx), or
        the stream broke, and what was read up to it is still current (client-go's
        isWatchErrorRetriable, with 5xx and broken streams added)."""
        return self.reason in _WATCH_AGAIN or (
            self.reason.startswith("http_5") and len(self.reason) == len("http_500")
        )


_WATCH_AGAIN = frozenset(
    {
        "connection_refused",
        "http_429",
        "truncated_stream",
        "malformed_json",
        "connection_reset",
        "connection_broken",
        "inactive_watch",
    }
)


class StreamFailure(Exception):
    """A watch stream that cannot be trusted past this point (bad line, ERROR event, ...)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class Expired(Exception):  # named for the API's reason
    """The server cannot serve the resourceVersion asked for: 410 Gone (older than it keeps), or
    too large (it is behind the version, as an API server whose cache lags others can be)."""


class WatchListUnsupported(Exception):
    """The server refused or ignored a request to stream the initial state (WatchList)."""


def one_line(text: object) -> str:
    """Collapse whitespace (the client's messages span lines) and cut to a readable length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MAX_DETAIL else flat[: _MAX_DETAIL - 3] + "..."


def is_expired(status: dict[str, Any]) -> bool:
    """Whether a Status (an ERROR event's object) says the resourceVersion cannot be served."""
    message = status.get("message")
    return (
        status.get("code") == _GONE
        or status.get("reason") in {"Expired", "Gone"}
        or (isinstance(message, str) and "too old resource version" in message)
        or _too_large(status.get("code"), causes_of(status), message)
    )


def is_expired_error(error: ApiError) -> bool:
    """Whether an error answer says the resourceVersion cannot be served (see Expired)."""
    return (
        error.status == _GONE
        or error.reason in {"Expired", "Gone"}
        or _too_large(error.status, error.causes, error.message)
    )


def _too_large(code: object, causes: tuple[str, ...], message: object) -> bool:
    # client-go's isTooLargeResourceVersionError: the cause, or the older servers' message.
    return "ResourceVersionTooLarge" in causes or (
        code == _TIMEOUT and isinstance(message, str) and "Too large resource version" in message
    )


def is_watch_list_refusal(error: ApiError) -> bool:
    """A server with WatchList turned off refuses sendInitialEvents as invalid (422); an older one
    may call it a bad request."""
    return error.status in {_BAD_REQUEST, _INVALID} and (
        "sendInitialEvents" in error.message or "resourceVersionMatch" in error.message
    )


def status_failure(status: dict[str, Any]) -> Failure:
    """An ERROR event other than 410, e.g. a 500 the server sent mid-stream."""
    code = status.get("code")
    reason = f"http_{code}" if isinstance(code, int) else "watch_error"
    return Failure(reason, one_line(f"ERROR event: {code} {status.get('reason')}: {status.get('message')}"))


def classify(exc: BaseException) -> Failure:
    """Name the cause of a failed request or stream."""
    if isinstance(exc, StreamFailure):
        return exc.failure
    if isinstance(exc, ApiError):
        return _api_failure(exc)
    cause = _innermost(exc)
    return Failure(_reason(cause), one_line(f"{type(cause).__name__}: {cause}"))


def _api_failure(exc: ApiError) -> Failure:
    hint = _HINTS.get(exc.status)
    detail = one_line(f"{exc}" + (f" ({hint})" if hint else ""))
    return Failure(f"http_{exc.status}", detail, exc.retry_after)


def _innermost(exc: BaseException) -> BaseException:
    """The root cause under urllib3's wrappers: MaxRetryError.reason, ProtocolError's argument."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        elif (
            isinstance(exc, urllib3.exceptions.ProtocolError)
            and len(exc.args) > 1
            and isinstance(exc.args[1], BaseException)
        ):
            exc = exc.args[1]
        else:
            break
    return exc


def _reason(exc: BaseException) -> str:  # noqa: PLR0911 - one return per cause reads best
    errors = urllib3.exceptions
    # Order matters: NewConnectionError subclasses ConnectTimeoutError.
    if isinstance(exc, errors.NameResolutionError):
        return "dns"
    if isinstance(exc, errors.NewConnectionError):
        return "connection_refused" if _caused_by(exc, ConnectionRefusedError) else "connect_failed"
    if isinstance(exc, errors.ConnectTimeoutError):
        return "connect_timeout"
    if isinstance(exc, errors.ReadTimeoutError | TimeoutError):
        return "read_timeout"
    if isinstance(exc, errors.SSLError | ssl.SSLError):
        return "tls"
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection_reset"
    if isinstance(exc, errors.HTTPError | http.client.HTTPException | OSError):
        # Incomplete reads and the like: the connection broke mid-response.
        return "connection_broken"
    return "unexpected"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, kind):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
