"""Resource: what is listed and watched (pods of one node, namespaces) and the events it makes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pod_meta_exporter.domain import events

if TYPE_CHECKING:
    from collections.abc import Callable

    from kubernetes.client import CoreV1Api

    from pod_meta_exporter.domain.events import ApiObject, ClusterEvent


@dataclass(frozen=True, slots=True)
class Resource:
    """name labels metrics and logs; list_call is the client's list function with its selector bound."""

    name: str
    list_call: Callable[..., Any]
    upserted: Callable[[ApiObject], ClusterEvent]
    deleted: Callable[[ApiObject], ClusterEvent]
    resynced: Callable[[tuple[ApiObject, ...]], ClusterEvent]


def pods(core: CoreV1Api, node_name: str) -> Resource:
    """The pods bound to one node. The watch cache indexes pods by spec.nodeName, so this
    selector costs the API server little even with thousands of nodes."""
    return Resource(
        name="pods",
        list_call=functools.partial(
            core.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={node_name}"
        ),
        upserted=events.PodUpserted,
        deleted=events.PodDeleted,
        resynced=events.PodsResynced,
    )


def namespaces(core: CoreV1Api) -> Resource:
    return Resource(
        name="namespaces",
        list_call=core.list_namespace,
        upserted=events.NamespaceUpserted,
        deleted=events.NamespaceDeleted,
        resynced=events.NamespacesResynced,
    )
