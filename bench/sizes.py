"""The size of the .meta files for the bench's pods: before metadata selection existed, with today's
defaults, and with a typical selection. Sizes depend on nothing but the code, so any machine gives
the same table; README.md quotes it.

    .venv/bin/python bench/sizes.py
"""

from __future__ import annotations

import json
import random
import statistics
from typing import Any

import podgen
from pod_meta_exporter.domain.documents import DocumentFormat, DocumentProfile
from pod_meta_exporter.domain.metadata import LAST_APPLIED_CONFIGURATION, KeyFilter, MetadataSelection

PODS = 200
SEED = 7
# What the exporter wrote before selection existed: every annotation as served.
BEFORE = MetadataSelection(last_applied_configuration=True)
TYPICAL = MetadataSelection(
    labels=KeyFilter(exclude=("pod-template-hash",)),
    annotations=KeyFilter(exclude=("checksum/*", "prometheus.io/*", "kubectl.kubernetes.io/restartedAt")),
    workload_annotation="workload",
)
SELECTIONS = {
    "before (every annotation as served)": BEFORE,
    "today's defaults (no last-applied-configuration)": MetadataSelection(),
    "typical selection (no pod-template-hash, checksum/*, prometheus.io/*; workload added)": TYPICAL,
}


def applied_with_kubectl(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as `kubectl apply -f pod.yaml` leaves it: the manifest it applied in an annotation."""
    metadata = pod["metadata"]
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "labels": metadata["labels"],
        },
        "spec": {"containers": pod["spec"]["containers"]},
    }
    annotations = {**metadata["annotations"], LAST_APPLIED_CONFIGURATION: json.dumps(manifest) + "\n"}
    return {**pod, "metadata": {**metadata, "annotations": annotations}}


def mean_size(pods: list[dict[str, Any]], documents: DocumentFormat) -> float:
    return statistics.fmean(len(documents.pod_document(pod)) for pod in pods)


def main() -> None:
    rng = random.Random(SEED)
    made_by_controllers = [podgen.pod(i, rng=rng) for i in range(PODS)]
    kinds = {
        "made by a controller": made_by_controllers,
        "applied with kubectl": [applied_with_kubectl(pod) for pod in made_by_controllers],
    }
    served = statistics.fmean(len(json.dumps(pod, separators=(",", ":"))) for pod in made_by_controllers)
    print(
        f"{PODS} pods of bench/podgen.py (seed {SEED}), {served / 1024:.1f} KiB each as served;",
        "mean .meta size:",
    )
    print()
    print("| pods | selection | minimal | full |")
    print("| --- | --- | ---: | ---: |")
    for kind, pods in kinds.items():
        for name, selection in SELECTIONS.items():
            sizes = [mean_size(pods, DocumentFormat(profile, selection)) for profile in DocumentProfile]
            print(f"| {kind} | {name} | {sizes[0]:,.0f} B | {sizes[1]:,.0f} B |")


if __name__ == "__main__":
    main()
