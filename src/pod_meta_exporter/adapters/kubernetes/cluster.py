"""KubernetesCluster: the Cluster port over the API server, one list/watch thread per resource."""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import TYPE_CHECKING

from pod_meta_exporter.adapters.kubernetes import listwatch, reflector, resources, stopping
from pod_meta_exporter.domain import ports
from pod_meta_exporter.domain.documents import DocumentProfile

if TYPE_CHECKING:
    from collections.abc import Callable

    from pod_meta_exporter.adapters.kubernetes.transport import Transport
    from pod_meta_exporter.adapters.kubernetes.watch_settings import WatchSettings
    from pod_meta_exporter.adapters.metrics import Metrics
    from pod_meta_exporter.domain.events import ClusterEvent
    from pod_meta_exporter.domain.ports import Cluster

log = logging.getLogger(__name__)

# How long close() waits for the threads. A thread still connecting, or waiting for a status
# line, has no response yet for the stop token to cut: it is left behind as a daemon (it ends at
# its next timeout, emitting nothing) rather than holding up the caller.
_JOIN_SECONDS = 0.5


class KubernetesCluster:
    """Pod events of one node (and namespace events, if asked) from list+watch.

    start() runs one thread per resource, which hands each event to the consumer's emit() and
    waits there while the consumer is behind. close(), from any thread, sets the stop token, which
    cuts the in-flight responses, so the threads end at once rather than after a read timeout; an
    event a thread already holds then is dropped, not delivered.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        node_name: str,
        namespace_metadata: bool,
        settings: WatchSettings,
        metrics: Metrics,
        profile: DocumentProfile = DocumentProfile.FULL,
        rng: random.Random | None = None,
    ) -> None:
        """`profile` says which part of each object the core reads: the only part it is handed."""
        targets = [resources.pods(node_name, keep=profile.pod_subset)]
        if namespace_metadata:
            targets.append(resources.namespaces(keep=profile.namespace_subset))
        self._transport = transport
        self._settings = settings
        self._metrics = metrics
        self._rng = rng if rng is not None else random.Random()
        self._targets = targets
        self._stop = stopping.StopToken()
        self._reflectors: list[reflector.Reflector] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._started = False

    def start(self, emit: Callable[[ClusterEvent], None], *, ended: Callable[[], None]) -> None:
        """A resync per resource first, then changes and resyncs; once only."""
        with self._lock:
            if self._started:
                msg = "KubernetesCluster.start() can be called only once"
                raise RuntimeError(msg)
            self._started = True
            self._reflectors = [
                reflector.Reflector(
                    listwatch=listwatch.ApiListWatch(
                        self._transport, target, timeout=self._settings.request_timeout
                    ),
                    resource=target,
                    settings=self._settings,
                    metrics=self._metrics,
                    rng=self._rng,
                    stop=self._stop,
                    emit=self._until_closed(emit),
                )
                for target in self._targets
            ]
        for each in self._reflectors:

            def watch(each: reflector.Reflector = each) -> None:
                each.run()
                if not self._stop.is_set():
                    ended()

            thread = threading.Thread(target=watch, name=f"watch-{each.resource.name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _until_closed(self, emit: Callable[[ClusterEvent], None]) -> Callable[[ClusterEvent], None]:
        def guarded(event: ClusterEvent) -> None:
            # A thread may have read an event before close() cut its response; the consumer, which
            # may have closed the cluster from emit() itself, gets nothing more.
            if self._stop.is_set():
                raise ports.Stopped
            emit(event)

        return guarded

    def is_live(self) -> bool:
        return (
            not self._stop.is_set() and bool(self._reflectors) and all(each.live for each in self._reflectors)
        )

    def close(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + _JOIN_SECONDS
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        if stuck:
            log.info(
                "watch threads still running after close: %s", ", ".join(stuck), extra={"threads": stuck}
            )


if TYPE_CHECKING:  # the port's conformance, checked by mypy

    def _conforms(cluster: KubernetesCluster) -> Cluster:
        return cluster
