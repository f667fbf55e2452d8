"""Document profiles: which part of an API object becomes the bytes of its file."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pod_meta_exporter.domain.metadata import DEFAULT_SELECTION, MetadataSelection

# A selection tree: a key maps to KEEP (keep the value whole), to a nested selection
# (for an object), or to a one-element tuple holding the selection for each list item.
_Selection = Mapping[str, Any]
KEEP = None

# Exactly what Fluent Bit's kubernetes filter reads (docs/fluent-bit-contract.md).
_CONTAINER_STATUS: _Selection = {"name": KEEP, "containerID": KEEP, "imageID": KEEP, "image": KEEP}
_POD: _Selection = {
    "metadata": {
        "name": KEEP,
        "namespace": KEEP,
        "uid": KEEP,
        "labels": KEEP,
        "annotations": KEEP,
        "ownerReferences": KEEP,
    },
    "spec": {"nodeName": KEEP},
    "status": {
        "podIP": KEEP,
        "containerStatuses": (_CONTAINER_STATUS,),
        "initContainerStatuses": (_CONTAINER_STATUS,),
    },
}
# What the core reads of a pod besides its document: the spec's container names, the phase and the
# restart counts, with which the container runtime's facts are matched (domain/containers.py).
_STATUS_READ: _Selection = {**_CONTAINER_STATUS, "restartCount": KEEP}
_CONTAINERS_READ: _Selection = {"name": KEEP}
_POD_READ: _Selection = {
    "metadata": _POD["metadata"],
    "spec": {**_POD["spec"], "containers": (_CONTAINERS_READ,), "initContainers": (_CONTAINERS_READ,)},
    "status": {
        **_POD["status"],
        "phase": KEEP,
        "containerStatuses": (_STATUS_READ,),
        "initContainerStatuses": (_STATUS_READ,),
    },
}
_NAMESPACE: _Selection = {"metadata": {"name": KEEP, "uid": KEEP, "labels": KEEP, "annotations": KEEP}}


def _select(value: Any, selection: Any) -> Any:
    # Iterating the source, not the selection, keeps the API's key order: Fluent Bit carries
    # fields read before "name" in a containerStatuses entry over to the next entry.
    if selection is KEEP:
        return value
    if isinstance(selection, tuple):
        return [_select(item, selection[0]) for item in value] if isinstance(value, list) else value
    if not isinstance(value, Mapping):
        return value
    return {key: _select(item, selection[key]) for key, item in value.items() if key in selection}


class Unencodable(ValueError):
    """An object holds a value that strict JSON cannot: NaN or an infinity (which Python's json
    reads and writes by default, but Fluent Bit refuses), a lone surrogate, or no JSON type at all."""


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, keys in the order given (never sorted); Unencodable if strict JSON cannot
    hold a value, so that one bad object is refused alone and no file is ever written invalid."""
    try:
        return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except UnicodeEncodeError as error:
        msg = f"a string holds a lone surrogate at position {error.start}"
        raise Unencodable(msg) from None
    except ValueError as error:
        if "Out of range float" in str(error):
            msg = "a number is NaN or infinite, which JSON cannot hold"
            raise Unencodable(msg) from None
        raise Unencodable(str(error)) from None
    except (TypeError, RecursionError) as error:
        raise Unencodable(str(error)) from None


class DocumentProfile(enum.Enum):
    """How much of the API object reaches the disk."""

    MINIMAL = "minimal"
    """Only the fields Fluent Bit reads, so env values and other spec fields never reach the disk."""
    FULL = "full"
    """The object exactly as the API served it."""

    def pod_subset(self, pod: Mapping[str, Any]) -> Mapping[str, Any]:
        """The part of a pod object that the core reads: its document's, and what matches the
        container runtime's facts to it."""
        return pod if self is DocumentProfile.FULL else _select(pod, _POD_READ)

    def pod_part(self, pod: Mapping[str, Any]) -> Mapping[str, Any]:
        """The part of a pod object that its document holds."""
        return pod if self is DocumentProfile.FULL else _select(pod, _POD)

    def namespace_subset(self, namespace: Mapping[str, Any]) -> Mapping[str, Any]:
        return namespace if self is DocumentProfile.FULL else _select(namespace, _NAMESPACE)

    def pod_document(self, pod: Mapping[str, Any]) -> bytes:
        return encode(self.pod_part(pod))

    def namespace_document(self, namespace: Mapping[str, Any]) -> bytes:
        return encode(self.namespace_subset(namespace))


@dataclass(frozen=True, slots=True)
class DocumentFormat:
    """The bytes of a file: the profile's part of the object, with its labels and annotations selected."""

    profile: DocumentProfile = DocumentProfile.MINIMAL
    metadata: MetadataSelection = DEFAULT_SELECTION

    def pod_document(self, pod: Mapping[str, Any]) -> bytes:
        return encode(self.metadata.pod(self.profile.pod_part(pod)))

    def namespace_document(self, namespace: Mapping[str, Any]) -> bytes:
        return encode(self.metadata.namespace(self.profile.namespace_subset(namespace)))
