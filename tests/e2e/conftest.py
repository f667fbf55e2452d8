"""The e2e tier: kind running tests/e2e/overlay; skipped in one line where a prerequisite is missing.

`make e2e` runs it through scripts/offline-kind.py, which says where its images come from:
E2E_IMAGES=registry (a GitHub runner: kindest/node, and every image pulled once), or
E2E_IMAGES=local (this project's machines, which reach no registry: every image built here,
loaded, and swapped in by tests/e2e/overlay-local). E2E_UNAVAILABLE says why neither can run."""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from e2e import harness
from e2e.offline import images as local_images
from support.manifests import E2E_LOCAL_OVERLAY_DIR, E2E_OVERLAY_DIR, REPO

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from pytest_kind import KindCluster

HERE = Path(__file__).resolve().parent
EXPORTER_IMAGE = "pod-meta-exporter:dev"  # deploy/fluent-bit/kustomization.yaml's images entry
EXPORTER_REPOSITORY = "pod-meta-exporter"
# Registries fail now and then (500s, anonymous rate limits): each pull and the cluster's creation
# (which pulls the kind node image) get this many attempts, BACKOFF seconds times the attempt apart.
ATTEMPTS = 3
BACKOFF = 10.0
# Where CI collects what a failure leaves: Fluent Bit's outputs, the exporter's log, kind's logs.
ARTIFACTS_DIR = os.environ.get("E2E_ARTIFACTS_DIR")
# A skip would hide a fault: where scripts/offline-kind.py has an engine, and in CI, as for the
# other tiers (support.tiers).
REQUIRED = (
    os.environ.get("E2E_REQUIRED", "") not in {"", "0", "false"} or os.environ.get("CI", "").lower() == "true"
)
LOCAL = os.environ.get("E2E_IMAGES") == "local"
UNAVAILABLE = os.environ.get("E2E_UNAVAILABLE")  # scripts/offline-kind.py's reason


@functools.cache
def missing_prerequisites() -> tuple[str, ...]:
    if UNAVAILABLE:
        return (f"a cluster that scripts/offline-kind.py can build ({UNAVAILABLE})",)
    missing = [f"the {tool} command" for tool in ("docker", "kind", "kubectl") if shutil.which(tool) is None]
    if importlib.util.find_spec("pytest_kind") is None:
        missing.append("pytest-kind-ng (pip install -e '.[e2e]')")
    if shutil.which("docker") is not None:
        try:
            subprocess.run(["docker", "info"], check=True, capture_output=True, timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            missing.append("a reachable Docker engine (`docker info` failed)")
    return tuple(missing)


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport | None:
    # Every module here is reported skipped from this one place, so `-rs` shows one line. (A
    # skip raised from a fixture is reported at each test's own line; one raised while importing
    # a conftest is an error.) Where the suite must run (E2E_REQUIRED=1, which offline-kind.py
    # sets), a missing prerequisite fails it instead: a green job that tested nothing would mislead.
    if not isinstance(collector, pytest.Module) or collector.path.parent != HERE:
        return None
    missing = missing_prerequisites()
    if not missing:
        return None
    message = f"e2e needs {', '.join(missing)}"
    if REQUIRED:
        return pytest.CollectReport(collector.nodeid, "failed", f"{message} (E2E_REQUIRED or CI is set)", [])
    where = (str(Path(__file__)), missing_prerequisites.__wrapped__.__code__.co_firstlineno)
    return pytest.CollectReport(collector.nodeid, "skipped", (*where, f"Skipped: {message}"), [])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Skipped at collection, the tier "collects no tests" (exit 5); a skip is not a failure, so
    # `nox -s e2e` and `make e2e` stay green where Docker or kind is missing.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and missing_prerequisites():
        session.exitstatus = pytest.ExitCode.OK


@pytest.fixture(scope="session")
def kind_cluster(request: pytest.FixtureRequest) -> Iterator[KindCluster]:
    """pytest-kind's fixture, with the kind and kubectl on PATH (its own default downloads kind 0.17)."""
    from pytest_kind import KindCluster

    option = request.config.getoption
    kubeconfig = option("kubeconfig")
    cluster = KindCluster(
        option("cluster_name"),
        Path(kubeconfig) if kubeconfig else None,
        image=option("kind_image"),
        kind_path=Path(option("kind_bin") or str(shutil.which("kind"))),
        kubectl_path=Path(option("kind_kubectl_bin") or str(shutil.which("kubectl"))),
    )
    retried(cluster.create)
    yield cluster
    if ARTIFACTS_DIR and request.session.testsfailed:
        kind = str(cluster.kind_path)
        logs = str(Path(ARTIFACTS_DIR) / "kind-logs")
        subprocess.run([kind, "export", "logs", logs, "--name", cluster.name], check=False)
    if not option("keep_cluster"):
        cluster.delete()


def retried(action: Callable[[], object]) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            action()
        except subprocess.CalledProcessError:
            if attempt == ATTEMPTS:
                raise
            time.sleep(BACKOFF * attempt)
        else:
            return


@pytest.fixture(scope="session")
def stack(kind_cluster: KindCluster) -> harness.Stack:
    """Every image on the kind node, tests/e2e/overlay applied with this build, its DaemonSet ready.

    The cluster pulls nothing: each image is on the host first, pulled (retried) only if it is not
    there already, and loaded. The exporter's image is tagged with its content ID, so a rerun on a
    kept cluster (--keep-cluster) rolls the DaemonSet out to the image just built instead of
    keeping a stale one."""
    exporter_image = build_exporter_image()
    busybox = local_images.LOCAL_BUSYBOX if LOCAL else harness.BUSYBOX
    deployed = harness.Stack(kind_cluster, exporter_image=exporter_image, busybox=busybox)
    # kubectl's own kustomize: this tier needs kubectl anyway, and not the Go toolchain.
    overlay = E2E_LOCAL_OVERLAY_DIR if LOCAL else E2E_OVERLAY_DIR
    manifests = [doc for doc in yaml.safe_load_all(deployed.kubectl("kustomize", str(overlay))) if doc]
    others = sorted({*container_images(manifests), deployed.busybox} - {EXPORTER_IMAGE})
    for image in others:
        if not present(image):
            retried(functools.partial(subprocess.run, ["docker", "pull", image], check=True))
    for image in [exporter_image, *others]:
        load_image(kind_cluster, image)
    replaced = with_image(manifests, EXPORTER_IMAGE, exporter_image)
    deployed.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(replaced))
    try:
        deployed.wait_until_ready()
    except AssertionError as error:
        if ARTIFACTS_DIR:
            write_artifacts(Path(ARTIFACTS_DIR) / "stack", deployed.diagnostics(tail=None))
        details = "\n\n".join(f"--- {title}\n{text}" for title, text in deployed.diagnostics())
        msg = f"{error}\n{details}"
        raise AssertionError(msg) from None
    return deployed


