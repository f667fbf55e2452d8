"""The container runtime as a second source: its facts fill the pod's file until the kubelet's status
arrives, and the API stays the authority."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pod_meta_exporter.domain import containers, events
from pod_meta_exporter.domain.containers import RuntimeContainer, RuntimeInterest
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.service.reconcile import apply_due
from pod_meta_exporter.testing import FakeClock, MemoryStore
from support import podfactory

ID = "containerd://" + "ef" * 32
IMAGE = "docker.io/local/busybox:1"
IMAGE_ID = "sha256:" + "12" * 32


def created(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as the API serves it between the container's creation and the kubelet's next sync."""
    pod["status"]["phase"] = "Pending"
    pod["status"]["containerStatuses"] = [
        {
            "name": "app",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": "local/busybox:1",
            "imageID": "",
            "started": False,
        }
    ]
    return pod


def fact(pod: dict[str, Any], *, name: str = "app", restarts: int = 0, cid: str = ID) -> RuntimeContainer:
    return RuntimeContainer(
        pod_uid=pod["metadata"]["uid"],
        namespace=pod["metadata"]["namespace"],
        pod=pod["metadata"]["name"],
        name=name,
        restart_count=restarts,
        container_id=cid,
        image=IMAGE,
        image_id=IMAGE_ID,
        state={"waiting": {}},
    )


class Node:
    def __init__(self, *, runtime: bool = True, profile: DocumentProfile = DocumentProfile.MINIMAL) -> None:
        self.clock = FakeClock(1000.0)
        self.store = MemoryStore()
        self.profile = profile
        self.core = MetaDirectory(retention=60.0, profile=profile, container_runtime=runtime)
        self.core.adopt([], now=self.clock.now())

    def send(self, event: events.ClusterEvent) -> None:
        if isinstance(event, events.PodUpserted | events.PodDeleted):
            event = type(event)(self.profile.pod_subset(event.pod))  # as the adapter cuts it
        self.core.handle(event, now=self.clock.now())
        apply_due(self.core, self.store, now=self.clock.now())

    def statuses(self, pod: dict[str, Any]) -> list[dict[str, Any]]:
        filename = f"{pod['metadata']['namespace']}_{pod['metadata']['name']}.meta"
        document = json.loads(self.store.files[filename])
        found: list[dict[str, Any]] = document["status"].get("containerStatuses", [])
        return found


def test_a_created_container_gets_the_runtimes_id_image_and_image_id_before_the_kubelet_reports_them() -> (
    None
):
    node, pod = Node(), created(podfactory.pod(image="local/busybox:1"))
    node.send(events.PodUpserted(pod))
    assert node.statuses(pod) == [{"name": "app", "image": "local/busybox:1", "imageID": ""}]

    node.send(events.ContainerObserved(fact(pod)))

    assert node.statuses(pod) == [{"name": "app", "image": IMAGE, "imageID": IMAGE_ID, "containerID": ID}]


def test_once_the_kubelet_reports_the_same_container_the_file_is_the_apis_byte_for_byte() -> None:
    node, pod = Node(), created(podfactory.pod(image="local/busybox:1"))
    node.send(events.PodUpserted(pod))
    node.send(events.ContainerObserved(fact(pod)))
    early = dict(node.store.files)
    reported = podfactory.pod(image="local/busybox:1", pod_uid=pod["metadata"]["uid"])
    entry = reported["status"]["containerStatuses"][0]
    entry.update(image=IMAGE, imageID=IMAGE_ID, containerID=ID)

    node.send(events.PodUpserted(reported))

    api_only = Node(runtime=False)
    api_only.send(events.PodUpserted(reported))
    assert node.store.files == api_only.store.files == early


def test_the_api_wins_once_it_reports_the_container_or_a_later_attempt() -> None:
    node, pod = Node(), podfactory.pod()  # the API already has a container at restartCount 0
    node.send(events.PodUpserted(pod))
    before = dict(node.store.files)

    node.send(events.ContainerObserved(fact(pod, restarts=0)))

    assert node.store.files == before


def test_a_restarted_containers_new_id_replaces_the_apis_older_attempt() -> None:
    node, pod = Node(), podfactory.pod()
    node.send(events.PodUpserted(pod))

    node.send(events.ContainerObserved(fact(pod, restarts=1)))

    (entry,) = node.statuses(pod)
    assert entry["containerID"] == ID
    node.send(events.ContainerObserved(fact(pod, restarts=0, cid="containerd://" + "00" * 32)))
    assert node.statuses(pod)[0]["containerID"] == ID, "an older attempt never replaces a newer one"


def test_the_runtime_never_adds_a_container_the_spec_lacks_nor_a_file_for_a_pod_the_api_has_not_shown() -> (
    None
):
    node, pod = Node(), created(podfactory.pod())
    stranger = podfactory.pod("elsewhere")

    node.send(events.ContainerObserved(fact(stranger)))
    node.send(events.PodUpserted(pod))
    node.send(events.ContainerObserved(fact(pod, name="sidecar")))
    node.send(events.ContainerObserved(fact({**pod, "metadata": {**pod["metadata"], "uid": "older"}})))

    assert set(node.store.files) == {"shop_web-0.meta"}
    assert "containerID" not in node.statuses(pod)[0]


def test_a_deleted_pods_file_keeps_the_runtimes_facts_but_takes_no_new_ones() -> None:
    node, pod = Node(), created(podfactory.pod())
    node.send(events.PodUpserted(pod))
    node.send(events.ContainerObserved(fact(pod)))

    node.send(events.PodDeleted(pod))
    node.send(events.ContainerObserved(fact(pod, restarts=1, cid="containerd://" + "77" * 32)))

    assert node.statuses(pod)[0]["containerID"] == ID


