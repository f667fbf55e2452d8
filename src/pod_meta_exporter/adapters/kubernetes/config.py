"""load_endpoint: an explicit kubeconfig, else the service account, else KUBECONFIG or ~/.kube/config."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pod_meta_exporter.adapters.kubernetes import incluster
from pod_meta_exporter.adapters.kubernetes.endpoint import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pod_meta_exporter.adapters.kubernetes.endpoint import Endpoint

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def load_endpoint(
    kubeconfig: Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Endpoint:
    """The first source that applies, as with client-go; TLS is always verified.

    In a pod (KUBERNETES_SERVICE_HOST set, the service account token mounted) the official client
    is never imported; a kubeconfig is read by its loader. environ and service_account_dir are for
    tests; the defaults are the process's.
    """
    env = os.environ if environ is None else environ
    if kubeconfig is not None:
        if not kubeconfig.is_file():
            msg = f"kubeconfig {kubeconfig}: no such file"
            raise ConfigError(msg)
        endpoint = _from_kubeconfig(str(kubeconfig))
    elif incluster.in_a_pod(env, service_account_dir):
        endpoint = incluster.endpoint(env, service_account_dir)
    else:
        # Read KUBECONFIG now, from the environment given, not when some module was imported.
        source = env.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
        if not any(Path(part).expanduser().is_file() for part in source.split(os.pathsep) if part):
            msg = (
                f"no cluster configuration: not in a pod (needs {incluster.HOST_ENV} and "
                f"{service_account_dir / 'token'}) and no kubeconfig at {source}"
            )
            raise ConfigError(msg)
        endpoint = _from_kubeconfig(source)
    _check_scheme(endpoint)
    return endpoint


def _from_kubeconfig(source: str) -> Endpoint:
    # Imported here: the official client's loader, and the client with it, only for kubeconfigs.
    from pod_meta_exporter.adapters.kubernetes import kubeconfig

    return kubeconfig.endpoint(source)


def _check_scheme(endpoint: Endpoint) -> None:
    url = urlsplit(endpoint.server)
    if url.scheme == "https":
        return
    if url.scheme == "http" and _is_loopback(url.hostname):
        return  # kubectl proxy: nothing leaves the machine
    msg = (
        f"{endpoint.source}: server {endpoint.server} is not https; "
        "TLS is required except to a loopback proxy"
    )
    raise ConfigError(msg)


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
