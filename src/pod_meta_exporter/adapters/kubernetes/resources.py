"""Resource: what is listed and watched (pods of one node, namespaces) and the events it makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from pod_meta_exporter.domain import events

if TYPE_CHECKING:
    from collections.abc import Callable

    from kubernetes.client import ApiClient

    from pod_meta_exporter.domain.events import ApiObject, ClusterEvent

# The list/watch parameters the watcher passes, by their names in the API's query string.
_QUERY = {
    "field_selector": "fieldSelector",
    "resource_version": "resourceVersion",
    "watch": "watch",
    "allow_watch_bookmarks": "allowWatchBookmarks",
    "timeout_seconds": "timeoutSeconds",
}


@dataclass(frozen=True, slots=True)
class Resource:
    """name labels metrics and logs; list_call lists or watches it, with its selector bound."""

    name: str
    list_call: Callable[..., Any]
    upserted: Callable[[ApiObject], ClusterEvent]
    deleted: Callable[[ApiObject], ClusterEvent]
    resynced: Callable[[tuple[ApiObject, ...]], ClusterEvent]


def _list_call(api: ApiClient, path: str, **fixed: object) -> Callable[..., Any]:
    """GET `path` through the client's configuration, auth and TLS, as CoreV1Api's list_* do with
    _preload_content=False: the raw urllib3 response, or ApiException for a non-2xx status. Calling
    the ApiClient directly spares importing CoreV1Api, whose module alone holds about 20 MiB."""

    def call(
        *, _request_timeout: tuple[float, float], _preload_content: bool = False, **params: object
    ) -> Any:
        query = [(_QUERY[key], value) for key, value in {**fixed, **params}.items() if value is not None]
        request = api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = api.call_api(*request, _request_timeout=_request_timeout)
        if not 200 <= response.status <= 299:  # noqa: PLR2004
            response.read()  # type: ignore[no-untyped-call]
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    return call


def pods(api: ApiClient, node_name: str) -> Resource:
    """The pods bound to one node. The watch cache indexes pods by spec.nodeName, so this
    selector costs the API server little even with thousands of nodes."""
    return Resource(
        name="pods",
        list_call=_list_call(api, "/api/v1/pods", field_selector=f"spec.nodeName={node_name}"),
        upserted=events.PodUpserted,
        deleted=events.PodDeleted,
        resynced=events.PodsResynced,
    )


def namespaces(api: ApiClient) -> Resource:
    return Resource(
        name="namespaces",
        list_call=_list_call(api, "/api/v1/namespaces"),
        upserted=events.NamespaceUpserted,
        deleted=events.NamespaceDeleted,
        resynced=events.NamespacesResynced,
    )