def test_an_init_containers_fact_goes_to_init_container_statuses() -> None:
    node, pod = Node(), created(podfactory.pod())
    pod["spec"]["initContainers"] = [{"name": "setup", "image": "local/busybox:1"}]
    node.send(events.PodUpserted(pod))

    node.send(events.ContainerObserved(fact(pod, name="setup")))

    document = json.loads(node.store.files["shop_web-0.meta"])
    assert document["status"]["initContainerStatuses"] == [
        {"name": "setup", "image": IMAGE, "imageID": IMAGE_ID, "containerID": ID}
    ]


def test_the_full_profile_also_gets_the_state_and_restart_count() -> None:
    node, pod = Node(profile=DocumentProfile.FULL), created(podfactory.pod())
    node.send(events.PodUpserted(pod))

    node.send(events.ContainerObserved(fact(pod)))

    (entry,) = node.statuses(pod)
    assert next(iter(entry)) == "name"
    assert entry["state"] == {"waiting": {}}
    assert entry["ready"] is False, "what the runtime does not know stays the API's"


def test_without_the_runtime_source_facts_are_ignored_and_no_object_is_kept() -> None:
    node, pod = Node(runtime=False), created(podfactory.pod())
    node.send(events.PodUpserted(pod))
    before = dict(node.store.files)

    node.send(events.ContainerObserved(fact(pod)))

    assert node.store.files == before
    assert node.core.runtime_interest() == RuntimeInterest()


def test_the_runtime_is_asked_about_live_pods_and_often_about_those_awaiting_a_container() -> None:
    node = Node()
    waiting, running, done = created(podfactory.pod("a")), podfactory.pod("b"), created(podfactory.pod("c"))
    done["status"]["phase"] = "Failed"  # never starts its container
    for pod in (waiting, running, done):
        node.send(events.PodUpserted(pod))
    uids = {pod["metadata"]["name"]: pod["metadata"]["uid"] for pod in (waiting, running, done)}

    assert node.core.runtime_interest() == RuntimeInterest(
        live=frozenset(uids.values()), awaited=frozenset({uids["a"]})
    )
    node.send(events.ContainerObserved(fact(waiting)))
    node.send(events.PodDeleted(running))
    assert node.core.runtime_interest() == RuntimeInterest(live=frozenset({uids["a"], uids["c"]}))


_names = st.sampled_from(["app", "side", "setup", "ghost"])
_facts = st.builds(
    lambda name, restarts, digit: (name, restarts, "containerd://" + digit * 64),
    _names,
    st.integers(0, 3),
    st.sampled_from("0123456789abcdef"),
)
_api_entries = st.lists(
    st.fixed_dictionaries(
        {"name": _names},
        optional={"restartCount": st.integers(0, 3), "containerID": st.sampled_from(["", ID])},
    ),
    max_size=4,
    unique_by=lambda entry: entry["name"],  # as the API holds them: one entry per container
)


@given(entries=_api_entries, observed=st.lists(_facts, max_size=6))
def test_a_fact_never_names_a_container_outside_the_spec_nor_overrides_an_api_entry_as_new(
    entries: list[dict[str, Any]], observed: list[tuple[str, int, str]]
) -> None:
    pod = podfactory.pod()
    pod["spec"]["containers"] = [{"name": "app"}, {"name": "side"}]
    pod["spec"]["initContainers"] = [{"name": "setup"}]
    pod["status"]["containerStatuses"] = entries
    facts: dict[str, RuntimeContainer] = {}
    for name, restarts, cid in observed:
        facts[name] = RuntimeContainer(
            pod_uid="u", namespace="shop", pod="web-0", name=name, restart_count=restarts,
            container_id=cid, image=IMAGE, image_id=IMAGE_ID, state={},
        )  # fmt: skip

    result = containers.overlay(pod, facts)

    spec = {"app", "side", "setup"}
    for key in ("containerStatuses", "initContainerStatuses"):
        before = pod["status"].get(key, [])
        for entry in result["status"].get(key, []):
            assert entry in before or entry["name"] in spec
            if not any(e["name"] == entry["name"] for e in before):
                assert next(iter(entry)) == "name"
            api = next((e for e in before if e["name"] == entry["name"]), None)
            fact_ = facts.get(entry["name"])
            if api is not None and api.get("containerID") and fact_ is not None:
                api_newer = api["containerID"] == fact_.container_id or api.get("restartCount", -1) >= (
                    fact_.restart_count
                )
                assert (entry is api) == api_newer or entry == api


def test_the_interest_is_computed_once_per_change_and_a_new_pod_under_the_same_name_drops_old_facts() -> None:
    node, pod = Node(), created(podfactory.pod())
    node.send(events.PodUpserted(pod))
    node.send(events.ContainerObserved(fact(pod)))
    first = node.core.runtime_interest()
    assert node.core.runtime_interest() is first

    successor = created(podfactory.pod())  # a StatefulSet pod recreated: same name, new uid
    node.send(events.PodUpserted(successor))

    assert "containerID" not in node.statuses(successor)[0]
    assert node.core.runtime_interest().awaited == {successor["metadata"]["uid"]}


def test_facts_with_a_name_no_pod_can_have_and_specs_of_odd_shapes_change_nothing() -> None:
    node, pod = Node(), created(podfactory.pod())
    node.send(events.PodUpserted(pod))
    before = dict(node.store.files)

    node.send(events.ContainerObserved(fact({**pod, "metadata": {**pod["metadata"], "name": "../escape"}})))

    assert node.store.files == before
    assert containers.spec_names({"spec": "odd"}) == {}
    assert containers.spec_names({"spec": {"containers": ["odd", {"name": 7}, {"name": "app"}]}}) == {
        "app": "containerStatuses"
    }
