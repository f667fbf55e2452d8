"""The endpoint of a pod's own API server, as client-go's rest.InClusterConfig() finds it.

It imports nothing from the official client: in a pod, which is how the exporter runs on every
node, that client would cost about 35 MiB of memory for two GETs.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

from pod_meta_exporter.adapters.kubernetes.endpoint import ConfigError, Endpoint

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

HOST_ENV, PORT_ENV = "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"


class TokenFile:
    """The service account token, read from its file at each request.

    The kubelet rotates bound tokens (they expire, an hour by default) by replacing the file; a
    request is made every few minutes at most (a watch lasts 5 to 10), so reading the file each
    time costs nothing and a new token is used from the next request on, as client-go's
    minute-long cache would, only sooner. A file that cannot be read keeps the last good token.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._token = self._read()
        if not self._token:
            msg = f"the service account token {path} is empty"
            raise ConfigError(msg)

    def authorization(self) -> str:
        with self._lock:
            with contextlib.suppress(OSError):  # a passing error: the last token may still do
                self._token = self._read() or self._token
            return f"Bearer {self._token}"

    def _read(self) -> str:
        return self.path.read_text().strip()


def in_a_pod(environ: Mapping[str, str], service_account_dir: Path) -> bool:
    return bool(environ.get(HOST_ENV)) and (service_account_dir / "token").is_file()


def endpoint(environ: Mapping[str, str], service_account_dir: Path) -> Endpoint:
    """https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the service account's CA and token."""
    source = f"service account {service_account_dir}"
    host, port = environ.get(HOST_ENV, ""), environ.get(PORT_ENV, "")
    if not host or not port:
        msg = f"in-cluster config from {source}: {HOST_ENV} and {PORT_ENV} must both be set"
        raise ConfigError(msg)
    ca_file = service_account_dir / "ca.crt"
    if not ca_file.is_file():
        msg = f"in-cluster config from {source}: no CA certificate at {ca_file}"
        raise ConfigError(msg)
    try:
        token = TokenFile(service_account_dir / "token")
    except OSError as error:
        msg = f"in-cluster config from {source}: cannot read the token: {error.strerror}"
        raise ConfigError(msg) from error
    server_host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return Endpoint(
        server=f"https://{server_host}:{port}",
        source=source,
        ca_file=ca_file,
        authorization=token.authorization,
    )
