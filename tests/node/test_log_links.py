"""Real containers on a real node: each log link that the kubelet makes finds its pod's `.meta`.

Two exporters run side by side: one as deploy/ runs it, the API its only source, and one with the
node's containerd as a second source. The tests assert what the exporters control: pod metadata at
a link's first appearance, container facts equal to the kubelet's final status, and with the
runtime source, complete within a bound set by its poll and the runtime. How long the kubelet takes
to report a container to the API is the kubelet's, and is reported as figures only."""

from __future__ import annotations

import functools
import statistics
import time
from typing import TYPE_CHECKING

import pytest

from node import images, workloads
from node.figures import Completeness, mismatches
from pod_meta_exporter.entrypoints.durations import parse_duration
from support.fluent_bit import DeployedSettings
from support.waiting import wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from node.reader import FluentBitReader, MetaEvent, Observed
    from node.services import NodeServices
    from support.exporter import Exporter
    from support.kubeapi import KubeApi

pytestmark = pytest.mark.node

BARE_PODS = 30
JOBS = 10
CREATIONS_PER_SECOND = 2.0


def _removals(reader: FluentBitReader, meta_file: str) -> list[MetaEvent]:
    return [event for event in reader.meta_events(meta_file) if event.removed]


def _gone(path: Path) -> bool:
    """Whether `path`, a link or a directory, is gone."""
    return not (path.is_symlink() or path.exists())


def _milliseconds(values: list[float]) -> str:
    ms = sorted(value * 1000 for value in values)
    return f"min {ms[0]:.0f} ms, median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms (n={len(ms)})"


def _every_meta_gains_its_container(reader: FluentBitReader, observed: list[Observed]) -> None:
    """Eventually, however late the kubelet's status sync: each link's `.meta` carries its container's
    ID and image (a bound for liveness, not a timing the test claims)."""
    wait_for(
        lambda: all(reader.complete_arrival(o.link) is not None for o in observed),
        timeout=90,
        what="every .meta to carry its container's ID, image and image ID",
        seen=lambda: [o.link.file for o in observed if reader.complete_arrival(o.link) is None],
    )


@pytest.mark.timeout(300)
def test_short_lived_pods_find_their_pods_metadata_at_once_and_with_the_runtime_their_container_in_1s(
    admin: KubeApi,
    namespace: str,
    reader: FluentBitReader,
    runtime_reader: FluentBitReader,
    exporter: Exporter,
    summary: list[str],
) -> None:
    began = time.monotonic()
    for number in range(BARE_PODS + JOBS):
        time.sleep(max(0.0, began + number / CREATIONS_PER_SECOND - time.monotonic()))
        if number % 4 == 3:
            workloads.create_job(admin, namespace, f"job-{number}")
        else:
            workloads.create_pod(admin, namespace, f"pod-{number}")

    observed = reader.links(namespace, BARE_PODS + JOBS, timeout=120)
    with_runtime = runtime_reader.links(namespace, BARE_PODS + JOBS, timeout=30)

    assert len({o.link.pod for o in observed}) == BARE_PODS + JOBS
    wait_for(
        lambda: set(workloads.phases(admin, namespace).values()) == {"Succeeded"},
        timeout=60,
        what="every pod Succeeded",
        seen=lambda: workloads.phases(admin, namespace),
    )
    missing_at_once = [o.link.file for o in observed + with_runtime if not o.readings[0].has_pod_metadata()]
    assert not missing_at_once, f"links that found no pod_id, labels and annotations: {missing_at_once}"
    incomplete_after_1s = [o.link.file for o in with_runtime if not o.readings[-1].is_complete(o.link)]
    assert not incomplete_after_1s, (
        f"with the runtime source, links without their container's facts after 1 s: {incomplete_after_1s}"
    )
    _every_meta_gains_its_container(reader, observed)
    final = workloads.final_statuses(admin, namespace)
    for which in (reader, runtime_reader):
        writes = [e for e in which.meta_events() if e.file.startswith(f"{namespace}_")]
        assert not mismatches(writes, final), "a value that differs from the kubelet's final status"

    refresh = DeployedSettings.read().refresh_interval
    events, quantiles = exporter.event_to_file_latency()
    summary += [
        f"short-lived: {len(observed)} containers ({BARE_PODS} pods, {JOBS} Jobs), {CREATIONS_PER_SECOND:g} "
        "created a second; when each .meta was complete (the kubelet's timing without the runtime source):",
        *Completeness.header(),
        Completeness.of(reader, observed, refresh_interval=refresh).row("the API alone"),
        Completeness.of(runtime_reader, with_runtime, refresh_interval=refresh).row("with the runtime"),
        f"short-lived: the exporter's own event-to-file p50 {quantiles[0.5] * 1000:.1f} ms, "
        f"p99 {quantiles[0.99] * 1000:.1f} ms ({events} events)",
    ]


