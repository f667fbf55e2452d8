"""nox sessions over the Makefile's targets, which are the one description of the pipeline: each
session makes its target with VENV set to the session's own venv (`nox --force-python 3.14` for
another Python). Arguments after `--` go to pytest, or to bench/run.py for `nox -s bench`."""

from __future__ import annotations

import shlex

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "unit", "process", "integration", "node", "e2e"]

PYTHON = "3.11"


def make(session: nox.Session, target: str, *, args_variable: str = "PYTEST_ARGS") -> None:
    venv = session.virtualenv.location
    arguments = f"{args_variable}={shlex.join(session.posargs)}"
    session.run("make", target, f"VENV={venv}", f"PYTHON={venv}/bin/python", arguments, external=True)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, import-linter, actionlint and zizmor."""
    make(session, "lint")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/, tests/ and bench/."""
    make(session, "typecheck")


@nox.session(python=PYTHON)
def unit(session: nox.Session) -> None:
    """The unit tier, with 100% coverage of the domain, and the benchmark's smoke run."""
    make(session, "unit")


@nox.session(python=PYTHON)
def process(session: nox.Session) -> None:
    """Subprocesses: the real program (SIGTERM, exit codes, the demo), and mypy on a mistyped call."""
    make(session, "process")


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """A real kube-apiserver and etcd, and the real kustomize, built once from Go modules."""
    make(session, "integration")


@nox.session(python=PYTHON)
def node(session: nox.Session) -> None:
    """A real kubelet, containerd and runc run short-lived pods (root; see README's Node tier)."""
    make(session, "node")


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """kind + Fluent Bit + the sidecar: with Docker and registry images, or every image built here
    (root, Debian packages, Go; see README's e2e tier); skips with a reason where neither can run."""
    make(session, "e2e")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """The benchmarks; writes bench/RESULTS.md after a full run."""
    make(session, "bench", args_variable="BENCH_ARGS")
