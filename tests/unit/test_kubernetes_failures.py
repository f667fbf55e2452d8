"""classify: the transport's and urllib3's exceptions as a metric label and one log line."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3

from pod_meta_exporter.adapters.kubernetes.failures import Failure, StreamFailure, classify, is_expired
from pod_meta_exporter.adapters.kubernetes.transport import ApiError

NOWHERE: Any = None  # the pool or connection urllib3 would name; classify() never looks


def _refused() -> urllib3.exceptions.NewConnectionError:
    error = urllib3.exceptions.NewConnectionError(NOWHERE, "Failed to establish a new connection")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


def _api_error(status: int, message: str) -> ApiError:
    body = {"kind": "Status", "reason": "Forbidden", "message": message, "code": status}
    return ApiError.from_body(status, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            urllib3.exceptions.MaxRetryError(NOWHERE, "/api/v1/pods", _refused()),
            "connection_refused",
        ),
        (
            urllib3.exceptions.MaxRetryError(NOWHERE, "/", urllib3.exceptions.ConnectTimeoutError()),
            "connect_timeout",
        ),
        (urllib3.exceptions.ReadTimeoutError(NOWHERE, "/", "Read timed out."), "read_timeout"),
        (
            urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
            "connection_reset",
        ),
        (urllib3.exceptions.ProtocolError("Response ended prematurely"), "connection_broken"),
        (urllib3.exceptions.SSLError("certificate verify failed"), "tls"),
        (ApiError.from_body(502, b"<html>Bad Gateway</html>"), "http_502"),
        (_api_error(503, "etcd leader changed"), "http_503"),
        (StreamFailure(Failure("malformed_json", "a line")), "malformed_json"),
        (RuntimeError("surprise"), "unexpected"),
    ],
)
def test_reasons(error: BaseException, reason: str) -> None:
    failure = classify(error)

    assert failure.reason == reason
    assert "\n" not in failure.detail


def test_a_forbidden_status_names_its_message_and_hints_at_rbac() -> None:
    failure = classify(
        _api_error(403, 'pods is forbidden: User "system:serviceaccount:logging:exporter"\ncannot watch')
    )

    assert failure.reason == "http_403"
    assert 'User "system:serviceaccount:logging:exporter" cannot watch' in failure.detail
    assert "RBAC" in failure.detail


@pytest.mark.parametrize(
    "status",
    [
        {"code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"},
        {"reason": "Gone", "message": "gone"},
        {"code": 500, "message": "too old resource version: 1 (5)"},
    ],
)
def test_expired_statuses(status: dict[str, object]) -> None:
    assert is_expired(status)


def test_other_statuses_are_not_expired() -> None:
    assert not is_expired({"code": 500, "reason": "InternalError", "message": "etcd went away"})


def test_an_error_keeps_its_status_and_the_apis_reason_and_message() -> None:
    error = _api_error(403, 'pods is forbidden: User "x" cannot list')

    assert (error.status, error.reason, error.message) == (
        403,
        "Forbidden",
        'pods is forbidden: User "x" cannot list',
    )
    assert str(error) == 'HTTP 403 Forbidden: pods is forbidden: User "x" cannot list'
    assert str(ApiError.from_body(502, b"<html>Bad Gateway</html>")) == "HTTP 502"
