"""A model-based test of the core: random event sequences, failing disks and the passing time against a
plain model of the rules."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
from hypothesis import note
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pod_meta_exporter.domain import events, names
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.documents import DocumentFormat, DocumentProfile
from pod_meta_exporter.domain.retries import RetryBackoff
from pod_meta_exporter.service.reconcile import Applied, apply_due
from pod_meta_exporter.testing import FakeClock, MemoryStore
from support import podfactory

RETENTION = 30.0
# A cap well under the retention, so that a retry is often the first thing to wake up for.
RETRY = RetryBackoff(first=1.0, cap=4.0)
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
# What goes wrong with the disk: (writes fail with, removals fail with).
BREAKAGES = {
    "full": (errno.ENOSPC, None),
    "read-only": (errno.EROFS, errno.EROFS),
    "unremovable": (None, errno.EACCES),
}


def _error(code: int | None) -> OSError | None:
    return None if code is None else OSError(code, errno.errorcode[code])


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
        self.format = DocumentFormat()
        self.core = self._new_core()
        self.live: dict[names.PodKey, dict[str, Any]] = {}
        self.vanished: dict[names.PodKey, Vanished] = {}
        self.namespace_docs: dict[str, bytes] = {}
        self.failed_at: dict[str, float] = {}  # file name -> when its last write or removal failed
        self.last_event: events.ClusterEvent | None = None

    # -- the model ------------------------------------------------------------------------

    def _wanted(self) -> dict[str, bytes]:
        """What the directory should hold now, by the rules, as if every write had succeeded."""
        now = self.clock.now()
        files = {key.filename: self.format.pod_document(pod) for key, pod in self.live.items()}
        for key, gone in self.vanished.items():
            if now < gone.at + RETENTION:  # a vanished pod's last document stays for the retention
                files[key.filename] = gone.document
        for namespace in {key.namespace for key in [*self.live, *self.vanished] if key.filename in files}:
            files[names.namespace_filename(namespace)] = self.namespace_docs[namespace]
        return files

    def _differing(self) -> dict[str, tuple[bytes | None, bytes | None]]:
        """The files the store holds otherwise than the model wants: name -> (held, wanted)."""
        wanted, held = self._wanted(), self.store.files
        return {
            name: (held.get(name), wanted.get(name))
            for name in wanted.keys() | held.keys()
            if held.get(name) != wanted.get(name)
        }

    def _new_core(self) -> MetaDirectory:
        core = MetaDirectory(
            retention=RETENTION, profile=self.format.profile, namespace_metadata=True, retry=RETRY
        )
        core.adopt(self.store.names(), now=self.clock.now())
        return core

    def _send(self, event: events.ClusterEvent) -> Applied:
        self.core.handle(event, now=self.clock.now())
        self.last_event = event
        return self._settle()

    def _settle(self) -> Applied:
        """Apply what is due, as the service does after every batch and wake-up, and note how it went."""
        applied = apply_due(self.core, self.store, now=self.clock.now())
        for name in (*applied.written, *applied.removed):
            self.failed_at.pop(name, None)
        for failure in applied.failures:
            note(f"  {failure.action.name}: {failure.error.strerror}")
            self.failed_at[failure.action.name] = self.clock.now()
        return applied

    def _send_namespaces(self) -> None:
        namespaces = tuple(podfactory.namespace(ns) for ns in NAMESPACES)
        self.namespace_docs = {
            ns["metadata"]["name"]: self.format.namespace_document(ns) for ns in namespaces
        }
        self._send(events.NamespacesResynced(namespaces))

    def _vanish(self, key: names.PodKey, pod: dict[str, Any]) -> None:
        self.vanished[key] = Vanished(self.clock.now(), self.format.pod_document(pod))

    # -- rules ----------------------------------------------------------------------------

    @initialize(profile=st.sampled_from(DocumentProfile))
    def namespaces_are_known(self, profile: DocumentProfile) -> None:
        note(f"profile {profile.value}")
        self.format = DocumentFormat(profile)
        self.core = self._new_core()
        self._send_namespaces()
        self._send(events.PodsResynced(()))

    @precondition(lambda self: len(self.live) < len(KEYS))
    @rule(data=st.data(), label=st.integers(0, 3))
    def add(self, data: st.DataObject, label: int) -> None:
        key = data.draw(st.sampled_from([key for key in KEYS if key not in self.live]))
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
        self.failed_at.clear()  # the new core knows of no failure: it tries everything afresh
        for key in list(self.vanished):
            # Adoption: every file of a pod not in the list is kept as found, for a full retention
            # from start-up; a vanished pod whose file never reached the disk is forgotten.
            if key.filename in self.store.files:
                self.vanished[key] = Vanished(self.clock.now(), self.store.files[key.filename])
            else:
                del self.vanished[key]
        self._send_namespaces()
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

    @precondition(lambda self: self.core.next_wakeup() is not None)
    @rule()
    def advance_to_the_next_wakeup(self) -> None:
        wake = self.core.next_wakeup()
        assert wake is not None
        note(f"advance {wake - self.clock.now()}s to the next wake-up, at {wake}")
        # As the service's loop does: sleep until next_wakeup(), then apply what is due.
        self.clock.advance(wake - self.clock.now())
        self.last_event = None
        self._settle()

    @precondition(lambda self: self.store.fail_writes is None and self.store.fail_removals is None)
    @rule(breakage=st.sampled_from(sorted(BREAKAGES)))
    def break_the_disk(self, breakage: str) -> None:
        note(f"the disk is {breakage}")
        writes, removals = BREAKAGES[breakage]
        self.store.fail_writes, self.store.fail_removals = _error(writes), _error(removals)

    @precondition(lambda self: self.store.fail_writes is not None or self.store.fail_removals is not None)
    @rule()
    def repair_the_disk(self) -> None:
        note("the disk is repaired")
        self.store.fail_writes = self.store.fail_removals = None

    @precondition(lambda self: self.last_event is not None)
    @rule()
    def replay(self) -> None:
        assert self.last_event is not None
        note(f"replay {type(self.last_event).__name__}")
        failed = set(self.failed_at)
        applied = self._send(self.last_event)
        # A replay may try a failed file again at once (an event supersedes its backoff); no other.
        touched = {*applied.written, *applied.removed}
        assert touched <= failed, f"replaying an event touched {sorted(touched - failed)}"

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def the_directory_differs_from_the_model_only_where_a_write_or_removal_failed(self) -> None:
        unexplained = {
            name: held_wanted for name, held_wanted in self._differing().items() if name not in self.failed_at
        }
        assert not unexplained, f"file: (held, wanted) {unexplained}"

    @invariant()
    def the_next_wakeup_comes_by_the_first_retention_end_or_retry(self) -> None:
        now = self.clock.now()
        ends = [gone.at + RETENTION for gone in self.vanished.values() if now < gone.at + RETENTION]
        # A file whose last write or removal failed, and that is not right by chance: an event may
        # have wanted back what it held, or an adopted file may already hold what it should.
        retries = [at + RETRY.cap for name, at in self.failed_at.items() if name in self._differing()]
        wake = self.core.next_wakeup()
        if ends or retries:
            latest = min(ends + retries)
            assert wake is not None, f"next_wakeup() is None, yet something is due by {latest}"
            assert wake <= latest, f"next_wakeup() is {wake}, yet something is due by {latest}"
        assert wake is None or wake > now, f"next_wakeup() is {wake}, not after now ({now})"

    @invariant()
    def a_namespace_file_exists_exactly_while_a_pod_file_of_its_namespace_does(self) -> None:
        for namespace in NAMESPACES:
            if any(name.startswith((f"{namespace}_", f"{namespace}.")) for name in self.failed_at):
                continue  # the failed write or removal is yet to be retried
            has_pods = any(name.startswith(f"{namespace}_") for name in self.store.files)
            assert (names.namespace_filename(namespace) in self.store.files) == has_pods, namespace

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


TestDirectory = DirectoryMachine.TestCase
