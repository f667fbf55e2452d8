"""A real kube-apiserver + etcd for the integration and node tiers and the benchmarks (envtest-style).

The binaries are built from the official Go modules by
``scripts/build-controlplane.sh`` (wrapper modules under
``tests/integration/controlplane/``). ``KUBE_APISERVER_BIN`` / ``ETCD_BIN``
override where they are taken from.

Typical use::

    binaries = ensure_binaries()  # None -> skip the integration tier
    with ControlPlane(binaries, apiserver_args=["--watch-cache=false"]) as cp:
        subprocess.run(["kubectl", "--kubeconfig", str(cp.kubeconfig_path), ...])

Only the standard library and ``cryptography`` are used; no pytest import.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime
import http.client
import ipaddress
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support import pki
from support.kubeapi import KubeApi
from support.kubeconfig import write_kubeconfig
from support.processes import KILL_WITH_PARENT, LOOPBACK, free_port, tail
from support.waiting import wait_for

# A probe that cannot connect yet, or reads a half-started server's answer, means "not yet".
_NOT_YET = (OSError, ValueError, http.client.HTTPException)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import TracebackType

__all__ = [
    "BUILD_SCRIPT",
    "CONTROLPLANE_MODULES",
    "SERVICE_ACCOUNT_ISSUER",
    "SERVICE_CLUSTER_IP_RANGE",
    "AuditedRequest",
    "Binaries",
    "ControlPlane",
    "ControlPlaneError",
    "Process",
    "binary_cache_dir",
    "build_binaries",
    "controlplane_versions",
    "ensure_binaries",
    "find_binaries",
    "locate",
    "read_audit_log",
    "run_build_script",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTROLPLANE_MODULES = REPO_ROOT / "tests" / "integration" / "controlplane"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-controlplane.sh"

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
ADMIN_USER = "admin"

_STOP_TIMEOUT = 15.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be located, built, started or driven."""


# --------------------------------------------------------------------------
# Locating / building the binaries
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    etcd: Path


def _module_version(go_mod: Path, module: str) -> str:
    """Version of ``module`` required in ``go_mod`` (block or one-line form)."""
    for line in go_mod.read_text().splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("//"):
            continue
        for i, field in enumerate(fields[:-1]):
            if field == module and fields[i + 1].startswith("v"):
                return fields[i + 1]
    msg = f"{module} is not required in {go_mod}"
    raise ControlPlaneError(msg)


def controlplane_versions() -> tuple[str, str]:
    """(kubernetes version, etcd version) as pinned by the wrapper go.mod files."""
    k8s = _module_version(CONTROLPLANE_MODULES / "kubernetes" / "go.mod", "k8s.io/kubernetes")
    etcd = _module_version(CONTROLPLANE_MODULES / "etcd" / "go.mod", "go.etcd.io/etcd/server/v3")
    return k8s, etcd


def binary_cache_dir() -> Path:
    """Where scripts/build-controlplane.sh puts the binaries (same formula)."""
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    k8s, etcd = controlplane_versions()
    return Path(xdg) / "pod-meta-exporter" / "controlplane" / f"{k8s}-etcd{etcd}"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _locate(env_var: str, cached: Path) -> Path | None:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not _is_executable(path):
            msg = f"{env_var}={override} is not an executable file"
            raise ControlPlaneError(msg)
        return path
    return cached if _is_executable(cached) else None


def locate(name: str) -> Path | None:
    """The binary ``name`` from ``<NAME>_BIN`` (``KUBELET_BIN``...) or the build cache; None if
    neither has it. An override that names no executable file raises ControlPlaneError."""
    return _locate(f"{name.upper().replace('-', '_')}_BIN", binary_cache_dir() / name)


def find_binaries() -> Binaries | None:
    """The binaries from ``KUBE_APISERVER_BIN`` / ``ETCD_BIN`` or the build cache.

    Returns None when either one is missing (nothing is built). An override
    that points at a non-executable file raises ControlPlaneError.
    """
    apiserver = locate("kube-apiserver")
    etcd = locate("etcd")
    if apiserver is None or etcd is None:
        return None
    return Binaries(kube_apiserver=apiserver, etcd=etcd)


