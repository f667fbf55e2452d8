"""load_endpoint: which source wins, TLS always verified, tokens read again, one-line errors."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pod_meta_exporter.adapters.kubernetes.config import load_endpoint
from pod_meta_exporter.adapters.kubernetes.endpoint import ConfigError
from support.kubeconfig import write_kubeconfig

IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def kubeconfig_at(
    path: Path, *, server: str = "https://127.0.0.1:6443", cluster: dict[str, Any] | None = None
) -> Path:
    ca = path.parent / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nread only when connecting\n-----END CERTIFICATE-----\n")
    return write_kubeconfig(path, server=server, user="me", ca_file=ca, cluster=cluster)


@pytest.fixture
def service_account(tmp_path: Path) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("pod-token")
    (directory / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\ncluster CA\n-----END CERTIFICATE-----\n")
    return directory


def test_reads_the_kubeconfig_it_is_given(tmp_path: Path) -> None:
    path = kubeconfig_at(tmp_path / "config")

    endpoint = load_endpoint(path, environ={}, service_account_dir=tmp_path / "none")

    assert endpoint.server == "https://127.0.0.1:6443"
    assert endpoint.ca_file == tmp_path / "ca.crt"
    assert endpoint.authorization() == "Bearer kubeconfig-token"
    assert endpoint.source == f"kubeconfig {path}"


def test_the_kubeconfig_given_wins_over_the_service_account(tmp_path: Path, service_account: Path) -> None:
    path = kubeconfig_at(tmp_path / "config", server="https://api.example:6443")

    endpoint = load_endpoint(path, environ=IN_A_POD, service_account_dir=service_account)

    assert endpoint.server == "https://api.example:6443"


def test_in_a_pod_uses_the_service_account(tmp_path: Path, service_account: Path) -> None:
    environ = {**IN_A_POD, "KUBECONFIG": str(kubeconfig_at(tmp_path / "config"))}

    endpoint = load_endpoint(None, environ=environ, service_account_dir=service_account)

    assert endpoint.server == "https://10.96.0.1:443"
    assert endpoint.ca_file == service_account / "ca.crt"
    assert endpoint.authorization() == "Bearer pod-token"


def test_in_a_pod_a_rotated_token_is_used_from_the_next_request(service_account: Path) -> None:
    endpoint = load_endpoint(None, environ=IN_A_POD, service_account_dir=service_account)
    rotated = service_account / ".token.new"
    rotated.write_text("rotated-token\n")
    rotated.replace(service_account / "token")  # as the kubelet swaps a projected volume's files

    assert endpoint.authorization() == "Bearer rotated-token"
    (service_account / "token").unlink()  # mid-rotation: the last good token still goes out
    assert endpoint.authorization() == "Bearer rotated-token"


def test_in_a_pod_an_ipv6_service_host_is_bracketed(service_account: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"}

    endpoint = load_endpoint(None, environ=environ, service_account_dir=service_account)

    assert endpoint.server == "https://[fd00:10:96::1]:443"


def test_in_a_pod_the_official_client_is_never_imported(service_account: Path) -> None:
    code = (
        "import sys; from pathlib import Path; "
        "from pod_meta_exporter.adapters.kubernetes import config; "
        f"config.load_endpoint(None, environ={IN_A_POD!r}, "
        f"service_account_dir=Path({str(service_account)!r})); "
        "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]"


def test_a_kubeconfig_without_the_official_client_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The container image leaves the kubeconfig extra out; importing a module set to None fails.
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    path = kubeconfig_at(tmp_path / "config")

    with pytest.raises(ConfigError) as raised:
        load_endpoint(path, environ={}, service_account_dir=tmp_path / "none")

    assert str(raised.value) == (
        f"kubeconfig {path}: reading a kubeconfig needs the official kubernetes client, "
        "which is not installed: pip install 'pod-meta-exporter[kubeconfig]'"
    )


@pytest.mark.parametrize(
    "environ", [{}, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}], ids=["no-env", "no-token"]
)
def test_outside_a_pod_reads_KUBECONFIG(tmp_path: Path, environ: dict[str, str]) -> None:
    other = kubeconfig_at(tmp_path / "other", server="https://other:6443")
    environ = {**environ, "KUBECONFIG": f"{tmp_path / 'missing'}:{other}"}

    endpoint = load_endpoint(None, environ=environ, service_account_dir=tmp_path / "none")

    assert endpoint.server == "https://other:6443"


def test_allows_plain_http_to_a_loopback_proxy_only(tmp_path: Path) -> None:
    proxy = kubeconfig_at(tmp_path / "proxy", server="http://127.0.0.1:8001")
    assert load_endpoint(proxy, environ={}, service_account_dir=tmp_path).server == "http://127.0.0.1:8001"

    remote = kubeconfig_at(tmp_path / "remote", server="http://api.example:8080")
    with pytest.raises(ConfigError, match="not https"):
        load_endpoint(remote, environ={}, service_account_dir=tmp_path)


def test_refuses_insecure_skip_tls_verify(tmp_path: Path) -> None:
    path = kubeconfig_at(tmp_path / "config", cluster={"insecure-skip-tls-verify": True})

    with pytest.raises(ConfigError, match="insecure-skip-tls-verify") as error:
        load_endpoint(path, environ={}, service_account_dir=tmp_path)

    assert str(path) in str(error.value)


def test_refuses_a_proxy_url_it_would_not_use(tmp_path: Path) -> None:
    path = kubeconfig_at(tmp_path / "config", cluster={"proxy-url": "http://proxy.example:3128"})

    with pytest.raises(ConfigError, match="proxy-url is not supported"):
        load_endpoint(path, environ={}, service_account_dir=tmp_path)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-file", "no such file"),
        ("nothing-anywhere", "no cluster configuration"),
        ("not-yaml", "kubeconfig"),
        ("no-context", "kubeconfig"),
        ("pod-without-ca", "no CA certificate"),
        ("pod-without-port", "KUBERNETES_SERVICE_PORT must both be set"),
        ("pod-with-empty-token", "is empty"),
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
    elif case.startswith("pod-"):
        environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1"} if case == "pod-without-port" else IN_A_POD
        service_account_dir = tmp_path / "serviceaccount"
        service_account_dir.mkdir()
        (service_account_dir / "token").write_text("" if case == "pod-with-empty-token" else "pod-token")
        if case != "pod-without-ca":
            (service_account_dir / "ca.crt").write_text("a CA")

    with pytest.raises(ConfigError, match=expected) as error:
        load_endpoint(kubeconfig, environ=environ, service_account_dir=service_account_dir)

    assert "\n" not in str(error.value)


def test_a_kubeconfigs_client_certificate_goes_to_the_transport(tmp_path: Path) -> None:
    path = kubeconfig_at(tmp_path / "config")
    document = json.loads(path.read_text())
    (tmp_path / "client.crt").write_text("certificate")
    (tmp_path / "client.key").write_text("key")
    document["users"] = [
        {
            "name": "me",
            "user": {
                "client-certificate": str(tmp_path / "client.crt"),
                "client-key": str(tmp_path / "client.key"),
            },
        }
    ]
    path.write_text(json.dumps(document))

    endpoint = load_endpoint(path, environ={}, service_account_dir=tmp_path / "none")

    assert (endpoint.client_cert, endpoint.client_key) == (tmp_path / "client.crt", tmp_path / "client.key")
    assert endpoint.authorization() is None


def test_a_kubeconfigs_embedded_key_is_held_in_memory_and_no_file_of_it_stays(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from kubernetes.config import kube_config

    from pod_meta_exporter.adapters.kubernetes.transport import HttpTransport
    from support import pki

    key, certificate = pki.self_signed_ca("client")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    path = kubeconfig_at(tmp_path / "config")
    document = json.loads(path.read_text())
    document["clusters"][0]["cluster"] = {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": base64.b64encode(cert_pem).decode(),
    }
    document["users"] = [
        {
            "name": "me",
            "user": {
                "client-certificate-data": base64.b64encode(cert_pem).decode(),
                "client-key-data": base64.b64encode(key_pem).decode(),
            },
        }
    ]
    path.write_text(json.dumps(document))

    endpoint = load_endpoint(path, environ={}, service_account_dir=tmp_path / "none")

    assert (endpoint.client_cert_data, endpoint.client_key_data, endpoint.ca_data) == (
        cert_pem,
        key_pem,
        cert_pem,
    )
    assert (endpoint.client_cert, endpoint.client_key, endpoint.ca_file) == (None, None, None)
    written = list(kube_config._temp_files.values())
    assert written, "the loader wrote the data to files"
    assert not [name for name in written if Path(name).exists()], "none is left"
    HttpTransport(endpoint, user_agent="test").close()  # the key pair loads from memory
