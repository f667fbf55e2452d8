"""nox sessions: the same checks as `make test`, one per session, plus e2e (opt-in) and bench."""

from __future__ import annotations

import os
import shutil

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests", "integration", "node"]

PYTHON = "3.11"
SOURCES = ["src", "tests", "bench", "noxfile.py", "scripts"]
NODE_TIER_BINARIES = [
    "kube-apiserver",
    "etcd",
    "kustomize",
    "kubelet",
    "kube-controller-manager",
    "kube-scheduler",
]


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("-e", ".[test,lint]")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)
    session.run("lint-imports")
    session.run("bash", "scripts/actionlint.sh", external=True)
    session.run("zizmor", "--offline", "--quiet", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test,lint]")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The unit tier, with 100% coverage of the domain, and the benchmark's smoke run."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/unit", "--cov", "--cov-report=", *session.posargs)
    session.run("coverage", "report", "--include=src/pod_meta_exporter/domain/*", "--fail-under=100")
    session.run("python", "bench/pipeline.py", "--smoke")


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """A real kube-apiserver and etcd, and deploy/ rendered by kustomize, built once from Go modules."""
    session.install("-e", ".[test]")
    if not all(os.environ.get(name) for name in ("KUBE_APISERVER_BIN", "ETCD_BIN", "KUSTOMIZE_BIN")):
        session.run("bash", "scripts/build-controlplane.sh", external=True, success_codes=[0])
    session.run("pytest", "tests/integration", *session.posargs)


@nox.session(python=PYTHON)
def node(session: nox.Session) -> None:
    """A real kubelet, containerd and runc run short-lived pods (root; see README's Node tier)."""
    session.install("-e", ".[test]")
    session.run("bash", "scripts/install-node-runtime.sh", external=True)
    if shutil.which("go"):
        session.run("bash", "scripts/build-controlplane.sh", *NODE_TIER_BINARIES, external=True)
    session.run("pytest", "tests/node", *session.posargs)


@nox.session(python=PYTHON, default=False)
def e2e(session: nox.Session) -> None:
    """kind + Fluent Bit + the sidecar. Needs Docker, kind and kubectl; skips with a reason without them."""
    session.install("-e", ".[test,e2e]")
    session.run("pytest", "tests/e2e", "-rs", *session.posargs, external=False)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """The benchmarks; writes bench/RESULTS.md."""
    session.install("-e", ".[test]")
    session.run("python", "bench/run.py", *session.posargs)