@pytest.mark.timeout(180)
def test_with_the_runtime_each_restart_of_a_crash_looping_container_finds_its_new_id_within_2s(
    admin: KubeApi,
    namespace: str,
    reader: FluentBitReader,
    runtime_reader: FluentBitReader,
    summary: list[str],
) -> None:
    workloads.create_pod(
        admin, namespace, "crasher", command=["sh", "-c", "echo crashing; exit 1"], restart_policy="Always"
    )

    # The kubelet's back-off: the second restart comes about 30 s after the first run.
    observed = runtime_reader.links(namespace, 3, timeout=120)

    assert len({o.link.container_id for o in observed}) == 3
    # The runtime is asked about running pods once a second: the bound is the exporter's.
    arrivals = [runtime_reader.id_arrival(o.link) for o in observed]
    assert all(a is not None and a <= 2.0 for a in arrivals), arrivals
    from_api = reader.links(namespace, 3, timeout=30)
    _every_meta_gains_its_container(reader, from_api)
    api_arrivals = [a for a in (reader.id_arrival(o.link) for o in from_api) if a is not None]
    summary.append(
        "crash loop: each new container's ID in the .meta, from its link: with the runtime source "
        + _milliseconds([a for a in arrivals if a is not None])
        + "; from the API alone "
        + _milliseconds(api_arrivals)
    )


@pytest.mark.timeout(120)
def test_an_init_containers_log_finds_its_entry_in_init_container_statuses(
    admin: KubeApi,
    namespace: str,
    reader: FluentBitReader,
    runtime_reader: FluentBitReader,
    exporter: Exporter,
    node: NodeServices,
) -> None:
    workloads.create_pod(admin, namespace, "with-init", init_command=["sh", "-c", "echo preparing"])

    observed = runtime_reader.links(namespace, 2, timeout=60)

    (setup,) = (o for o in observed if o.link.container == "setup")
    assert setup.readings[-1].is_complete(setup.link)
    # A locally imported image has no repository digest: the kubelet reports its config digest.
    enrichment = setup.readings[-1].enrichment
    assert enrichment is not None
    assert enrichment.container_hash == node.images[images.BUSYBOX].config_digest
    _every_meta_gains_its_container(reader, reader.links(namespace, 2, timeout=30))
    document = exporter.wait_document(setup.link.meta_file)
    (entry,) = document["status"]["initContainerStatuses"]
    assert entry["name"] == "setup"
    assert entry["containerID"].endswith(setup.link.container_id)