def run_build_script(names: Sequence[str] = (), timeout: float | None = 3600.0) -> bool:
    """scripts/build-controlplane.sh for ``names`` (default: kube-apiserver and etcd) if ``go``
    is on PATH; False without Go.

    A cold build takes minutes (see the script); build output goes to stderr.
    Raises ControlPlaneError if the build fails.
    """
    if shutil.which("go") is None:
        return False
    try:
        subprocess.run(
            ["bash", str(BUILD_SCRIPT), *names],
            check=True,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        msg = f"{BUILD_SCRIPT} failed: {exc}"
        raise ControlPlaneError(msg) from exc
    return True


def build_binaries(timeout: float | None = 3600.0) -> Binaries | None:
    """Build kube-apiserver and etcd if ``go`` is on PATH; None without Go."""
    return find_binaries() if run_build_script(timeout=timeout) else None


def ensure_binaries(timeout: float | None = 3600.0) -> Binaries | None:
    """find_binaries(), else build_binaries(); None if neither is possible."""
    return find_binaries() or build_binaries(timeout)


# --------------------------------------------------------------------------
# Certificates and keys
# --------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _generate_pki(directory: Path, address: str) -> None:
    """CA, serving cert for 127.0.0.1/localhost and ``address``, an admin client cert, and the SA
    signing key pair."""
    ca_key, ca_cert = pki.self_signed_ca("pod-meta-exporter-test-ca")
    ca_name = ca_cert.subject
    not_before, not_after = ca_cert.not_valid_before_utc, ca_cert.not_valid_after_utc

    serving_key = ec.generate_private_key(ec.SECP256R1())
    service_ip = next(ipaddress.IPv4Network(SERVICE_CLUSTER_IP_RANGE).hosts())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
        x509.IPAddress(ipaddress.ip_address("::1")),
        *([x509.IPAddress(ipaddress.ip_address(address))] if address != LOOPBACK else []),
        x509.IPAddress(service_ip),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
    ]
    serving_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(serving_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(pki.usage(key_cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    # A client certificate for the admin, for clients that authenticate with one instead of a token.
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{ADMIN_USER}-certificate"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    sa_key = ec.generate_private_key(ec.SECP256R1())

    (directory / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (directory / "admin-client.crt").write_bytes(client_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(directory / "admin-client.key", _key_pem(client_key))
    (directory / "apiserver.crt").write_bytes(serving_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(directory / "apiserver.key", _key_pem(serving_key))
    _write_private(directory / "sa.key", _key_pem(sa_key))
    (directory / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


class Process:
    """One child process whose stdout+stderr are appended to a log file, killed with this one."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")  # closed in stop()
        self._log.write(f"==== {time.strftime('%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        self._log.flush()
        try:
            self.popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=KILL_WITH_PARENT,  # noqa: PLW1509 - only calls prctl(2)
            )
        except BaseException:
            self._log.close()
            raise

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        return self.popen.poll()

    def wait_until(self, what: str, probe: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
        """Until probe() is true, a failed connection counting as "not yet"; ControlPlaneError with
        the log's tail if this process exits first, or at the deadline."""

        def ready() -> bool:
            code = self.exited()
            if code is not None:
                log = f"--- tail of {self.log_path} ---\n{tail(self.log_path, 40)}"
                msg = f"{self.name} exited with code {code} while waiting for {what}\n{log}"
                raise ControlPlaneError(msg)
            return probe()

        try:
            wait_for(ready, timeout=timeout, interval=interval, what=what, retry_on=_NOT_YET)
        except AssertionError as error:
            msg = f"{error}\n--- tail of {self.log_path} ---\n{tail(self.log_path, 40)}"
            raise ControlPlaneError(msg) from None

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; always waits for the exit."""
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGTERM)
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait()
        finally:
            self._log.close()


# Control planes not closed by interpreter exit are closed then (best effort);
# strong references, so dropping a ControlPlane unclosed cannot leak processes.
_LIVE: set[ControlPlane] = set()


@atexit.register
def _close_all() -> None:
    for cp in list(_LIVE):
        with contextlib.suppress(Exception):
            cp.close()


# --------------------------------------------------------------------------
# The control plane
# --------------------------------------------------------------------------


class ControlPlane:
    """etcd + kube-apiserver on free loopback ports, with an admin kubeconfig.

    Nothing runs until start() (or ``with``). The apiserver authenticates the
    admin with a static bearer token (user ``admin`` in ``system:masters``);
    authorization is RBAC; there is no controller-manager, so e.g. namespaces
    are never finalized and no ServiceAccounts/tokens are created.
    """

    def __init__(
        self,
        binaries: Binaries | None = None,
        *,
        apiserver_args: Sequence[str] = (),
        etcd_args: Sequence[str] = (),
        workdir: Path | None = None,
        keep_workdir: bool = False,
        start_timeout: float = 90.0,
        address: str = LOOPBACK,
        audited_user: str | None = None,
    ) -> None:
        """``apiserver_args``/``etcd_args`` are appended after the defaults, so a
        repeated scalar flag (e.g. ``--watch-cache=false``) overrides a default.
        ``workdir`` (default: a new temp dir) holds certs, etcd data, the
        kubeconfig and logs; a temp dir is removed by close() unless
        ``keep_workdir``. kube-apiserver serves on ``address`` (its certificate names it too);
        etcd always listens on loopback. The requests of ``audited_user`` are written to an audit
        log (audited_requests()), across restarts."""
        if binaries is None:
            binaries = find_binaries()
            if binaries is None:
                msg = (
                    "kube-apiserver/etcd not found: run scripts/build-controlplane.sh "
                    "or set KUBE_APISERVER_BIN and ETCD_BIN"
                )
                raise ControlPlaneError(msg)
        self.binaries = binaries
        self.apiserver_args: list[str] = list(apiserver_args)
        self.etcd_args: list[str] = list(etcd_args)
        self.start_timeout = start_timeout
        self.address = address
        self.audited_user = audited_user
        self._owns_workdir = workdir is None
        self._keep_workdir = keep_workdir
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="kube-control-plane-"))
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        _LIVE.add(self)  # so an unclosed one still cleans up at exit
        self.admin_token = secrets.token_urlsafe(32)

        self.etcd_client_port = 0
        self.etcd_peer_port = 0
        self.apiserver_port = 0
        self._etcd: Process | None = None
        self._apiserver: Process | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._admin: KubeApi | None = None
        self._pki_ready = False
        self._closed = False

    # ---- paths and URLs --------------------------------------------------

    @property
    def pki_dir(self) -> Path:
        return self.workdir / "pki"

    @property
    def ca_file(self) -> Path:
        return self.pki_dir / "ca.crt"

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def client_certificate(self) -> tuple[Path, Path]:
        """(certificate, key) of a client certificate for the admin (system:masters)."""
        return self.pki_dir / "admin-client.crt", self.pki_dir / "admin-client.key"

    @property
    def token_file(self) -> Path:
        return self.workdir / "tokens.csv"

    @property
    def audit_log_path(self) -> Path:
        return self.workdir / "audit.log"

    @property
    def etcd_data_dir(self) -> Path:
        return self.workdir / "etcd-data"

    @property
    def etcd_log_path(self) -> Path:
        return self.workdir / "etcd.log"

    @property
    def apiserver_log_path(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    @property
    def log_paths(self) -> dict[str, Path]:
        return {"etcd": self.etcd_log_path, "kube-apiserver": self.apiserver_log_path}

    @property
    def etcd_client_url(self) -> str:
        return f"http://{LOOPBACK}:{self.etcd_client_port}"

    @property
    def server_url(self) -> str:
        return f"https://{self.address}:{self.apiserver_port}"

    @property
    def apiserver_running(self) -> bool:
        return self._apiserver is not None and self._apiserver.exited() is None

    def audited_requests(self) -> list[AuditedRequest]:
        """The audited user's requests so far, oldest first."""
        if self.audited_user is None:
            msg = "this control plane audits nobody"
            raise ControlPlaneError(msg)
        return read_audit_log(self.audit_log_path, self.audited_user)

    def dump_logs(self, lines: int = 200) -> str:
        """The last ``lines`` lines of each log, for a failing test's report."""
        return "\n".join(
            f"===== {name}: {path} =====\n{tail(path, lines)}" for name, path in self.log_paths.items()
        )

    # ---- lifecycle -------------------------------------------------------

    def __enter__(self) -> Self:
        if self._etcd is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> Self:
        """Generate PKI + credentials, start etcd, then kube-apiserver."""
        if self._closed:
            msg = "control plane is closed"
            raise ControlPlaneError(msg)
        if self._etcd is not None:
            msg = "control plane already started"
            raise ControlPlaneError(msg)
        try:
            self._prepare()
            self._start_etcd()
            for attempt in range(3):
                self.apiserver_port = free_port(self.address)
                self._write_kubeconfig()
                try:
                    self.start_apiserver()
                except ControlPlaneError:
                    # Lost a race for the port with another process: retry on a new one.
                    if attempt < 2 and "address already in use" in tail(self.apiserver_log_path, 20):
                        continue
                    raise
                break
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop kube-apiserver and etcd (SIGTERM, SIGKILL after a deadline) and
        wait for both to exit; remove a temp workdir unless keep_workdir."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        if self._admin is not None:
            self._admin.close()
        try:
            self.stop_apiserver()
        finally:
            try:
                if self._etcd is not None:
                    self._etcd.stop()
                    self._etcd = None
            finally:
                if self._owns_workdir and not self._keep_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def _prepare(self) -> None:
        if self._pki_ready:
            return
        self.pki_dir.mkdir(exist_ok=True)
        _generate_pki(self.pki_dir, self.address)
        _write_private(
            self.token_file, f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'.encode()
        )
        self._ssl_context = ssl.create_default_context(cafile=str(self.ca_file))
        if self.audited_user is not None:
            (self.workdir / "audit-policy.json").write_text(json.dumps(_audit_policy(self.audited_user)))
        self._pki_ready = True

    def _write_kubeconfig(self) -> None:
        write_kubeconfig(
            self.kubeconfig_path,
            server=self.server_url,
            token=self.admin_token,
            user=ADMIN_USER,
            ca_file=self.ca_file,
        )

    # ---- etcd ------------------------------------------------------------

    def _start_etcd(self) -> None:
        for attempt in range(3):
            self.etcd_client_port = free_port()
            self.etcd_peer_port = free_port()
            peer_url = f"http://{LOOPBACK}:{self.etcd_peer_port}"
            argv = [
                str(self.binaries.etcd),
                "--name=default",
                f"--data-dir={self.etcd_data_dir}",
                f"--listen-client-urls={self.etcd_client_url}",
                f"--advertise-client-urls={self.etcd_client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync",  # throwaway data: don't pay for fsync
                *self.etcd_args,
            ]
            self._etcd = Process("etcd", argv, self.etcd_log_path)
            try:
                self._etcd.wait_until("etcd /health", self._etcd_healthy, self.start_timeout)
            except ControlPlaneError:
                self._etcd.stop()
                self._etcd = None
                # Lost a race for a port with another process: retry on new ports.
                if attempt < 2 and "address already in use" in tail(self.etcd_log_path, 20):
                    shutil.rmtree(self.etcd_data_dir, ignore_errors=True)
                    continue
                raise
            return

    def _etcd_healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.etcd_client_url}/health", timeout=2) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")

    def _etcd_post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST to etcd's gRPC-gateway (JSON over HTTP)."""
        req = urllib.request.Request(
            f"{self.etcd_client_url}{path}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                result: dict[str, Any] = json.loads(resp.read())
                return result
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode(errors="replace")
            msg = f"etcd {path}: HTTP {exc.code}: {detail}"
            raise ControlPlaneError(msg) from exc

    def etcd_revision(self) -> int:
        """etcd's current revision (header.revision of a range request)."""
        # Any range returns the store's current revision in its header.
        resp = self._etcd_post("/v3/kv/range", {"key": base64.b64encode(b"\0").decode(), "count_only": True})
        return int(resp["header"]["revision"])

    def compact_etcd(self) -> int:
        """Compact etcd (physically) to its current revision; return that revision.

        Afterwards, any watch/list from an older resourceVersion that reaches
        etcd (e.g. with --watch-cache=false) fails with 410 Gone.
        """
        revision = self.etcd_revision()
        try:
            self._etcd_post("/v3/kv/compaction", {"revision": revision, "physical": True})
        except ControlPlaneError as exc:
            # The apiserver's own periodic compaction may already have got there.
            if "required revision has been compacted" not in str(exc):
                raise
        return revision

    # ---- kube-apiserver --------------------------------------------------

    def _apiserver_argv(self) -> list[str]:
        pki = self.pki_dir
        return [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers={self.etcd_client_url}",
            f"--bind-address={self.address}",
            # Otherwise it looks for a non-loopback interface address.
            f"--advertise-address={self.address}",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={pki}",  # never write to /var/run/kubernetes
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--token-auth-file={self.token_file}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # Needs the "default" ServiceAccount, which only the
            # controller-manager creates; without it pod creation fails.
            "--disable-admission-plugins=ServiceAccount",
            # The "kubernetes" Service endpoints would be 127.0.0.1, which
            # Endpoints validation rejects (loopback): don't reconcile them.
            "--endpoint-reconciler-type=none",
            *(
                [
                    f"--audit-log-path={self.audit_log_path}",
                    f"--audit-policy-file={self.workdir / 'audit-policy.json'}",
                ]
                if self.audited_user is not None
                else []
            ),
            *self.apiserver_args,
        ]

    def start_apiserver(self, extra_args: Sequence[str] | None = None) -> None:
        """(Re)start kube-apiserver on the same port and wait for /readyz.

        ``extra_args`` replaces the ``apiserver_args`` given to the constructor
        (None: keep them).
        """
        if self._closed or self._etcd is None:
            msg = "start() the control plane first"
            raise ControlPlaneError(msg)
        if self.apiserver_running:
            msg = "kube-apiserver is already running"
            raise ControlPlaneError(msg)
        if extra_args is not None:
            self.apiserver_args = list(extra_args)
        self._apiserver = Process("kube-apiserver", self._apiserver_argv(), self.apiserver_log_path)
        try:
            self._apiserver.wait_until("kube-apiserver /readyz", self._ready, self.start_timeout, 0.25)
        except BaseException:
            self.stop_apiserver()
            raise

    @contextlib.contextmanager
    def restarted_with(self, apiserver_args: Sequence[str]) -> Iterator[None]:
        """kube-apiserver restarted with these arguments in place of its own, and with its own
        again afterwards, whatever happens."""
        previous = list(self.apiserver_args)
        self.stop_apiserver()
        try:
            self.start_apiserver(apiserver_args)
            yield
        finally:
            self.stop_apiserver()
            self.start_apiserver(previous)

    def stop_apiserver(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Stop only kube-apiserver (etcd keeps running); no-op if stopped."""
        if self._apiserver is not None:
            try:
                self._apiserver.stop(timeout)
            finally:
                self._apiserver = None

    def _ready(self) -> bool:
        reply = self.admin.call("GET", "/readyz", timeout=5)
        return reply.status == 200 and reply.body.strip() == b"ok"

    # ---- HTTP helper -------------------------------------------------------

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the test CA (for clients of server_url)."""
        if self._ssl_context is None:
            msg = "start() the control plane first"
            raise ControlPlaneError(msg)
        return self._ssl_context

    @property
    def admin(self) -> KubeApi:
        """system:masters, through the static admin token: for tests, never for the exporter."""
        if self._admin is None or self._admin.server != self.server_url:  # a new port after a lost race
            self._admin = KubeApi(
                server=self.server_url, ssl_context=self.ssl_context, token=self.admin_token
            )
        return self._admin


# --------------------------------------------------------------------------
# The audit log
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditedRequest:
    """One request of the audited user, as the API server's audit log records it."""

    received: float  # time.time() of requestReceivedTimestamp
    verb: str
    resource: str
    uri: str
    code: int | None  # None while the request (a watch) is still open
    ended: bool

    @property
    def parameters(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.uri).query).items()}

    @property
    def timeout_seconds(self) -> int | None:
        value = self.parameters.get("timeoutSeconds")
        return int(value) if value else None

    @property
    def query(self) -> str:
        """The query without the fieldSelector every request carries."""
        pairs = {k: v for k, v in self.parameters.items() if k != "fieldSelector"}
        return "&".join(f"{key}={value}" for key, value in pairs.items())


def _audit_policy(user: str) -> dict[str, object]:
    """Metadata for one user only; one event per request stage after RequestReceived."""
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [{"level": "Metadata", "users": [user]}, {"level": "None"}],
    }


def read_audit_log(path: Path, user: str) -> list[AuditedRequest]:
    """One AuditedRequest per auditID (its last stage wins), oldest first."""
    latest: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event.get("user", {}).get("username") == user:
                latest[event["auditID"]] = event
    requests = []
    for event in latest.values():
        status = event.get("responseStatus")
        ref = event.get("objectRef") or {}
        requests.append(
            AuditedRequest(
                received=datetime.datetime.fromisoformat(str(event["requestReceivedTimestamp"])).timestamp(),
                verb=str(event["verb"]),
                resource=str(ref.get("resource", "-")) if isinstance(ref, dict) else "-",
                uri=str(event["requestURI"]),
                code=status.get("code") if isinstance(status, dict) else None,
                ended=event["stage"] in ("ResponseComplete", "Panic"),
            )
        )
    return sorted(requests, key=lambda r: r.received)
