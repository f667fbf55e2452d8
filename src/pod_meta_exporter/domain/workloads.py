"""The workload that owns a pod, named from the pod alone, as OpenTelemetry's k8sattributes does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

POD_TEMPLATE_HASH = "pod-template-hash"
# The CronJob controller names each Job <cronjob>-<scheduled time in minutes since the epoch>.
# That number has had eight digits since 1989 and keeps them until 2160; a Job named like
# "report-2024" or "migrate-7" is a Job of its own.
_CRONJOB_JOB = re.compile(r"(?P<cronjob>.+)-(?P<minutes>[1-9][0-9]{7})")


def workload_of(pod: Mapping[str, Any]) -> str | None:
    """`<Kind>/<name>` of the workload behind the pod's controller, or None without one.

    A ReplicaSet named <deployment>-<the pod's pod-template-hash> stands for its Deployment, and a
    Job named <cronjob>-<minutes> for its CronJob; any other controller stands for itself."""
    metadata = pod.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    owner = _controller(metadata.get("ownerReferences"))
    if owner is None:
        return None
    kind, name = owner
    if kind == "ReplicaSet":
        labels = metadata.get("labels")
        suffix = labels.get(POD_TEMPLATE_HASH) if isinstance(labels, Mapping) else None
        if isinstance(suffix, str) and suffix and name.endswith(f"-{suffix}") and len(name) > len(suffix) + 1:
            return f"Deployment/{name.removesuffix(f'-{suffix}')}"
    if kind == "Job":
        match = _CRONJOB_JOB.fullmatch(name)
        if match:
            return f"CronJob/{match['cronjob']}"
    return f"{kind}/{name}"


def _controller(references: object) -> tuple[str, str] | None:
    """The owner reference marked controller: true (an object has at most one)."""
    if not isinstance(references, list):
        return None
    for reference in references:
        if isinstance(reference, Mapping) and reference.get("controller") is True:
            kind, name = reference.get("kind"), reference.get("name")
            if isinstance(kind, str) and kind and isinstance(name, str) and name:
                return kind, name
    return None