@pytest.mark.timeout(240)
def test_deleted_pods_keep_their_files_for_the_retention_and_no_longer(
    admin: KubeApi, namespace: str, reader: FluentBitReader, exporter: Exporter, summary: list[str]
) -> None:
    assert exporter.retention is not None
    retention = parse_duration(exporter.retention)
    commands = {"running": ["sh", "-c", "echo up; exec sleep 3600"], "finished": workloads.PRINT_TWO_LINES}
    uids = {
        name: workloads.create_pod(admin, namespace, name, command=command)["metadata"]["uid"]
        for name, command in commands.items()
    }
    observed = {o.link.pod: o for o in reader.links(namespace, len(commands), timeout=60)}
    assert all(o.readings[0].has_pod_metadata() for o in observed.values())
    wait_for(lambda: workloads.phases(admin, namespace)["finished"] == "Succeeded", what="finished Succeeded")

    for name in commands:  # as a user deletes a pod: graceful, here 1 s
        admin.expect("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=1")
    gone: dict[str, float] = {}

    def all_gone() -> bool:
        for name in set(commands) - set(gone):
            if admin.call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}").status == 404:
                gone[name] = time.monotonic()
        return len(gone) == len(commands)

    wait_for(all_gone, timeout=30, what="the pods gone from the API", seen=lambda: gone)
    for name, o in observed.items():
        meta_file = o.link.meta_file
        removals = functools.partial(_removals, reader, meta_file)
        removal = wait_for(removals, timeout=retention + 10, what=f"{meta_file} removed")[0]
        kept = removal.at - gone[name]
        assert retention - 0.5 <= kept <= retention + 5, (name, kept)

    # How long the kubelet keeps the logs, for the README's advice on the retention.
    for name, o in observed.items():
        link = reader.log_dir / o.link.file
        pod_logs = reader.log_dir.parent / "pods" / f"{namespace}_{name}_{uids[name]}"
        wait_for(functools.partial(_gone, link), timeout=150, interval=0.1)
        link_gone = time.monotonic()
        wait_for(functools.partial(_gone, pod_logs), timeout=150, interval=0.1)
        logs_gone = time.monotonic()
        summary.append(
            f"deletion ({name} pod): .meta kept {retention:g} s as set; after the pod left the API, the "
            f"kubelet removed its log link after {link_gone - gone[name]:.0f} s and its log directory "
            f"after {logs_gone - gone[name]:.0f} s"
        )


@pytest.mark.timeout(240)
def test_no_log_finds_a_written_file_missing_while_the_exporter_restarts(
    admin: KubeApi, namespace: str, reader: FluentBitReader, exporter: Exporter, summary: list[str]
) -> None:
    pods = 20
    command = ["sh", "-c", "echo first; sleep 2; echo last"]
    began = time.monotonic()
    stopped = restarted = 0.0
    for number in range(pods):
        time.sleep(max(0.0, began + number / CREATIONS_PER_SECOND - time.monotonic()))
        workloads.create_pod(admin, namespace, f"pod-{number}", command=command)
        if number == 6:
            # Down once this pod's file is written, before its container starts (~0.3 s later).
            exporter.wait_document(f"{namespace}_pod-{number}.meta", timeout=5)
            stopped = time.monotonic()
            exporter.stop()
        if number == 10:
            exporter.start()
            exporter.wait_ready()
            restarted = time.monotonic()

    observed = reader.links(namespace, pods, timeout=120)

    def written_before(file: str, moment: float) -> bool:
        return any(not e.removed and e.at < moment for e in reader.meta_events(file))

    lost = [
        (o.link.file, r.after)
        for o in observed
        for r in o.readings
        if r.enrichment is None and written_before(o.link.meta_file, r.at)
    ]
    assert not lost, f"readings that found no .meta after the exporter had written it: {lost}"
    assert not [e for e in reader.meta_events() if e.removed and e.file.startswith(f"{namespace}_")]
    during = [o for o in observed if stopped <= o.link.appeared <= restarted]
    tested = [o for o in during if written_before(o.link.meta_file, o.link.appeared)]
    assert tested, "no log link appeared during the restart for a pod whose file had been written"
    wait_for(
        lambda: all(reader.id_arrival(o.link) is not None for o in observed),
        timeout=30,
        what="every .meta to carry its container's ID after the restart",
    )
    summary.append(
        f"restart: the exporter was down {restarted - stopped:.1f} s; {len(during)} log links appeared "
        f"meanwhile, {len(tested)} of them for pods whose file had been written: none found it missing"
    )