def present(image: str) -> bool:
    """Whether the engine holds the image: such an image is never pulled."""
    inspected = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    return inspected.returncode == 0


def build_exporter_image() -> str:
    # The build pulls its base images (and the Dockerfile frontend): retried like the pulls. Where
    # no registry is reachable, the same Dockerfile is built on the local bases.
    arguments = local_images.local_build_arguments() if LOCAL else []
    command = ["docker", "build", "--tag", EXPORTER_IMAGE, *arguments, str(REPO)]
    retried(functools.partial(subprocess.run, command, check=True))
    image_id = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", EXPORTER_IMAGE],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tagged = f"{EXPORTER_REPOSITORY}:{re.sub(r'^sha256:', '', image_id)[:16]}"
    subprocess.run(["docker", "tag", EXPORTER_IMAGE, tagged], check=True)
    return tagged


def container_images(manifests: list[dict[str, Any]]) -> set[str]:
    return {
        container["image"]
        for manifest in manifests
        if manifest["kind"] == "DaemonSet"
        for container in manifest["spec"]["template"]["spec"]["containers"]
    }


def with_image(manifests: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    """The manifests with every container running `old` running `new`; at least one must."""
    replaced = 0
    for manifest in manifests:
        if manifest["kind"] == "DaemonSet":
            for container in manifest["spec"]["template"]["spec"]["containers"]:
                if container["image"] == old:
                    container["image"] = new
                    replaced += 1
    assert replaced, f"no container runs {old}: the overlay's images entry changed"
    return manifests


def load_image(cluster: KindCluster, image: str) -> None:
    try:
        cluster.load_docker_image(image)
    except subprocess.CalledProcessError:
        # With Docker's containerd image store (the default from Docker 29) `kind load
        # docker-image` fails with "content digest not found" (kind issue 3795); saving one
        # platform to an archive works with both stores.
        arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
        with tempfile.TemporaryDirectory() as scratch:
            archive = str(Path(scratch) / "image.tar")
            subprocess.run(
                ["docker", "image", "save", "--platform", f"linux/{arch}", "-o", archive, image], check=True
            )
            kind = str(cluster.kind_path)
            subprocess.run([kind, "load", "image-archive", archive, "--name", cluster.name], check=True)


@pytest.fixture(scope="session")
def namespace(stack: harness.Stack) -> Iterator[str]:
    name = f"e2e-{secrets.token_hex(3)}"
    stack.kubectl("create", "namespace", name)
    yield name
    stack.kubectl("delete", "namespace", name, "--wait=false")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """On a failure, attach the Fluent Bits' and the exporter's logs and the directory listing,
    and with E2E_ARTIFACTS_DIR set, write them there too, one file each."""
    report = yield
    deployed = getattr(item, "funcargs", {}).get("stack")
    if report.failed and call.when == "call" and deployed is not None:
        report.sections.extend((f"e2e: {title}", text) for title, text in deployed.diagnostics())
        if ARTIFACTS_DIR:
            write_artifacts(Path(ARTIFACTS_DIR) / file_name(item.name), deployed.diagnostics(tail=None))
    return report


def write_artifacts(directory: Path, sections: list[tuple[str, str]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for title, text in sections:
        (directory / f"{file_name(title)}.txt").write_text(text)


def file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figures = config.stash.get(harness.FIGURES, [])
    if figures:
        terminalreporter.write_sep("-", "e2e figures")
        for line in figures:
            terminalreporter.write_line(line)
