"""A model-based test of the core: random event sequences against a plain model of the rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
from hypothesis import note
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pod_meta_exporter.adapters.clock import FakeClock
from pod_meta_exporter.adapters.store import MemoryStore
from pod_meta_exporter.domain import events, names
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.service.reconcile import apply_due
from support import podfactory

RETENTION = 30.0
NAMESPACES = ("shop", "ops")
POD_NAMES = ("web-0", "web-1", "job-x")
KEYS = [names.PodKey(namespace, name) for namespace in NAMESPACES for name in POD_NAMES]
INVALID = [
    {"metadata": {"namespace": "shop", "name": "../escape", "uid": "u"}},
    {"metadata": {"namespace": "../..", "name": "web-0", "uid": "u"}},
    {"metadata": {"namespace": "shop", "name": "a/b", "uid": "u"}},
    {"metadata": {"namespace": "shop", "name": "nul\x00", "uid": "u"}},
    {"metadata": {"namespace": "shop", "name": "x" * 300, "uid": "u"}},
    {"kind": "Pod"},
]


class RecordingStore(MemoryStore):
    """A MemoryStore that remembers every name it was asked to touch."""

    def __init__(self) -> None:
        super().__init__()
        self.touched: set[str] = set()

    def write(self, name: str, content: bytes) -> None:
        self.touched.add(name)
        super().write(name, content)

    def remove(self, name: str) -> None:
        self.touched.add(name)
        super().remove(name)


@dataclass
class Vanished:
    at: float
    document: bytes


class DirectoryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(100.0)
        self.store = RecordingStore()
        self.profile = DocumentProfile.MINIMAL
        self.core = self._new_core()
        self.live: dict[names.PodKey, dict[str, Any]] = {}
        self.vanished: dict[names.PodKey, Vanished] = {}
        self.last_event: events.ClusterEvent | None = None

    def _new_core(self) -> MetaDirectory:
        core = MetaDirectory(retention=RETENTION, profile=self.profile, namespace_metadata=True)
        core.adopt(self.store.names(), now=self.clock.now())
        return core

    def _send(self, event: events.ClusterEvent) -> None:
        self.core.handle(event, now=self.clock.now())
        self.last_event = event
        self._settle()

    def _settle(self) -> None:
        apply_due(self.core, self.store, now=self.clock.now())

    def _vanish(self, key: names.PodKey, pod: dict[str, Any]) -> None:
        self.vanished[key] = Vanished(self.clock.now(), self.profile.pod_document(pod))

    @initialize(profile=st.sampled_from(DocumentProfile))
    def namespaces_are_known(self, profile: DocumentProfile) -> None:
        self.profile = profile
        self.core = self._new_core()
        self._send(events.NamespacesResynced(tuple(podfactory.namespace(ns) for ns in NAMESPACES)))
        self._send(events.PodsResynced(()))

    @rule(key=st.sampled_from(KEYS), label=st.integers(0, 3))
    def add(self, key: names.PodKey, label: int) -> None:
        if key in self.live:
            return
        pod = podfactory.pod(key.name, key.namespace, labels={"v": str(label)})
        note(f"add {key} uid={pod['metadata']['uid']}{' (recreation)' if key in self.vanished else ''}")
        self.live[key] = pod
        self.vanished.pop(key, None)
        self._send(events.PodUpserted(pod))

    @precondition(lambda self: self.live)
    @rule(data=st.data(), label=st.integers(0, 3))
    def modify(self, data: st.DataObject, label: int) -> None:
        key = data.draw(st.sampled_from(sorted(self.live)))
        note(f"modify {key} label v={label}")
        self.live[key]["metadata"]["labels"] = {"v": str(label)}
        self._send(events.PodUpserted(self.live[key]))

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.live)))
        note(f"delete {key}")
        pod = self.live.pop(key)
        self._vanish(key, pod)
        self._send(events.PodDeleted(pod))

    @rule(data=st.data())
    def resync(self, data: st.DataObject) -> None:
        kept = data.draw(st.sets(st.sampled_from(sorted(self.live))) if self.live else st.just(set()))
        note(f"resync keeping {sorted(kept)}")
        for key in set(self.live) - kept:
            self._vanish(key, self.live.pop(key))
        self._send(events.PodsResynced(tuple(self.live[key] for key in sorted(kept))))

    @rule()
    def restart(self) -> None:
        note("restart with the files on disk, then the initial list")
        self.core = self._new_core()
        for key in self.vanished:
            # Adoption: every file of a pod not in the list gets a full retention from start-up.
            if key.filename in self.store.files:
                self.vanished[key].at = self.clock.now()
        self._send(events.NamespacesResynced(tuple(podfactory.namespace(ns) for ns in NAMESPACES)))
        self._send(events.PodsResynced(tuple(self.live.values())))

    @rule(obj=st.sampled_from(INVALID), deleted=st.booleans())
    def invalid_name(self, obj: dict[str, Any], deleted: bool) -> None:
        note(f"invalid object {obj}")
        before = dict(self.store.files)
        event = events.PodDeleted(obj) if deleted else events.PodUpserted(obj)
        assert self.core.handle(event, now=self.clock.now()).rejections
        self._settle()
        assert self.store.files == before

    @rule(seconds=st.one_of(st.floats(0, 3 * RETENTION), st.sampled_from([RETENTION, 0.0])))
    def advance(self, seconds: float) -> None:
        note(f"advance {seconds}s")
        self.clock.advance(seconds)
        self.last_event = None  # a replay is a duplicate delivery, so it comes before time moves on
        self._settle()

    @precondition(lambda self: self.last_event is not None)
    @rule()
    def replay(self) -> None:
        assert self.last_event is not None
        note(f"replay {type(self.last_event).__name__}")
        writes = self.store.writes
        self.core.handle(self.last_event, now=self.clock.now())
        self._settle()
        assert self.store.writes == writes, "replaying an event wrote a file"

    @invariant()
    def every_live_pod_has_a_file_with_its_latest_document(self) -> None:
        for key, pod in self.live.items():
            assert self.store.files.get(key.filename) == self.profile.pod_document(pod), key

    @invariant()
    def a_vanished_pods_file_stays_for_the_retention_and_not_after(self) -> None:
        now = self.clock.now()
        for key, gone in self.vanished.items():
            if now < gone.at + RETENTION:
                assert self.store.files.get(key.filename) == gone.document, key
            else:
                assert key.filename not in self.store.files, key

    @invariant()
    def a_namespace_file_exists_exactly_while_a_pod_file_of_its_namespace_does(self) -> None:
        for namespace in NAMESPACES:
            has_pods = any(name.startswith(f"{namespace}_") for name in self.store.files)
            filename = names.namespace_filename(namespace)
            assert (filename in self.store.files) == has_pods, namespace
            if has_pods:
                assert json.loads(self.store.files[filename])["metadata"]["name"] == namespace

    @invariant()
    def no_action_names_a_path_outside_the_directory(self) -> None:
        for name in self.store.touched:
            assert "/" not in name
            assert "\x00" not in name
            assert not name.startswith(".")
            assert names.parse_filename(name) is not None

    @invariant()
    def pending_removals_count_the_retained_pods(self) -> None:
        retained = sum(1 for gone in self.vanished.values() if self.clock.now() < gone.at + RETENTION)
        assert self.core.pending_removals == retained

    @invariant()
    def nothing_else_is_in_the_directory(self) -> None:
        expected = {key.filename for key in self.live} | {
            key.filename for key, gone in self.vanished.items() if self.clock.now() < gone.at + RETENTION
        }
        pod_files = {name for name in self.store.files if name.endswith(names.POD_SUFFIX)}
        assert pod_files == expected


TestDirectory = DirectoryMachine.TestCase
