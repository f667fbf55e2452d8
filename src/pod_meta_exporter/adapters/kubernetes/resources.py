"""Resource: what is listed and watched (pods of one node, namespaces) and the events it makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import events

if TYPE_CHECKING:
    from collections.abc import Callable

    from pod_meta_exporter.domain.events import ApiObject, ClusterEvent


@dataclass(frozen=True, slots=True)
class Resource:
    """name labels metrics and logs; path and selector are what is listed and watched."""

    name: str
    path: str
    selector: tuple[tuple[str, str], ...]  # query parameters of every list and watch
    # The part of each object the core reads: the reflector hands it nothing else.
    keep: Callable[[ApiObject], ApiObject]
    upserted: Callable[[ApiObject], ClusterEvent]
    deleted: Callable[[ApiObject], ClusterEvent]
    resynced: Callable[[tuple[ApiObject, ...]], ClusterEvent]


def pods(node_name: str, *, keep: Callable[[ApiObject], ApiObject]) -> Resource:
    """The pods bound to one node. The watch cache indexes pods by spec.nodeName, so this
    selector costs the API server little even with thousands of nodes."""
    return Resource(
        name="pods",
        path="/api/v1/pods",
        selector=(("fieldSelector", f"spec.nodeName={node_name}"),),
        keep=keep,
        upserted=events.PodUpserted,
        deleted=events.PodDeleted,
        resynced=events.PodsResynced,
    )


def namespaces(*, keep: Callable[[ApiObject], ApiObject]) -> Resource:
    return Resource(
        name="namespaces",
        path="/api/v1/namespaces",
        selector=(),
        keep=keep,
        upserted=events.NamespaceUpserted,
        deleted=events.NamespaceDeleted,
        resynced=events.NamespacesResynced,
    )
