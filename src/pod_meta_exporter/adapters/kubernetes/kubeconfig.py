"""The endpoint of a kubeconfig's current context, read by the official client's loader.

The loader keeps every way users authenticate outside a cluster (exec plugins such as EKS's and
GKE's, OIDC, client certificates, tokens); only this path imports the official client, an
optional dependency (the `kubeconfig` extra) that the container image does not install.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pod_meta_exporter.adapters.kubernetes.endpoint import ConfigError, Endpoint

if TYPE_CHECKING:
    from kubernetes import client


EXTRA = "pod-meta-exporter[kubeconfig]"


class _LoadKubeConfig(Protocol):
    """The part of kubernetes.config.load_kube_config's signature used here: the client leaves it
    untyped, so this names what mypy is to check at the call."""

    def __call__(
        self, *, config_file: str, client_configuration: object, persist_config: bool, temp_file_path: str
    ) -> None: ...


def endpoint(source: str) -> Endpoint:
    """`source` is one path, or several joined as in KUBECONFIG."""
    try:
        from kubernetes import client, config
    except ImportError as exc:
        # An optional dependency: the container image, which runs in a pod, leaves it out.
        msg = (
            f"kubeconfig {source}: reading a kubeconfig needs the official kubernetes client, "
            f"which is not installed: pip install '{EXTRA}'"
        )
        raise ConfigError(msg) from exc

    configuration = client.Configuration()
    # The loader writes a kubeconfig's certificate-authority-data, client-certificate-data and
    # client-key-data (and an exec plugin's certificate) to temporary files, and removes them only
    # at a clean exit. Here they go to a private directory, in memory where /dev/shm is, and are
    # read back and removed before this returns: no key stays on disk, even after a SIGKILL.
    with tempfile.TemporaryDirectory(prefix="pod-meta-exporter-kubeconfig-", dir=_memory_dir()) as private:
        try:
            # persist_config=False: the loader would otherwise write refreshed tokens into the file.
            load: _LoadKubeConfig = config.load_kube_config
            load(
                config_file=source,
                client_configuration=configuration,
                persist_config=False,
                temp_file_path=private,
            )
        except Exception as exc:  # the loader raises ConfigException, YAML and key errors alike
            msg = f"kubeconfig {source}: {_one_line(exc)}"
            raise ConfigError(msg) from exc
        ca_file, ca_data = _file_or_data(configuration.ssl_ca_cert, private)
        cert_file, cert_data = _file_or_data(configuration.cert_file, private)
        key_file, key_data = _file_or_data(configuration.key_file, private)
    if not configuration.verify_ssl:
        msg = (
            f"kubeconfig {source}: the cluster sets insecure-skip-tls-verify; TLS must be verified, "
            "give certificate-authority or certificate-authority-data instead"
        )
        raise ConfigError(msg)
    if configuration.proxy:
        msg = f"kubeconfig {source}: proxy-url is not supported; reach the API server directly"
        raise ConfigError(msg)
    return Endpoint(
        server=configuration.host,
        source=f"kubeconfig {source}",
        ca_file=ca_file,
        client_cert=cert_file,
        client_key=key_file,
        ca_data=ca_data,
        client_cert_data=cert_data,
        client_key_data=key_data,
        tls_server_name=configuration.tls_server_name or None,
        authorization=lambda: _authorization(configuration),
    )


def _authorization(configuration: client.Configuration) -> str | None:
    # Runs the loader's refresh hook first: an exec plugin's or OIDC token is renewed as it expires.
    value: str | None = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    return value


def _file_or_data(value: str | None, private: str) -> tuple[Path | None, bytes | None]:
    """A file the user named stays a path; one the loader wrote into `private` is read into memory."""
    if not value:
        return None, None
    path = Path(value)
    if path.parent == Path(private):
        return None, path.read_bytes()
    return path, None


def _memory_dir() -> str | None:
    """/dev/shm where it is writable (a tmpfs on Linux), else the system's temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
