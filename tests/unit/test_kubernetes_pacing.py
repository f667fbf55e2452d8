"""The pacing of syncs and watches, client-go's reflector's, driven by a fake clock: what one
exporter asks of a server that fails it, which a fleet multiplies by its nodes."""

from __future__ import annotations

import itertools
import random
from typing import TYPE_CHECKING

from pod_meta_exporter.adapters.kubernetes import reflector, resources, stopping
from pod_meta_exporter.adapters.kubernetes.transport import ApiError
from pod_meta_exporter.adapters.kubernetes.watch_settings import WatchSettings
from pod_meta_exporter.adapters.metrics import Metrics
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.testing import FakeClock
from support.listwatch_fake import Answer, Call, FakeListWatch, event, listing

if TYPE_CHECKING:
    from pod_meta_exporter.domain.events import ClusterEvent

POD = {"metadata": {"name": "a", "namespace": "default", "uid": "uid-a", "resourceVersion": "3"}}
LATER = {"metadata": {**POD["metadata"], "resourceVersion": "11"}}
EXPIRED = event("ERROR", {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
END_OF_INITIAL_EVENTS = event(
    "BOOKMARK",
    {
        "kind": "Pod",
        "metadata": {"resourceVersion": "30", "annotations": {"k8s.io/initial-events-end": "true"}},
    },
)


class FakeTimeStop(stopping.StopToken):
    """A stop token whose waits pass on the fake clock at once."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float) -> bool:
        self.clock.advance(timeout)
        return self.is_set()


class Paced:
    """One watcher with client-go's pacing (the default settings) on a fake clock."""

    def __init__(self, *, watch_list: bool = False) -> None:
        self.clock = FakeClock()
        self.stop = FakeTimeStop(self.clock)
        self.listwatch = FakeListWatch(exhausted=self.stop.set, clock=self.clock.now)
        self.events: list[ClusterEvent] = []
        self.watcher = reflector.Reflector(
            listwatch=self.listwatch,
            resource=resources.pods("node-a", keep=DocumentProfile.MINIMAL.pod_subset),
            settings=WatchSettings(watch_list=watch_list),
            metrics=Metrics(),
            rng=random.Random(7),
            stop=self.stop,
            emit=self.events.append,
            clock=self.clock.now,
        )

    def script(self, kind: str, *answers: Answer) -> None:
        self.listwatch.script(kind, *answers)

    def calls(self) -> list[tuple[float, Call]]:
        return list(zip(self.listwatch.times, self.listwatch.calls, strict=True))

    def syncs(self) -> list[float]:
        """When each list (or initial-events stream) was asked for."""
        return [at for at, call in self.calls() if call.kind != "watch"]

    def watches(self) -> list[tuple[float, Call]]:
        return [(at, call) for at, call in self.calls() if call.kind == "watch"]


def test_a_server_that_410s_every_watch_gets_two_syncs_in_the_first_2s_and_then_one_per_30s_at_most() -> None:
    paced = Paced()
    paced.script("list", *[[listing([POD], "10")]] * 40)
    paced.script("watch", *[[EXPIRED]] * 40)

    paced.watcher.run()

    syncs = paced.syncs()
    assert len(syncs) == 41, "40 answered, and one that found the script spent"
    assert len([at for at in syncs if at < 2.0]) <= 2
    gaps = [later - earlier for earlier, later in itertools.pairwise(syncs)]
    assert all(gap >= 0.8 for gap in gaps), "every sync waits its turn, the second 0.8 s at least"
    assert all(gap >= 30.0 for gap in gaps[6:]), "full after six steps: one sync per 30 s at most"


def test_a_watch_refused_with_429_waits_for_retry_after_and_watches_again_without_a_list() -> None:
    paced = Paced()
    refused = ApiError(429, reason="TooManyRequests", retry_after=5.0)
    paced.script("list", [listing([POD], "10")])
    paced.script("watch", refused, refused, [event("ADDED", LATER)])

    paced.watcher.run()

    watches = paced.watches()
    assert [call.resource_version for _, call in watches] == ["10", "10", "10", "11"]
    assert watches[1][0] - watches[0][0] >= 5.0
    assert watches[2][0] - watches[1][0] >= 5.0
    assert len(paced.syncs()) == 1


def test_connection_refused_and_5xx_on_a_watch_back_off_and_watch_again_from_the_same_version() -> None:
    paced = Paced()
    paced.script("list", [listing([POD], "10")])
    paced.script(
        "watch",
        ConnectionRefusedError(111, "Connection refused"),
        ApiError(503, reason="ServiceUnavailable"),
        ApiError(500, reason="InternalError"),
        [event("ADDED", LATER)],
    )

    paced.watcher.run()

    watches = paced.watches()
    assert [call.resource_version for _, call in watches] == ["10", "10", "10", "10", "11"]
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(watches[:4])]
    steps = (0.8, 1.6, 3.2)  # the backoff manager's, each with up to as much again of jitter
    assert all(step <= gap <= 2 * step for gap, step in zip(gaps, steps, strict=True)), gaps
    assert len(paced.syncs()) == 1


def test_a_watchlist_refused_once_is_listed_for_that_sync_and_streamed_again_at_the_next() -> None:
    paced = Paced(watch_list=True)
    refusal = ApiError(422, reason="Invalid", message="sendInitialEvents: Forbidden")
    paced.script("stream", refusal, [END_OF_INITIAL_EVENTS, EXPIRED])
    paced.script("list", [listing([POD], "10")])
    paced.script("watch", [EXPIRED])

    paced.watcher.run()

    assert [call.kind for _, call in paced.calls()] == ["stream", "list", "watch", "stream", "stream"]
