"""The project's golden Fluent Bit fixtures (tests/fixtures/fluent-bit): pod objects of our own,
and the `kubernetes` object that real Fluent Bit v5.1.1 attached to each container's records when
it read that pod from its preload directory. `make golden` writes the records again from the
pods; the process tier checks the exporter's documents against them with the real binary."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support import manifests
from support.fluent_bit import STATUS_LISTS
from support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fluent-bit"
BINARY = ROOT.parent / "shared" / "fluent-bit" / "bin" / "fluent-bit-5.1.1-linux-amd64"
UNREACHABLE_API = "https://127.0.0.1:1"  # refused at once: only the preload directory can enrich
# The docker_id of a container whose status has no containerID yet: the tag always carries one.
PLACEHOLDER_ID = "0" * 64
# The log file of a restarted container's earlier attempt, which tail still reads after the restart.
EARLIER_ID = "e" * 64


@dataclass(frozen=True)
class Container:
    """One container's log stream, as the tag of its /var/log/containers file names it."""

    namespace: str
    pod: str
    name: str
    docker_id: str
    earlier: bool = False  # the log file of an attempt before the one the status shows

    @property
    def key(self) -> str:
        """The stream's name among its pod's records."""
        return f"{self.name} (earlier attempt)" if self.earlier else self.name

    @property
    def tag(self) -> str:
        return f"kube.var.log.containers.{self.pod}_{self.namespace}_{self.name}-{self.docker_id}.log"


def unavailable() -> str | None:
    """Why real Fluent Bit cannot run here, or None."""
    return None if BINARY.is_file() else f"no {BINARY} (../shared is absent)"


def pods() -> dict[str, dict[str, Any]]:
    """Each fixture pod, by its file's stem: `<namespace>_<pod>`, as its `.meta` is named."""
    return {path.stem: json.loads(path.read_text()) for path in sorted((FIXTURES / "pods").glob("*.json"))}


def records(stem: str) -> dict[str, dict[str, Any]]:
    """What Fluent Bit attached to each container's records of pod `stem`, by container name."""
    loaded: dict[str, dict[str, Any]] = json.loads((FIXTURES / "records" / f"{stem}.json").read_text())
    return loaded


def containers(pod: dict[str, Any]) -> list[Container]:
    """Every container of the pod's status, with the ID its log file name would carry, and, for a
    restarted one, its earlier attempt's log file too."""
    metadata, status = pod["metadata"], pod.get("status") or {}
    found = []
    for key in STATUS_LISTS:
        for entry in status.get(key) or []:
            docker_id = str(entry.get("containerID") or PLACEHOLDER_ID).split("://")[-1]
            names = (metadata["namespace"], metadata["name"], entry["name"])
            found.append(Container(*names, docker_id))
            if entry.get("restartCount"):
                found.append(Container(*names, EARLIER_ID, earlier=True))
    return found


def configuration(*, meta_dir: Path, output: Path, workdir: Path, streams: list[Container]) -> dict[str, Any]:
    """deploy/'s kubernetes filter, as deployed, on one record per container stream (a dummy input
    tagged as tail would tag its log file), with the API unreachable and the records to a file."""
    (configmap,) = (o for o in manifests.render() if o["kind"] == "ConfigMap")
    pipeline = yaml.safe_load(configmap["data"]["fluent-bit.yaml"])["pipeline"]
    (kubernetes,) = (f for f in pipeline["filters"] if f["name"] == "kubernetes")
    token, ca = workdir / "token", workdir / "ca.crt"
    token.write_text("not-a-valid-token\n")
    ca.write_text("")
    return {
        "service": {"flush": 0.2, "log_level": "info", "http_server": "off"},
        "pipeline": {
            "inputs": [
                {"name": "dummy", "tag": stream.tag, "dummy": '{"log":"golden"}', "samples": 1}
                for stream in streams
            ],
            "filters": [
                {
                    **kubernetes,
                    "kube_meta_preload_cache_dir": str(meta_dir),
                    "kube_url": UNREACHABLE_API,
                    "kube_ca_file": str(ca),
                    "kube_token_file": str(token),
                    "namespace_labels": "off",
                    "namespace_annotations": "off",
                }
            ],
            "outputs": [
                {
                    "name": "file",
                    "match": "*",
                    "path": str(output.parent),
                    "file": output.name,
                    "format": "plain",
                }
            ],
        },
    }


def enrich(documents: dict[str, bytes], streams: list[Container]) -> dict[Container, dict[str, Any]]:
    """Run real Fluent Bit once over a preload directory holding `documents` (by file name), and
    return the `kubernetes` object it attached to each stream's record."""
    with tempfile.TemporaryDirectory(prefix="golden-fluent-bit-") as work:
        workdir = Path(work)
        meta_dir = workdir / "meta"
        meta_dir.mkdir()
        for name, content in documents.items():
            (meta_dir / name).write_bytes(content)
        output = workdir / "records.jsonl"
        config = workdir / "fluent-bit.yaml"
        config.write_text(
            yaml.safe_dump(configuration(meta_dir=meta_dir, output=output, workdir=workdir, streams=streams))
        )
        log = workdir / "fluent-bit.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(BINARY), "-c", str(config)], stdout=sink, stderr=subprocess.STDOUT
            )
        try:
            wait_for(
                lambda: process.poll() is None and _count(output) >= len(streams),
                timeout=30,
                what=f"{len(streams)} records from Fluent Bit",
                seen=lambda: log.read_text(errors="replace")[-600:],
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
        by_tag = {}
        for line in output.read_text().splitlines():
            record = json.loads(line)
            kubernetes = record.get("kubernetes") or {}
            by_tag[_tag_of(kubernetes)] = kubernetes
        return {
            stream: by_tag[stream.namespace, stream.pod, stream.name, stream.docker_id] for stream in streams
        }


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _tag_of(found: dict[str, Any] | Container) -> tuple[str, str, str, str]:
    """The tag's four parts, of a record's `kubernetes` object or of a stream."""
    if isinstance(found, Container):
        return found.namespace, found.pod, found.name, found.docker_id
    kubernetes = found
    return (
        kubernetes.get("namespace_name", ""),
        kubernetes.get("pod_name", ""),
        kubernetes.get("container_name", ""),
        kubernetes.get("docker_id", ""),
    )
