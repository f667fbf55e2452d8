"""What Fluent Bit's kubernetes filter takes from the preload directory, per docs/fluent-bit-contract.md:
how it reads a `.meta` file, how it parses a log file's name, and what it attaches to a record."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from support import manifests

if TYPE_CHECKING:
    from pathlib import Path

# The filter's default tag regex, applied to /var/log/containers/<file>.
LOG_FILE = re.compile(
    r"(?P<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)"
    r"_(?P<namespace_name>[^_]+)_(?P<container_name>.+)-(?P<docker_id>[a-z0-9]{64})\.log$"
)
CONTAINER_FIELDS = ("name", "containerID", "imageID", "image")
STATUS_LISTS = ("containerStatuses", "initContainerStatuses")


def fluent_bit_view(document: dict[str, Any], container: str) -> dict[str, Any]:
    """What merge_pod_meta() draws from a pod document for one container (the contract's table)."""
    metadata, spec, status = (document.get(k, {}) for k in ("metadata", "spec", "status"))
    view = {
        "pod_id": metadata.get("uid"),
        "labels": metadata.get("labels"),
        "annotations": metadata.get("annotations"),
        "ownerReferences": metadata.get("ownerReferences"),
        "host": spec.get("nodeName"),
        "pod_ip": status.get("podIP"),
    }
    for key in STATUS_LISTS:
        for entry in status.get(key) or []:
            if entry.get("name") == container:
                view[f"{key}:{container}"] = [(k, entry[k]) for k in entry if k in CONTAINER_FIELDS]
    return view


def fluent_bit_record(
    document: dict[str, Any],
    *,
    namespace: str,
    pod: str,
    container: str,
    docker_id: str,
    labels: bool = True,
    annotations: bool = True,
    owner_references: bool = False,
) -> dict[str, Any]:
    """The `kubernetes` object merge_pod_meta() builds for one container's records from a pod
    document, keys in its order, by the rules of docs/fluent-bit-contract.md. The tag gives the pod,
    namespace, container and docker_id; the document the rest, each key only where it has one."""
    metadata, spec, status = (
        value if isinstance(value := document.get(key), dict) else {}
        for key in ("metadata", "spec", "status")
    )
    record: dict[str, Any] = {"pod_name": pod, "namespace_name": namespace}
    for key, name, wanted in (
        ("uid", "pod_id", True),
        ("labels", "labels", labels),
        ("annotations", "annotations", annotations),
        ("ownerReferences", "ownerReferences", owner_references),
    ):
        if wanted and key in metadata:
            record[name] = metadata[key]
    if "nodeName" in spec:
        record["host"] = spec["nodeName"]
    if "podIP" in status:
        record["pod_ip"] = status["podIP"]
    record["container_name"] = container
    record["docker_id"] = docker_id  # the tag's, always: a status containerID only fills a gap
    entry: dict[str, Any] = next(
        (e for key in STATUS_LISTS for e in status.get(key) or [] if e.get("name") == container), {}
    )
    if entry.get("imageID"):
        record["container_hash"] = _without_scheme(entry["imageID"])
    if entry.get("image"):
        record["container_image"] = entry["image"]
    return record


def read_pod_file(path: Path) -> dict[str, Any] | None:
    """The document as the filter reads it: open, fstat, one read of st_size bytes. None where the
    filter falls back to the API server: a missing file, a short read, or no JSON object."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(descriptor).st_size
        data = os.read(descriptor, size)
    finally:
        os.close(descriptor)
    if len(data) != size or size == 0:
        return None
    try:
        document = json.JSONDecoder().raw_decode(data.decode())[0]  # trailing bytes are ignored
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


@dataclass(frozen=True)
class Enrichment:
    """The `kubernetes` keys one container's records get from a pod document, and the status
    entry's container ID, to check against the `docker_id` that the filter takes from the tag."""

    pod_id: str | None
    labels: dict[str, str] | None
    annotations: dict[str, str] | None
    host: str | None
    container_hash: str | None
    container_image: str | None
    status_container_id: str | None

    @classmethod
    def of(cls, document: dict[str, Any], container: str) -> Enrichment:
        view = fluent_bit_view(document, container)
        entry: dict[str, Any] = {}
        for key in STATUS_LISTS:
            entry = dict(view.get(f"{key}:{container}", [])) or entry
        return cls(
            pod_id=view["pod_id"],
            labels=view["labels"],
            annotations=view["annotations"],
            host=view["host"],
            container_hash=_without_scheme(entry.get("imageID")),
            container_image=entry.get("image"),
            status_container_id=_without_scheme(entry.get("containerID")),
        )


def container_ids(document: dict[str, Any]) -> frozenset[str]:
    """The container IDs (without scheme) of every status entry of a pod document."""
    status = document.get("status") or {}
    found = (
        _without_scheme(entry.get("containerID")) for key in STATUS_LISTS for entry in status.get(key) or []
    )
    return frozenset(found_id for found_id in found if found_id)


def _without_scheme(value: object) -> str | None:
    """The filter drops the runtime's `scheme://` prefix from imageID and containerID; an empty
    value attaches nothing."""
    return str(value).split("://")[-1] if value else None


@dataclass(frozen=True)
class DeployedSettings:
    """The settings of deploy/'s Fluent Bit that decide when a container's `.meta` is read."""

    refresh_interval: float  # the tail input's scan for new files, in seconds
    cache_ttl: str  # the kubernetes filter's kube_meta_cache_ttl

    @classmethod
    def read(cls) -> DeployedSettings:
        (configmap,) = (o for o in manifests.render() if o["kind"] == "ConfigMap")
        pipeline = yaml.safe_load(configmap["data"]["fluent-bit.yaml"])["pipeline"]
        (tail,) = (i for i in pipeline["inputs"] if i["name"] == "tail")
        (kubernetes,) = (f for f in pipeline["filters"] if f["name"] == "kubernetes")
        return cls(float(tail["refresh_interval"]), str(kubernetes["kube_meta_cache_ttl"]))
