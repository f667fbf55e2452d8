"""Metadata selection: which labels and annotations a document carries into Fluent Bit's records."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pod_meta_exporter.domain import workloads

LAST_APPLIED_CONFIGURATION = "kubectl.kubernetes.io/last-applied-configuration"
# Read by Fluent Bit itself (K8S-Logging.Parser, K8S-Logging.Exclude), even with Annotations Off:
# dropping one would change how a pod's logs are parsed or whether they are kept at all.
FLUENT_BIT_ANNOTATIONS = ("fluentbit.io/parser*", "fluentbit.io/exclude*")


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` matches any run of characters, `?` one, everything else itself ('/' included)."""
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """Keys kept: those matching an include pattern (any, when there is none) and no exclude one."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _include: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _exclude: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", tuple(_glob(p) for p in self.include))
        object.__setattr__(self, "_exclude", tuple(_glob(p) for p in self.exclude))

    def keeps(self, key: str) -> bool:
        included = not self._include or any(p.fullmatch(key) for p in self._include)
        return included and not any(p.fullmatch(key) for p in self._exclude)


_ALWAYS_KEPT = KeyFilter(include=FLUENT_BIT_ANNOTATIONS)


@dataclass(frozen=True, slots=True)
class MetadataSelection:
    """What of metadata.labels and metadata.annotations reaches a document, and what is added.

    The same rules apply to pod and namespace documents. A map left empty is dropped rather than
    written as {}: Fluent Bit would copy an empty map into every record."""

    labels: KeyFilter = KeyFilter()
    annotations: KeyFilter = KeyFilter()
    last_applied_configuration: bool = False
    """Off by default: kubectl's copy of the applied object can hold a whole pod spec, env values
    included, which the minimal profile promises never to write."""
    workload_annotation: str | None = None
    """With a key, pods get the annotation `<key>: <Kind>/<name>` of their owning workload."""

    def _keeps_annotation(self, key: str) -> bool:
        if key == LAST_APPLIED_CONFIGURATION and not self.last_applied_configuration:
            return False
        return self.annotations.keeps(key) or _ALWAYS_KEPT.keeps(key)

    def pod(self, pod: Mapping[str, Any]) -> Mapping[str, Any]:
        """The pod object with its labels and annotations selected, and the workload added."""
        added = None
        if self.workload_annotation is not None:
            workload = workloads.workload_of(pod)
            if workload is not None:
                added = (self.workload_annotation, workload)
        return self._shaped(pod, added)

    def namespace(self, namespace: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._shaped(namespace, None)

    def _shaped(self, obj: Mapping[str, Any], added: tuple[str, str] | None) -> Mapping[str, Any]:
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping):
            return obj
        labels = _selected(metadata.get("labels"), self.labels.keeps)
        annotations = _selected(metadata.get("annotations"), self._keeps_annotation)
        if added is not None:
            key, value = added
            annotations = {**(annotations if isinstance(annotations, Mapping) else {}), key: value}
        if labels is metadata.get("labels") and annotations is metadata.get("annotations"):
            return obj  # nothing to change: no copy
        # Rebuilt in the object's own key order; a map left empty loses its key.
        shaped: dict[str, Any] = {}
        for key, value in metadata.items():
            if key not in ("labels", "annotations"):
                shaped[key] = value
            else:
                chosen = labels if key == "labels" else annotations
                if chosen:
                    shaped[key] = chosen
        if added is not None and "annotations" not in metadata:
            shaped["annotations"] = annotations
        return {**obj, "metadata": shaped}


def _selected(mapping: object, keeps: Callable[[str], bool]) -> object:
    """The mapping with only the kept keys; the same object when all are kept (or it is no map)."""
    if not isinstance(mapping, Mapping):
        return mapping
    kept = {key: value for key, value in mapping.items() if keeps(key)}
    return mapping if len(kept) == len(mapping) else kept


DEFAULT_SELECTION = MetadataSelection()
"""Every label and annotation but kubectl's last-applied-configuration, and no workload."""
