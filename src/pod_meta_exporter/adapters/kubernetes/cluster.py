"""KubernetesCluster: the Cluster port over the API server, one list/watch thread per resource."""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from typing import TYPE_CHECKING

from pod_meta_exporter.adapters.kubernetes import resources, stopping, watching

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pod_meta_exporter.adapters.kubernetes.settings import WatchSettings
    from pod_meta_exporter.adapters.kubernetes.transport import Transport
    from pod_meta_exporter.adapters.metrics import Metrics
    from pod_meta_exporter.domain.events import ClusterEvent
    from pod_meta_exporter.domain.ports import Cluster

log = logging.getLogger(__name__)

# Events waiting for the consumer. When it falls this far behind, the watch threads stop
# reading; the API server then drops the slow watch and the thread re-watches from its
# resourceVersion, instead of this process buffering without bound.
_QUEUE_SIZE = 1024
# How often a watch thread blocked on a full queue looks at the stop token.
_PUT_POLL_SECONDS = 0.1
# How long events() waits for the threads as it ends. A thread still connecting, or waiting for
# a status line, has no response yet for the stop token to cut: it is left behind as a daemon
# (it ends at its next timeout, emitting nothing) rather than holding up the caller.
_JOIN_SECONDS = 0.5


class KubernetesCluster:
    """Pod events of one node (and namespace events, if asked) from list+watch.

    events() starts one thread per resource; they feed a queue that events() drains. close(),
    from any thread, sets the stop token, which cuts the in-flight responses, so events() ends
    at once rather than after a read timeout.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        node_name: str,
        namespace_metadata: bool,
        settings: WatchSettings,
        metrics: Metrics,
        rng: random.Random | None = None,
    ) -> None:
        targets = [resources.pods(node_name)]
        if namespace_metadata:
            targets.append(resources.namespaces())
        self._stop = stopping.StopToken()
        self._queue: queue.Queue[ClusterEvent | None] = queue.Queue(maxsize=_QUEUE_SIZE)
        shared_rng = rng if rng is not None else random.Random()
        self._watchers = [
            watching.Watcher(
                transport=transport,
                resource=target,
                settings=settings,
                metrics=metrics,
                rng=shared_rng,
                stop=self._stop,
                emit=self._put,
            )
            for target in targets
        ]
        self._lock = threading.Lock()
        self._started = False

    def events(self) -> Iterator[ClusterEvent]:
        """A resync per resource first, then changes and resyncs; ends after close(). Once only."""
        with self._lock:
            if self._started:
                msg = "KubernetesCluster.events() can be iterated only once"
                raise RuntimeError(msg)
            self._started = True
        threads = [
            threading.Thread(target=watcher.run, name=f"watch-{watcher.resource.name}", daemon=True)
            for watcher in self._watchers
        ]
        try:
            for thread in threads:
                thread.start()
            while not self._stop.is_set():
                event = self._queue.get()
                if event is None or self._stop.is_set():
                    break
                yield event
                del event  # not held while waiting for the next: it may be a whole list
        finally:
            self._stop.set()
            _join(threads)

    def is_live(self) -> bool:
        return self._started and all(watcher.live for watcher in self._watchers)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):  # a full queue means events() is not waiting
            self._queue.put_nowait(None)  # wake events()

    def _put(self, event: ClusterEvent) -> None:
        while True:
            if self._stop.is_set():
                raise stopping.Stopped
            try:
                self._queue.put(event, timeout=_PUT_POLL_SECONDS)
            except queue.Full:
                continue
            return


def _join(threads: list[threading.Thread]) -> None:
    deadline = time.monotonic() + _JOIN_SECONDS
    for thread in threads:
        if thread.ident is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        log.info("watch threads still running after close: %s", ", ".join(stuck), extra={"threads": stuck})


if TYPE_CHECKING:  # the port's conformance, checked by mypy

    def _conforms(cluster: KubernetesCluster) -> Cluster:
        return cluster
