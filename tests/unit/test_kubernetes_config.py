"""load_api_client: which source wins, TLS always verified, one-line errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from pod_meta_exporter.adapters.kubernetes import ConfigError, load_api_client

if TYPE_CHECKING:
    from pathlib import Path

    from kubernetes import client

IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def write_kubeconfig(
    path: Path, *, server: str = "https://127.0.0.1:6443", cluster: dict[str, Any] | None = None
) -> Path:
    ca = path.parent / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nread only when connecting\n-----END CERTIFICATE-----\n")
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "test",
        "clusters": [
            {
                "name": "test",
                "cluster": {"server": server, "certificate-authority": str(ca), **(cluster or {})},
            }
        ],
        "users": [{"name": "me", "user": {"token": "kubeconfig-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "me"}}],
    }
    path.write_text(json.dumps(document))  # JSON is YAML
    return path


@pytest.fixture
def service_account(tmp_path: Path) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("pod-token")
    (directory / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\ncluster CA\n-----END CERTIFICATE-----\n")
    return directory


def load(kubeconfig: Path | None, *, environ: dict[str, str], service_account_dir: Path) -> client.ApiClient:
    api = load_api_client(kubeconfig, environ=environ, service_account_dir=service_account_dir)
    api.close()
    return api


def test_reads_the_kubeconfig_it_is_given(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config")

    configuration = load(path, environ={}, service_account_dir=tmp_path / "none").configuration

    assert configuration.host == "https://127.0.0.1:6443"
    assert configuration.verify_ssl is True
    assert configuration.ssl_ca_cert == str(tmp_path / "ca.crt")
    assert configuration.api_key["BearerToken"] == "Bearer kubeconfig-token"
    assert configuration.keep_alive is True


def test_the_kubeconfig_given_wins_over_the_service_account(tmp_path: Path, service_account: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", server="https://api.example:6443")

    configuration = load(path, environ=IN_A_POD, service_account_dir=service_account).configuration

    assert configuration.host == "https://api.example:6443"


def test_in_a_pod_uses_the_service_account(tmp_path: Path, service_account: Path) -> None:
    environ = {**IN_A_POD, "KUBECONFIG": str(write_kubeconfig(tmp_path / "config"))}

    configuration = load(None, environ=environ, service_account_dir=service_account).configuration

    assert configuration.host == "https://10.96.0.1:443"
    assert configuration.ssl_ca_cert == str(service_account / "ca.crt")
    assert configuration.api_key["BearerToken"] == "bearer pod-token"
    assert configuration.refresh_api_key_hook is not None  # rotated tokens are read again


@pytest.mark.parametrize(
    "environ", [{}, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}], ids=["no-env", "no-token"]
)
def test_outside_a_pod_reads_KUBECONFIG(tmp_path: Path, environ: dict[str, str]) -> None:
    other = write_kubeconfig(tmp_path / "other", server="https://other:6443")
    environ = {**environ, "KUBECONFIG": f"{tmp_path / 'missing'}:{other}"}

    configuration = load(None, environ=environ, service_account_dir=tmp_path / "none").configuration

    assert configuration.host == "https://other:6443"


def test_allows_plain_http_to_a_loopback_proxy_only(tmp_path: Path) -> None:
    proxy = write_kubeconfig(tmp_path / "proxy", server="http://127.0.0.1:8001")
    assert load(proxy, environ={}, service_account_dir=tmp_path).configuration.host == "http://127.0.0.1:8001"

    remote = write_kubeconfig(tmp_path / "remote", server="http://api.example:8080")
    with pytest.raises(ConfigError, match="not https"):
        load_api_client(remote, environ={}, service_account_dir=tmp_path)


def test_refuses_insecure_skip_tls_verify(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", cluster={"insecure-skip-tls-verify": True})

    with pytest.raises(ConfigError, match="insecure-skip-tls-verify") as error:
        load_api_client(path, environ={}, service_account_dir=tmp_path)

    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-file", "no such file"),
        ("nothing-anywhere", "no cluster configuration"),
        ("not-yaml", "kubeconfig"),
        ("no-context", "kubeconfig"),
        ("pod-without-ca", "in-cluster config"),
    ],
)
def test_errors_are_one_line_naming_the_cause(tmp_path: Path, case: str, expected: str) -> None:
    kubeconfig: Path | None = None
    environ: dict[str, str] = {"KUBECONFIG": str(tmp_path / "absent")}
    service_account_dir = tmp_path / "none"
    if case == "missing-file":
        kubeconfig = tmp_path / "absent"
    elif case == "not-yaml":
        kubeconfig = tmp_path / "config"
        kubeconfig.write_text("clusters: [unclosed\n")
    elif case == "no-context":
        kubeconfig = tmp_path / "config"
        kubeconfig.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []}))
    elif case == "pod-without-ca":
        environ = IN_A_POD
        service_account_dir = tmp_path / "serviceaccount"
        service_account_dir.mkdir()
        (service_account_dir / "token").write_text("pod-token")

    with pytest.raises(ConfigError, match=expected) as error:
        load_api_client(kubeconfig, environ=environ, service_account_dir=service_account_dir)

    assert "\n" not in str(error.value)
