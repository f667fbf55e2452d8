"""Real Fluent Bit (../shared/fluent-bit/bin) tailing the node's /var/log/containers inside the node's
namespaces, so that each log link resolves, with deploy/'s tail and kubernetes filter settings and
an API server it cannot reach: only the exporter's files can enrich its records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from node.namespaces import NodeProcess
from support import manifests
from support.waiting import wait_for

if TYPE_CHECKING:
    from node.namespaces import NodeNamespaces

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT.parent / "shared" / "fluent-bit" / "bin" / "fluent-bit-5.1.1-linux-amd64"
UNREACHABLE_API = "https://127.0.0.1:1"  # the node's loopback: refused at once


def unavailable() -> str | None:
    """Why real Fluent Bit cannot run here, or None."""
    return (
        None
        if BINARY.is_file()
        else f"no {BINARY} (../shared is absent): the Fluent Bit figures are left out"
    )


@dataclass(frozen=True)
class Record:
    namespace: str
    pod: str
    container: str
    docker_id: str
    pod_id: str | None
    labels: dict[str, str] | None
    container_hash: str | None
    container_image: str | None


def configuration(*, meta_dir: Path, output_dir: Path, ca_file: Path, token_file: Path) -> dict[str, Any]:
    """deploy/'s fluent-bit.yaml with the tail input and the kubernetes filter as deployed, the
    preload directory set to `meta_dir`, the API server unreachable, and the records to a file."""
    (configmap,) = (o for o in manifests.render() if o["kind"] == "ConfigMap")
    deployed = yaml.safe_load(configmap["data"]["fluent-bit.yaml"])
    pipeline = deployed["pipeline"]
    (tail,) = (i for i in pipeline["inputs"] if i["name"] == "tail")
    (kubernetes,) = (f for f in pipeline["filters"] if f["name"] == "kubernetes")
    kubernetes = {
        **kubernetes,
        "kube_meta_preload_cache_dir": str(meta_dir),
        "kube_url": UNREACHABLE_API,
        "kube_ca_file": str(ca_file),
        "kube_token_file": str(token_file),
        "namespace_labels": "off",
        "namespace_annotations": "off",
    }
    return {
        "service": {"flush": 0.2, "log_level": "info", "http_server": "off"},
        "pipeline": {
            "inputs": [tail],
            "filters": [kubernetes],
            "outputs": [
                {
                    "name": "file",
                    "match": "*",
                    "path": str(output_dir),
                    "file": "records.jsonl",
                    "format": "plain",
                }
            ],
        },
    }


class NodeFluentBit:
    """One Fluent Bit in the node's namespaces, reading one exporter's directory."""

    def __init__(self, *, name: str, namespaces: NodeNamespaces, meta_dir: Path, ca_file: Path) -> None:
        self.name = name
        self.workdir = namespaces.workdir.parent / name
        self.workdir.mkdir()
        token = self.workdir / "token"
        token.write_text("not-a-valid-token\n")
        config = self.workdir / "fluent-bit.yaml"
        config.write_text(
            yaml.safe_dump(
                configuration(meta_dir=meta_dir, output_dir=self.workdir, ca_file=ca_file, token_file=token)
            )
        )
        self.process = NodeProcess(
            name, namespaces.enter([str(BINARY), "-c", str(config)]), self.workdir / "fluent-bit.log"
        )

    @property
    def records_path(self) -> Path:
        return self.workdir / "records.jsonl"

    def wait_started(self) -> None:
        wait_for(
            lambda: self.process.exited() is None and "[sp] stream processor started" in self.log(),
            timeout=20,
            what=f"{self.name} started",
            seen=lambda: self.log()[-400:],
        )

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def records(self) -> list[Record]:
        if not self.records_path.exists():
            return []
        found = []
        for line in self.records_path.read_text().splitlines():
            kubernetes = json.loads(line).get("kubernetes") or {}
            if "docker_id" not in kubernetes:
                continue
            found.append(
                Record(
                    namespace=kubernetes["namespace_name"],
                    pod=kubernetes["pod_name"],
                    container=kubernetes["container_name"],
                    docker_id=kubernetes["docker_id"],
                    pod_id=kubernetes.get("pod_id"),
                    labels=kubernetes.get("labels"),
                    container_hash=kubernetes.get("container_hash"),
                    container_image=kubernetes.get("container_image"),
                )
            )
        return found

    def stop(self) -> None:
        self.process.stop()
