"""Events the cluster port delivers to the core, each carrying API objects as served (parsed JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pod_meta_exporter.domain.containers import RuntimeContainer

ApiObject = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PodUpserted:
    """A pod was added or modified (also: its final state, for a deletion, comes as PodDeleted)."""

    pod: ApiObject


@dataclass(frozen=True, slots=True)
class PodDeleted:
    """A pod is gone from the API; the object is its last state."""

    pod: ApiObject


@dataclass(frozen=True, slots=True)
class PodsResynced:
    """A full list: these pods are all that exist on the node right now."""

    pods: tuple[ApiObject, ...]


@dataclass(frozen=True, slots=True)
class NamespaceUpserted:
    namespace: ApiObject


@dataclass(frozen=True, slots=True)
class NamespaceDeleted:
    namespace: ApiObject


@dataclass(frozen=True, slots=True)
class NamespacesResynced:
    namespaces: tuple[ApiObject, ...]


@dataclass(frozen=True, slots=True)
class ContainerObserved:
    """The node's container runtime has a container of a pod: its facts, before the kubelet reports them."""

    container: RuntimeContainer


ClusterEvent = (
    PodUpserted
    | PodDeleted
    | PodsResynced
    | NamespaceUpserted
    | NamespaceDeleted
    | NamespacesResynced
    | ContainerObserved
)
