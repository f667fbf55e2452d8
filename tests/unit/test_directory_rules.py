"""The core's rules, one test each: read the names to learn what the directory holds and when."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.actions import RemoveFile, WriteFile
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.domain.retries import RetryBackoff
from pod_meta_exporter.service.reconcile import apply_due
from pod_meta_exporter.testing import FakeClock, MemoryStore
from support import podfactory

RETENTION = 60.0


class Node:
    """The core with a fake store and clock, settled after every step as the service does."""

    def __init__(self, *, namespace_metadata: bool = False, files: dict[str, bytes] | None = None) -> None:
        self.clock = FakeClock(1000.0)
        self.store = MemoryStore(files)
        self.core = MetaDirectory(retention=RETENTION, namespace_metadata=namespace_metadata)
        self.core.adopt(self.store.names(), now=self.clock.now())
        self.settle()

    def send(self, event: events.ClusterEvent) -> list[str]:
        outcome = self.core.handle(event, now=self.clock.now())
        self.settle()
        return [rejection.reason for rejection in outcome.rejections]

    def settle(self) -> None:
        apply_due(self.core, self.store, now=self.clock.now())

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    def doc(self, name: str) -> Any:
        return json.loads(self.store.files[name])


def test_a_pod_file_is_named_namespace_underscore_pod_dot_meta() -> None:
    node = Node()
    node.send(events.PodUpserted(podfactory.pod("web-0", "shop")))
    assert list(node.store.files) == ["shop_web-0.meta"]


def test_an_upserted_pod_gets_its_latest_document() -> None:
    node = Node()
    pod = podfactory.pod(labels={"v": "1"})
    node.send(events.PodUpserted(pod))
    pod["metadata"]["labels"] = {"v": "2"}
    node.send(events.PodUpserted(pod))
    assert node.doc("shop_web-0.meta")["metadata"]["labels"] == {"v": "2"}


def test_an_update_that_renders_the_same_bytes_writes_nothing() -> None:
    node = Node()
    pod = podfactory.pod()
    node.send(events.PodUpserted(pod))
    pod["status"]["phase"] = "Succeeded"  # not in the minimal document
    outcome = node.core.handle(events.PodUpserted(pod), now=node.clock.now())
    assert outcome.unchanged == 1
    assert node.core.due(now=node.clock.now()) == []
    assert node.store.writes == 1


def test_a_resync_counts_each_unchanged_file_once() -> None:
    node = Node(namespace_metadata=True)
    namespaces, pod = events.NamespacesResynced((podfactory.namespace(),)), podfactory.pod()
    node.send(namespaces)
    node.send(events.PodsResynced((pod,)))
    assert node.core.handle(namespaces, now=node.clock.now()).unchanged == 1
    assert node.core.handle(events.PodsResynced((pod,)), now=node.clock.now()).unchanged == 1


def test_a_deleted_pod_keeps_its_file_for_the_retention() -> None:
    node = Node()
    pod = podfactory.pod()
    node.send(events.PodUpserted(pod))
    node.send(events.PodDeleted(pod))
    node.advance(RETENTION - 0.001)
    assert "shop_web-0.meta" in node.store.files
    assert node.core.pending_removals == 1


def test_removal_is_driven_by_the_clock_alone_on_a_quiet_node() -> None:
    node = Node()
    pod = podfactory.pod()
    node.send(events.PodUpserted(pod))
    node.send(events.PodDeleted(pod))
    assert node.core.next_wakeup() == node.clock.now() + RETENTION
    node.advance(RETENTION)
    assert node.store.files == {}
    assert node.core.next_wakeup() is None


def test_a_pod_seen_only_in_its_deletion_still_gets_a_file_and_retention() -> None:
    node = Node()
    node.send(events.PodDeleted(podfactory.pod()))
    assert "shop_web-0.meta" in node.store.files
    node.advance(RETENTION)
    assert node.store.files == {}


def test_a_deletion_writes_the_pods_final_state() -> None:
    node = Node()
    pod = podfactory.pod(image="nginx:1")
    node.send(events.PodUpserted(pod))
    pod["status"]["containerStatuses"][0]["imageID"] = "final"
    node.send(events.PodDeleted(pod))
    assert node.doc("shop_web-0.meta")["status"]["containerStatuses"][0]["imageID"] == "final"


def test_recreation_with_a_new_uid_cancels_the_pending_removal() -> None:
    node = Node()
    old, new = podfactory.pod(), podfactory.pod()
    node.send(events.PodUpserted(old))
    node.send(events.PodDeleted(old))
    node.advance(RETENTION / 2)
    node.send(events.PodUpserted(new))
    assert node.core.next_wakeup() is None
    node.advance(RETENTION)
    assert node.doc("shop_web-0.meta")["metadata"]["uid"] == new["metadata"]["uid"]
    assert node.core.pending_removals == 0


def test_an_old_pods_late_deletion_never_removes_the_newer_pods_file() -> None:
    node = Node()
    old, new = podfactory.pod(), podfactory.pod()
    node.send(events.PodUpserted(old))
    node.send(events.PodUpserted(new))
    node.send(events.PodDeleted(old))
    node.advance(RETENTION * 2)
    assert node.doc("shop_web-0.meta")["metadata"]["uid"] == new["metadata"]["uid"]


def test_a_pod_missing_from_a_resync_gets_its_full_retention_from_then() -> None:
    node = Node()
    kept, gone = podfactory.pod("a-0"), podfactory.pod("b-0")
    node.send(events.PodsResynced((kept, gone)))
    node.advance(10)
    node.send(events.PodsResynced((kept,)))
    node.advance(RETENTION - 0.001)
    assert set(node.store.files) == {"shop_a-0.meta", "shop_b-0.meta"}
    node.advance(0.001)
    assert set(node.store.files) == {"shop_a-0.meta"}


def test_a_resync_does_not_extend_a_retention_already_running() -> None:
    node = Node()
    pod = podfactory.pod()
    node.send(events.PodUpserted(pod))
    node.send(events.PodDeleted(pod))
    node.advance(RETENTION / 2)
    node.send(events.PodsResynced(()))
    node.advance(RETENTION / 2)
    assert node.store.files == {}


def test_files_left_by_an_earlier_run_are_adopted_for_a_full_retention() -> None:
    node = Node(
        files={"shop_died-0.meta": b"{}", "shop_alive-0.meta": b"{}", "notes.txt": b"x", "X_y.meta": b""}
    )
    node.send(events.PodsResynced((podfactory.pod("alive-0"),)))
    node.advance(RETENTION - 0.001)
    assert "shop_died-0.meta" in node.store.files
    node.advance(0.001)
    assert set(node.store.files) == {"shop_alive-0.meta", "notes.txt", "X_y.meta"}  # not ours: left alone


def test_an_adopted_file_of_a_live_pod_is_rewritten_with_its_current_document() -> None:
    node = Node(files={"shop_web-0.meta": b"{}"})
    node.send(events.PodsResynced((podfactory.pod("web-0"),)))
    assert node.doc("shop_web-0.meta")["metadata"]["name"] == "web-0"


def test_a_namespace_file_is_kept_while_any_pod_file_of_its_namespace_is_present() -> None:
    node = Node(namespace_metadata=True)
    node.send(events.NamespacesResynced((podfactory.namespace("shop"), podfactory.namespace("idle"))))
    assert node.store.files == {}
    pod = podfactory.pod(namespace="shop")
    node.send(events.PodUpserted(pod))
    node.send(events.PodDeleted(pod))
    assert node.doc("shop.namespace_meta")["metadata"]["labels"] == {"team": "checkout"}
    node.advance(RETENTION)
    assert node.store.files == {}


def test_a_namespace_update_rewrites_its_file() -> None:
    node = Node(namespace_metadata=True)
    node.send(events.NamespaceUpserted(podfactory.namespace(labels={"v": "1"})))
    node.send(events.PodUpserted(podfactory.pod()))
    node.send(events.NamespaceUpserted(podfactory.namespace(labels={"v": "2"})))
    assert node.doc("shop.namespace_meta")["metadata"]["labels"] == {"v": "2"}


def test_a_deleted_namespace_keeps_its_file_while_its_pods_files_are_retained() -> None:
    node = Node(namespace_metadata=True)
    pod, namespace = podfactory.pod(), podfactory.namespace()
    node.send(events.NamespacesResynced((namespace,)))
    node.send(events.PodUpserted(pod))
    node.send(events.PodDeleted(pod))
    node.send(events.NamespaceDeleted(namespace))
    assert "shop.namespace_meta" in node.store.files
    node.advance(RETENTION)
    assert node.store.files == {}
    node.send(events.PodUpserted(podfactory.pod()))
    assert "shop.namespace_meta" not in node.store.files  # the namespace is gone, its doc forgotten


def test_a_namespace_missing_from_a_resync_is_forgotten_once_its_pods_are_gone() -> None:
    node = Node(namespace_metadata=True)
    node.send(events.NamespacesResynced((podfactory.namespace(),)))
    node.send(events.NamespacesResynced(()))
    node.send(events.PodUpserted(podfactory.pod()))
    assert "shop.namespace_meta" not in node.store.files


def test_namespace_events_write_nothing_when_namespace_metadata_is_off() -> None:
    node = Node(namespace_metadata=False)
    node.send(events.NamespacesResynced((podfactory.namespace(),)))
    node.send(events.NamespaceUpserted(podfactory.namespace()))
    node.send(events.PodUpserted(podfactory.pod()))
    node.send(events.NamespaceDeleted(podfactory.namespace()))
    assert list(node.store.files) == ["shop_web-0.meta"]


def test_an_adopted_namespace_file_goes_with_the_last_pod_file_of_its_namespace() -> None:
    node = Node(files={"shop.namespace_meta": b"{}", "shop_web-0.meta": b"{}", "idle.namespace_meta": b"{}"})
    assert "idle.namespace_meta" not in node.store.files  # no pod file keeps it
    node.advance(RETENTION)
    assert node.store.files == {}


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"namespace": "shop", "name": "../../etc/passwd", "uid": "u"}, "not a DNS-1123 subdomain"),
        ({"namespace": "a/b", "name": "web", "uid": "u"}, "not a DNS-1123 label"),
        ({"namespace": "..", "name": "web", "uid": "u"}, "not a DNS-1123 label"),
        ({"namespace": "shop", "name": "we\x00b", "uid": "u"}, "not a DNS-1123 subdomain"),
        ({"namespace": "shop", "name": "a" * 254, "uid": "u"}, "over the 253 allowed"),
        ({"namespace": "n" * 64, "name": "web", "uid": "u"}, "over the 63 allowed"),
        ({"namespace": "n" * 63, "name": "a" * 190, "uid": "u"}, "over the 255 allowed"),
        ({"namespace": "shop", "name": "web"}, "has no metadata.uid"),
        ({"name": "web", "uid": "u"}, "namespace is missing"),
        ({"namespace": "shop", "uid": "u"}, "pod name is missing"),
        (None, "has no metadata"),
    ],
)
def test_an_invalid_object_is_rejected_with_the_reason_and_writes_nothing(
    metadata: dict[str, str] | None, reason: str
) -> None:
    node = Node()
    bad: dict[str, Any] = {"kind": "Pod"} if metadata is None else {"metadata": metadata}
    assert any(reason in message for message in node.send(events.PodUpserted(bad)))
    assert any(reason in message for message in node.send(events.PodDeleted(bad)))
    assert node.store.files == {}


def test_processing_goes_on_after_an_invalid_object_in_a_resync() -> None:
    node = Node()
    reasons = node.send(events.PodsResynced(({"metadata": {}}, [], podfactory.pod())))  # type: ignore[arg-type]
    assert reasons == ["namespace is missing or not a string: None", "object is a list, not a JSON object"]
    assert list(node.store.files) == ["shop_web-0.meta"]


def test_an_invalid_namespace_object_is_rejected() -> None:
    node = Node(namespace_metadata=True)
    assert node.send(events.NamespaceUpserted({"metadata": {"name": "A_B"}})) == [
        "namespace 'A_B' is not a DNS-1123 label"
    ]
    assert node.send(events.NamespaceDeleted({})) == ["object has no metadata"]
    assert node.send(events.NamespacesResynced(({},))) == ["object has no metadata"]


def test_a_failed_write_is_retried_with_growing_delays_and_nothing_is_lost() -> None:
    node = Node()
    node.core = MetaDirectory(retention=RETENTION, retry=RetryBackoff(first=1.0, cap=4.0))
    node.store.fail["shop_web-0.meta"] = OSError(28, "No space left on device")
    node.send(events.PodUpserted(podfactory.pod()))
    retries = []
    for _ in range(4):
        wake = node.core.next_wakeup()
        assert wake is not None
        retries.append(wake - node.clock.now())
        node.advance(wake - node.clock.now())
    assert retries == [1.0, 2.0, 4.0, 4.0]
    del node.store.fail["shop_web-0.meta"]
    node.advance(4.0)
    assert "shop_web-0.meta" in node.store.files
    assert node.core.next_wakeup() is None


def test_a_failed_removal_is_retried() -> None:
    node = Node()
    pod = podfactory.pod()
    node.send(events.PodUpserted(pod))
    node.send(events.PodDeleted(pod))
    node.store.fail["shop_web-0.meta"] = PermissionError(13, "Permission denied")
    node.advance(RETENTION)
    assert "shop_web-0.meta" in node.store.files
    del node.store.fail["shop_web-0.meta"]
    node.advance(1.0)
    assert node.store.files == {}


def test_a_new_document_supersedes_a_failing_one_and_is_tried_at_once() -> None:
    node = Node()
    node.store.fail["shop_web-0.meta"] = OSError(30, "Read-only file system")
    node.send(events.PodUpserted(podfactory.pod(labels={"v": "1"})))
    del node.store.fail["shop_web-0.meta"]
    stale = WriteFile("shop_web-0.meta", b"{}")
    node.core.failed(stale, now=node.clock.now())  # a report about a superseded action changes nothing
    node.send(events.PodUpserted(podfactory.pod(labels={"v": "2"})))
    assert node.doc("shop_web-0.meta")["metadata"]["labels"] == {"v": "2"}


def test_a_pod_that_expires_before_its_first_write_succeeds_leaves_nothing_behind() -> None:
    node = Node()
    node.store.fail["shop_web-0.meta"] = OSError(28, "No space left on device")
    pod = podfactory.pod()
    node.send(events.PodUpserted(pod))
    node.send(events.PodDeleted(pod))
    node.advance(RETENTION)
    assert node.core.due(now=node.clock.now()) == []
    assert node.core.next_wakeup() is None


def test_replaying_an_event_writes_nothing() -> None:
    node = Node()
    pod = podfactory.pod()
    for event in (events.PodUpserted(pod), events.PodDeleted(pod)):
        node.send(event)
        writes = node.store.writes
        node.send(event)
        assert node.store.writes == writes


def test_the_full_profile_writes_the_object_as_served() -> None:
    node = Node()
    node.core = MetaDirectory(retention=RETENTION, profile=DocumentProfile.FULL)
    pod = podfactory.pod()
    node.send(events.PodUpserted(pod))
    assert node.doc("shop_web-0.meta") == pod


def test_actions_are_plain_values() -> None:
    core, pod = MetaDirectory(retention=RETENTION), podfactory.pod()
    core.handle(events.PodUpserted(pod), now=0.0)
    (action,) = core.due(now=0.0)
    assert isinstance(action, WriteFile)
    assert action.name == "shop_web-0.meta"
    core.applied(action)
    core.handle(events.PodDeleted(pod), now=0.0)
    assert core.due(now=RETENTION) == []
    core.expire(now=RETENTION)
    assert core.due(now=RETENTION) == [RemoveFile("shop_web-0.meta")]


def test_a_negative_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="retention must not be negative"):
        MetaDirectory(retention=-1)


def test_the_first_resync_marks_the_directory_synced() -> None:
    core = MetaDirectory(retention=RETENTION)
    assert not core.synced
    core.handle(events.PodsResynced(()), now=0.0)
    assert core.synced


def test_a_late_report_of_a_superseded_write_keeps_the_newer_write_pending() -> None:
    core = MetaDirectory(retention=RETENTION)
    core.handle(events.PodUpserted(podfactory.pod(pod_uid="u1", labels={"v": "1"})), now=0.0)
    (first,) = core.due(now=0.0)
    core.handle(events.PodUpserted(podfactory.pod(pod_uid="u1", labels={"v": "2"})), now=0.0)
    core.applied(first)
    (second,) = core.due(now=0.0)
    assert isinstance(second, WriteFile)
    assert json.loads(second.content)["metadata"]["labels"] == {"v": "2"}


def test_the_deletion_of_an_adopted_pod_gives_it_a_full_retention_from_the_deletion() -> None:
    node = Node(files={"shop_web-0.meta": b"{}"})
    node.advance(RETENTION / 2)
    node.send(events.PodDeleted(podfactory.pod()))
    node.advance(RETENTION - 0.001)
    assert node.doc("shop_web-0.meta")["metadata"]["name"] == "web-0"
    assert node.core.pending_removals == 1
    node.advance(0.001)
    assert node.store.files == {}
