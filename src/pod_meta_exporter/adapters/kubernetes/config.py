"""load_api_client: an explicit kubeconfig, else the service account, else KUBECONFIG or ~/.kube/config."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kubernetes import client, config
from kubernetes.config import incluster_config

if TYPE_CHECKING:
    from collections.abc import Mapping

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(ValueError):
    """The API client cannot be configured; the message is one line naming the cause."""


def load_api_client(
    kubeconfig: Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> client.ApiClient:
    """Build the client from the first source that applies; TLS is always verified.

    In a pod means KUBERNETES_SERVICE_HOST is set and the service account token is mounted.
    environ and service_account_dir are for tests; the defaults are the process's.
    """
    env = os.environ if environ is None else environ
    configuration = client.Configuration()
    token = service_account_dir / "token"
    if kubeconfig is not None:
        source = str(kubeconfig)
        if not kubeconfig.is_file():
            msg = f"kubeconfig {source}: no such file"
            raise ConfigError(msg)
        _load_kubeconfig(source, configuration)
    elif env.get(incluster_config.SERVICE_HOST_ENV_NAME) and token.is_file():
        source = f"service account {service_account_dir}"
        _load_in_cluster(service_account_dir, env, configuration)
    else:
        # Read KUBECONFIG now: the client's own default was fixed when it was imported.
        source = env.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
        if not any(Path(part).expanduser().is_file() for part in source.split(os.pathsep) if part):
            msg = (
                f"no cluster configuration: not in a pod (needs KUBERNETES_SERVICE_HOST and {token}) "
                f"and no kubeconfig at {source}"
            )
            raise ConfigError(msg)
        _load_kubeconfig(source, configuration)
    _check_tls(source, configuration)
    # TCP keepalive with client-go's timings: a watch idle behind a load balancer or NAT is
    # otherwise dropped silently, and only the long read timeout would notice.
    configuration.keep_alive = True
    return client.ApiClient(configuration)


def _load_kubeconfig(source: str, configuration: client.Configuration) -> None:
    try:
        # persist_config=False: the client would otherwise write refreshed tokens into the file.
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=source, client_configuration=configuration, persist_config=False
        )
    except Exception as exc:  # the loader raises ConfigException, YAML and key errors alike
        msg = f"kubeconfig {source}: {_one_line(exc)}"
        raise ConfigError(msg) from exc


def _load_in_cluster(directory: Path, env: Mapping[str, str], configuration: client.Configuration) -> None:
    loader = incluster_config.InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(directory / "token"), cert_filename=str(directory / "ca.crt"), environ=env
    )
    try:
        # The loader re-reads the token as it rotates (bound service account tokens expire).
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    except Exception as exc:  # ConfigException, or OSError reading the files
        msg = f"in-cluster config from {directory}: {_one_line(exc)}"
        raise ConfigError(msg) from exc


def _check_tls(source: str, configuration: client.Configuration) -> None:
    if not configuration.verify_ssl:
        msg = (
            f"kubeconfig {source}: the cluster sets insecure-skip-tls-verify; TLS must be verified, "
            "give certificate-authority or certificate-authority-data instead"
        )
        raise ConfigError(msg)
    url = urlsplit(configuration.host)
    if url.scheme == "https":
        return
    if url.scheme == "http" and _is_loopback(url.hostname):
        return  # kubectl proxy: nothing leaves the machine
    msg = f"{source}: server {configuration.host} is not https; TLS is required except to a loopback proxy"
    raise ConfigError(msg)


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
