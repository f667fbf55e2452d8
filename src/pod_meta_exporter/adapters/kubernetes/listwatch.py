"""ListWatch: the two calls of the list/watch loop for one resource, typed, over the transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pod_meta_exporter.adapters.kubernetes.resources import Resource
    from pod_meta_exporter.adapters.kubernetes.transport import Response, Transport


class ListWatch(Protocol):
    def list(self, *, resource_version: str) -> Response:
        """The resource's list; resource_version "" reads consistently, "0" from the watch cache."""
        ...

    def watch(self, *, resource_version: str, timeout_seconds: int, send_initial_events: bool) -> Response:
        """A watch from resource_version, with bookmarks, that the server ends after timeout_seconds;
        with send_initial_events, it first streams the current state (WatchList, KEP-3157)."""
        ...


class ApiListWatch:
    """ListWatch over the API: GETs of the resource's path with its selector."""

    def __init__(self, transport: Transport, resource: Resource, *, timeout: tuple[float, float]) -> None:
        self._transport = transport
        self._resource = resource
        self._timeout = timeout

    def list(self, *, resource_version: str) -> Response:
        return self._get(_version(resource_version))

    def watch(self, *, resource_version: str, timeout_seconds: int, send_initial_events: bool) -> Response:
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(timeout_seconds))]
        if send_initial_events:
            query += [("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan")]
        return self._get([*query, *_version(resource_version)])

    def _get(self, query: Sequence[tuple[str, str]]) -> Response:
        return self._transport.get(
            self._resource.path, [*self._resource.selector, *query], timeout=self._timeout
        )


def _version(resource_version: str) -> list[tuple[str, str]]:
    return [("resourceVersion", resource_version)] if resource_version else []
