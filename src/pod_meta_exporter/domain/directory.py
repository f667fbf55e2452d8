"""The core: what the preload directory must hold, and when it must change."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, assert_never

from pod_meta_exporter.domain import containers, events, names
from pod_meta_exporter.domain.actions import Action, RemoveFile, WriteFile
from pod_meta_exporter.domain.containers import RuntimeInterest
from pod_meta_exporter.domain.documents import DocumentFormat, DocumentProfile, Unencodable
from pod_meta_exporter.domain.metadata import DEFAULT_SELECTION, MetadataSelection
from pod_meta_exporter.domain.outcomes import Outcome, Rejection
from pod_meta_exporter.domain.retention import RetentionClock
from pod_meta_exporter.domain.retries import RetryBackoff, WriteRetries

_RETRY = RetryBackoff()
# The digest of a file found on disk at start-up, whose content the core never saw.
_UNKNOWN = b""


def _digest(content: bytes) -> bytes:
    return hashlib.blake2b(content, digest_size=16).digest()


class InvalidObject(ValueError):
    """An API object without the metadata the directory needs."""


def _metadata(obj: object) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        msg = f"object is a {type(obj).__name__}, not a JSON object"
        raise InvalidObject(msg)
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        msg = "object has no metadata"
        raise InvalidObject(msg)
    return metadata


def _pod_identity(pod: object) -> tuple[names.PodKey, str]:
    metadata = _metadata(pod)
    key = names.pod_key(metadata.get("namespace"), metadata.get("name"))
    uid = metadata.get("uid")
    if not isinstance(uid, str) or not uid:
        msg = f"pod {key.namespace}/{key.name} has no metadata.uid"
        raise InvalidObject(msg)
    return key, names.detached(uid)


def _namespace_name(namespace: object) -> str:
    return names.check_namespace(_metadata(namespace).get("name"))


@dataclass(slots=True)
class _Pod:
    uid: str | None  # None: adopted from disk at start-up, uid unknown
    # Kept only with the container runtime as a source: the object as the API last served it, to
    # render again when a runtime fact arrives, and the newest fact for each container name.
    api: events.ApiObject | None = None
    runtime: dict[str, containers.RuntimeContainer] = field(default_factory=dict)


class MetaDirectory:
    """Desired state of the directory, reconciled against what the store is known to hold.

    Feed it events with handle() (or adopt() once at start) and the time with expire(), then
    apply due() through the store and report each outcome with applied() or failed().
    next_wakeup() says when expire() and due() will next have work that no event brings: an
    ending retention (retention.py) or a retry (retries.py).
    """

    def __init__(
        self,
        *,
        retention: float,
        profile: DocumentProfile = DocumentProfile.MINIMAL,
        metadata: MetadataSelection = DEFAULT_SELECTION,
        namespace_metadata: bool = False,
        container_runtime: bool = False,
        retry: RetryBackoff = _RETRY,
    ) -> None:
        self._retention: RetentionClock[names.PodKey] = RetentionClock(retention)
        self.documents = DocumentFormat(profile, metadata)
        self.namespace_metadata = namespace_metadata
        self.container_runtime = container_runtime
        """Whether ContainerObserved events are taken; else they are ignored and no object is kept."""
        self._pods: dict[names.PodKey, _Pod] = {}
        self._pods_per_namespace: Counter[str] = Counter()
        self._namespace_docs: dict[str, bytes] = {}
        self._deleted_namespaces: set[str] = set()
        self._on_disk: dict[str, bytes] = {}  # name -> digest of what the store holds
        self._pending: dict[str, Action] = {}
        self._retries = WriteRetries(retry)
        self._awaited: set[names.PodKey] = set()
        self._interest: RuntimeInterest | None = RuntimeInterest()  # None: to be computed again
        self.synced = False

    # -- inputs ---------------------------------------------------------------------------

    def adopt(self, present: Iterable[str], *, now: float) -> None:
        """Take over the files an earlier run left, once, before any event.

        Each pod file gets a full retention from now: Fluent Bit may still need the metadata
        of pods that died while we were away. The initial resync then claims the live ones.
        """
        namespaces: set[str] = set()
        for filename in present:
            parsed = names.parse_filename(filename)
            if parsed is None:
                continue
            self._on_disk[filename] = _UNKNOWN
            if isinstance(parsed, names.PodKey):
                self._add_pod(parsed, uid=None)
                self._retain(parsed, now=now)
            else:
                namespaces.add(parsed)
        for namespace in namespaces:
            self._refresh_namespace(namespace)

    def handle(self, event: events.ClusterEvent, *, now: float) -> Outcome:  # noqa: PLR0911 - one per event
        """Apply one cluster event: what it refused, and how many files it found already right."""
        match event:
            case events.PodUpserted(pod):
                return self._guard(self._upsert_pod, pod)
            case events.PodDeleted(pod):
                return self._guard(lambda obj: self._delete_pod(obj, now=now), pod)
            case events.PodsResynced(pods):
                return self._resync_pods(pods, now=now)
            case events.NamespaceUpserted(namespace):
                return self._guard(self._upsert_namespace, namespace)
            case events.NamespaceDeleted(namespace):
                return self._guard(self._delete_namespace, namespace)
            case events.NamespacesResynced(namespaces):
                return self._resync_namespaces(namespaces)
            case events.ContainerObserved(container):
                return Outcome(unchanged=self._observe(container))
            case _:
                assert_never(event)

    def expire(self, *, now: float) -> None:
        """End every retention that is over by `now`: its pod's file is no longer wanted."""
        for key in self._retention.ended(now=now):
            self._drop_pod(key)

    # -- outputs --------------------------------------------------------------------------

    def due(self, *, now: float) -> list[Action]:
        """Every action that should be applied at `now`: pending, and not waiting for a retry."""
        return [action for name, action in self._pending.items() if not self._retries.waiting(name, now=now)]

    def applied(self, action: Action) -> None:
        if isinstance(action, WriteFile):
            self._on_disk[action.name] = _digest(action.content)
        else:
            self._on_disk.pop(action.name, None)
        if self._pending.get(action.name) == action:
            del self._pending[action.name]
            self._retries.clear(action.name)

    def failed(self, action: Action, *, now: float) -> None:
        """The store could not apply the action: try it again after a growing delay."""
        if self._pending.get(action.name) == action:
            self._retries.failed(action.name, now=now)

    def next_wakeup(self) -> float | None:
        """The earliest time at which expire() or due() has work without a new event, or None."""
        times = [self._retention.next_end(), self._retries.next_try()]
        return min((time for time in times if time is not None), default=None)

    def runtime_interest(self) -> RuntimeInterest:
        """Which pods the container runtime should be asked about, as of the events handled."""
        if not self.container_runtime:
            return RuntimeInterest()
        if self._interest is None:
            live = {key: pod.uid for key, pod in self._pods.items() if self._live(key) and pod.uid}
            self._interest = RuntimeInterest(
                live=frozenset(live.values()),
                awaited=frozenset(uid for key, uid in live.items() if key in self._awaited),
            )
        return self._interest

    @property
    def retention(self) -> float:
        """How long a deleted pod's file is kept, in seconds."""
        return self._retention.period

    @property
    def pending_removals(self) -> int:
        """Pods whose file is kept only for its retention."""
        return len(self._retention)

    # -- pods -----------------------------------------------------------------------------

    def _upsert_pod(self, obj: events.ApiObject) -> int:
        key, uid = _pod_identity(obj)
        pod = self._pods.get(key)
        content = self._render(obj, pod.runtime if pod is not None and pod.uid == uid else {})
        unchanged = 0
        if pod is None:
            unchanged += self._add_pod(key, uid=uid)
        else:
            # A new uid under the same name (a StatefulSet pod recreated during its
            # predecessor's retention) takes the file over and cancels the removal.
            self._retention.cancel(key)
            if pod.uid != uid:
                pod.runtime = {}
            pod.uid = uid
        self._interest = None
        self._keep(key, obj)
        return unchanged + self._want(key.filename, content)

    def _delete_pod(self, obj: events.ApiObject, *, now: float) -> int:
        key, uid = _pod_identity(obj)
        pod = self._pods.get(key)
        if pod is not None and pod.uid not in (None, uid):
            return 0  # an older pod of the same name: its deletion must not touch the newer file
        content = self._render(obj, pod.runtime if pod is not None else {})
        unchanged = 0
        if pod is None:
            unchanged += self._add_pod(key, uid=uid)
        retain = pod is None or self._live(key) or pod.uid is None
        self._pods[key].uid = uid
        self._keep(key, obj)
        unchanged += self._want(key.filename, content)
        if retain:
            self._retain(key, now=now)
        return unchanged

    def _resync_pods(self, pods: tuple[events.ApiObject, ...], *, now: float) -> Outcome:
        listed: set[names.PodKey] = set()
        rejections: list[Rejection] = []
        unchanged = 0
        for obj in pods:
            outcome = self._guard(self._upsert_pod, obj)
            rejections.extend(outcome.rejections)
            unchanged += outcome.unchanged
            if outcome.identified:
                # A pod whose new state cannot be written is still there: it keeps its file.
                listed.add(_pod_identity(obj)[0])
        for key in [key for key in self._pods if self._live(key) and key not in listed]:
            # Deleted while we were not watching: it gets its full retention from now.
            self._retain(key, now=now)
        self.synced = True
        return Outcome(tuple(rejections), unchanged)

    def _add_pod(self, key: names.PodKey, *, uid: str | None) -> int:
        self._pods[key] = _Pod(uid=uid)
        self._pods_per_namespace[key.namespace] += 1
        if self._pods_per_namespace[key.namespace] == 1:
            return self._refresh_namespace(key.namespace)
        return 0

    def _live(self, key: names.PodKey) -> bool:
        """Known, and not kept only for its retention."""
        return key in self._pods and key not in self._retention

    def _retain(self, key: names.PodKey, *, now: float) -> None:
        if self._live(key):
            self._awaited.discard(key)
            self._interest = None
        self._retention.start(key, now=now)

    def _drop_pod(self, key: names.PodKey) -> None:
        del self._pods[key]
        self._unwant(key.filename)
        self._pods_per_namespace[key.namespace] -= 1
        if not self._pods_per_namespace[key.namespace]:
            del self._pods_per_namespace[key.namespace]
            self._refresh_namespace(key.namespace)

    # -- the container runtime ------------------------------------------------------------

    def _observe(self, fact: containers.RuntimeContainer) -> int:
        """Take a runtime fact about a live pod's container: 1 if its file is already right."""
        if not self.container_runtime:
            return 0
        try:
            key = names.pod_key(fact.namespace, fact.pod)
        except names.InvalidName:
            return 0
        pod = self._pods.get(key)
        # Never a pod the API has not shown live on this node, nor a fact about an older one.
        if pod is None or not self._live(key) or pod.uid != fact.pod_uid or pod.api is None:
            return 0
        known = pod.runtime.get(fact.name)
        if known is not None and known.restart_count > fact.restart_count:
            return 0
        content = self._render(pod.api, {**pod.runtime, fact.name: fact})
        pod.runtime[fact.name] = fact
        self._keep(key, pod.api)
        return self._want(key.filename, content)

    def _render(self, obj: events.ApiObject, facts: dict[str, containers.RuntimeContainer]) -> bytes:
        """The pod's document, with the runtime's facts where the API has none yet. Rendered before
        any state changes, so that an object it refuses (Unencodable) changes nothing."""
        if self.container_runtime:
            obj = containers.overlay(obj, facts)
        return self.documents.pod_document(obj)

    def _keep(self, key: names.PodKey, obj: events.ApiObject) -> None:
        """With the runtime source: the object, to render again when a fact arrives, and whether the
        pod awaits a container."""
        if not self.container_runtime:
            return
        pod = self._pods[key]
        pod.api = obj
        if self._live(key) and containers.awaits_containers(obj, pod.runtime):
            self._awaited.add(key)
        else:
            self._awaited.discard(key)
        self._interest = None

    # -- namespaces -----------------------------------------------------------------------

    def _upsert_namespace(self, obj: events.ApiObject) -> int:
        name = _namespace_name(obj)
        if not self.namespace_metadata:
            return 0
        self._namespace_docs[name] = self.documents.namespace_document(obj)
        self._deleted_namespaces.discard(name)
        return self._refresh_namespace(name)

    def _delete_namespace(self, obj: events.ApiObject) -> int:
        name = _namespace_name(obj)
        if not self.namespace_metadata:
            return 0
        self._namespace_docs[name] = self.documents.namespace_document(obj)
        self._deleted_namespaces.add(name)
        return self._refresh_namespace(name)

    def _resync_namespaces(self, namespaces: tuple[events.ApiObject, ...]) -> Outcome:
        listed: set[str] = set()
        rejections: list[Rejection] = []
        for obj in namespaces:
            outcome = self._guard(self._upsert_namespace, obj)
            rejections.extend(outcome.rejections)
            if outcome.identified:
                listed.add(_namespace_name(obj))
        self._deleted_namespaces.update(set(self._namespace_docs) - listed)
        # Every namespace file is refreshed here once more, so it is counted here, and once.
        unchanged = sum(self._refresh_namespace(name) for name in list(self._namespace_docs))
        return Outcome(tuple(rejections), unchanged)

    def _refresh_namespace(self, namespace: str) -> int:
        """A namespace file lives exactly as long as some pod file of its namespace."""
        filename = names.namespace_filename(namespace)
        if not self._pods_per_namespace[namespace]:
            self._unwant(filename)
            if namespace in self._deleted_namespaces:
                self._deleted_namespaces.discard(namespace)
                del self._namespace_docs[namespace]
        elif namespace in self._namespace_docs:
            return self._want(filename, self._namespace_docs[namespace])
        return 0

    # -- reconciliation -------------------------------------------------------------------

    def _want(self, filename: str, content: bytes) -> int:
        """Make the file hold `content`: 1 if the store holds it already, so nothing is written."""
        self._retries.clear(filename)
        if self._on_disk.get(filename) == _digest(content):
            self._pending.pop(filename, None)
            return 1
        self._pending[filename] = WriteFile(filename, content)
        return 0

    def _unwant(self, filename: str) -> None:
        if filename in self._on_disk:
            self._pending[filename] = RemoveFile(filename)
        else:
            self._pending.pop(filename, None)
        self._retries.clear(filename)

    @staticmethod
    def _guard(apply: Callable[[events.ApiObject], int], obj: events.ApiObject) -> Outcome:
        """Apply one object, which counts the files it found unchanged; refuse an invalid one alone."""
        try:
            unchanged = apply(obj)
        except names.InvalidName as error:
            return Outcome(rejections=(Rejection(str(error), "invalid_name"),))
        except InvalidObject as error:
            return Outcome(rejections=(Rejection(str(error), "invalid_object"),))
        except Unencodable as error:
            return Outcome(rejections=(Rejection(f"{_described(obj)}: {error}", "not_json"),))
        return Outcome(unchanged=unchanged)


def _described(obj: events.ApiObject) -> str:
    """`pod <namespace>/<name>` or `namespace <name>`, of an object whose identity is valid."""
    metadata = _metadata(obj)
    namespace = metadata.get("namespace")
    return f"pod {namespace}/{metadata.get('name')}" if namespace else f"namespace {metadata.get('name')}"
