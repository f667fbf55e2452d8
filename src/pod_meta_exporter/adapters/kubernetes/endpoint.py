"""Endpoint: where the API server is and how to reach it, whatever configuration it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


class ConfigError(ValueError):
    """The API server cannot be reached as configured; the message is one line naming the cause."""


def _no_authorization() -> str | None:
    return None


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is and how to talk to it, from a kubeconfig or the service account."""

    server: str  # https://host:port, or http:// to a loopback proxy
    source: str  # where this came from, for error messages
    ca_file: Path | None = None  # None: the system's trust store (or ca_data)
    client_cert: Path | None = None
    client_key: Path | None = None
    # A kubeconfig's *-data fields (and an exec plugin's certificate), held in memory only: they
    # never stay on disk, not even in a temporary file.
    ca_data: bytes | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    tls_server_name: str | None = None
    # The Authorization header's value, asked for at each request, so that a rotated token or an
    # exec plugin's refreshed one is used from the next request on; None sends none.
    authorization: Callable[[], str | None] = _no_authorization
