"""The container runtime as a second source: a container's facts, and how they fill a pod's status
until the kubelet reports them.

The kubelet makes a container's log link right after the runtime starts it, but its ID, image and
image ID reach the API only after its next relist and status sync: seconds on a loaded node. The
runtime knows them at creation. The API stays the authority: a fact only fills in a container of
the pod's spec that the API status shows without it, or with an older attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Phases after which the kubelet starts no container of the pod.
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_LISTS = (("containers", "containerStatuses"), ("initContainers", "initContainerStatuses"))


@dataclass(frozen=True, slots=True)
class RuntimeInterest:
    """The pods whose containers the runtime is asked about: all live ones, and often those awaited."""

    live: frozenset[str] = frozenset()
    """The uids of the live pods."""
    awaited: frozenset[str] = frozenset()
    """The uids of the live pods with a container of their spec not yet seen, by the API or the runtime."""


@dataclass(frozen=True, slots=True)
class RuntimeContainer:
    """One container as the runtime reports it, in the values the kubelet will put in its status."""

    pod_uid: str
    namespace: str
    pod: str
    name: str
    restart_count: int
    container_id: str
    """With the runtime's prefix, as the kubelet writes it: containerd://<id>."""
    image: str
    image_id: str
    state: Mapping[str, Any]
    """The API's ContainerState at the time the runtime was asked: waiting, running or terminated."""


def spec_names(pod: Mapping[str, Any]) -> dict[str, str]:
    """Each container name of the pod's spec, with the status list its entry belongs in."""
    spec = pod.get("spec")
    found: dict[str, str] = {}
    if not isinstance(spec, Mapping):
        return found
    for spec_key, status_key in _LISTS:
        containers = spec.get(spec_key)
        if isinstance(containers, list):
            for container in containers:
                name = container.get("name") if isinstance(container, Mapping) else None
                if isinstance(name, str):
                    found[name] = status_key
    return found


def _statuses(pod: Mapping[str, Any], status_key: str) -> list[Any]:
    status = pod.get("status")
    entries = status.get(status_key) if isinstance(status, Mapping) else None
    return entries if isinstance(entries, list) else []


def _entry(pod: Mapping[str, Any], status_key: str, name: str) -> Mapping[str, Any] | None:
    for entry in _statuses(pod, status_key):
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return None


def _api_is_current(entry: Mapping[str, Any] | None, fact: RuntimeContainer) -> bool:
    """The API's entry already tells of this container, or of a later attempt."""
    if entry is None or not entry.get("containerID"):
        return False
    if entry["containerID"] == fact.container_id:
        return True
    restarts = entry.get("restartCount")
    return isinstance(restarts, int) and restarts >= fact.restart_count


def awaits_containers(pod: Mapping[str, Any], facts: Mapping[str, RuntimeContainer]) -> bool:
    """Some container of the spec has no ID yet, from the API or the runtime, in a pod that may
    still start one: the runtime is worth asking often."""
    status = pod.get("status")
    if isinstance(status, Mapping) and status.get("phase") in TERMINAL_PHASES:
        return False
    return any(
        name not in facts and not (_entry(pod, status_key, name) or {}).get("containerID")
        for name, status_key in spec_names(pod).items()
    )


def overlay(pod: Mapping[str, Any], facts: Mapping[str, RuntimeContainer]) -> Mapping[str, Any]:
    """The pod with each fact filled into its status where the API's is missing or older; the same
    object when no fact adds anything."""
    names = spec_names(pod)
    changed: dict[str, list[Any]] = {}
    for name, fact in facts.items():
        status_key = names.get(name)
        if status_key is None:
            continue  # never a container the spec lacks
        entry = _entry(pod, status_key, name)
        if _api_is_current(entry, fact):
            continue
        entries = changed.setdefault(status_key, list(_statuses(pod, status_key)))
        filled = _filled(entry, fact)
        if entry is None:
            entries.append(filled)
        else:
            entries[entries.index(entry)] = filled
    if not changed:
        return pod
    status = pod.get("status")
    return {**pod, "status": {**(status if isinstance(status, Mapping) else {}), **changed}}


def _filled(entry: Mapping[str, Any] | None, fact: RuntimeContainer) -> dict[str, Any]:
    """The entry with the runtime's values, in the API's key order (name first: Fluent Bit carries
    fields read before "name" over to the next entry)."""
    values = {
        "state": fact.state,
        "restartCount": fact.restart_count,
        "image": fact.image,
        "imageID": fact.image_id,
        "containerID": fact.container_id,
    }
    if entry is None:
        return {"name": fact.name, **values}
    return {**entry, **values}
