"""The node under load: a burst of short-lived pods created at once while busy pods keep the node's
CPUs loaded, which delays the kubelet's status sync on purpose. Both exporters, and real Fluent Bit
behind each, in one run."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from node import tailing, workloads
from node.figures import Completeness, mismatches
from node.reader import READ_AFTER
from support.fluent_bit import DeployedSettings
from support.waiting import wait_for

if TYPE_CHECKING:
    from node.namespaces import NodeNamespaces
    from node.reader import FluentBitReader, Observed
    from node.services import NodeServices
    from support.control_plane import ControlPlane
    from support.exporter import Exporter
    from support.kubeapi import KubeApi

pytestmark = pytest.mark.node

BURST = 40
BUSY_PODS = 2  # one per core of the CI machine
BUSY = ["sh", "-c", "while :; do :; done"]
# Where bench/nodeload.py asks for the figures, as JSON.
FIGURES_VARIABLE = "NODE_LOAD_FIGURES"


def _fluent_bits(
    namespaces: NodeNamespaces, control_plane: ControlPlane, directories: dict[str, Exporter]
) -> dict[str, tailing.NodeFluentBit]:
    started = {
        name: tailing.NodeFluentBit(
            name=f"fluent-bit-{name}",
            namespaces=namespaces,
            meta_dir=exporter.directory,
            ca_file=control_plane.ca_file,
        )
        for name, exporter in directories.items()
    }
    for fluent_bit in started.values():
        fluent_bit.wait_started()
    return started


def _enriched(records: list[tailing.Record], final: dict[str, tuple[str, str]]) -> dict[str, int]:
    """How many records carried the pod's metadata, and also the container's hash and status image."""
    with_pod = [r for r in records if r.pod_id and r.labels]
    with_container = [
        r
        for r in with_pod
        if r.container_hash and final.get(f"containerd://{r.docker_id}", ("", ""))[0] == r.container_image
    ]
    return {"records": len(records), "with_pod": len(with_pod), "with_container": len(with_container)}


def _records_row(label: str, counts: dict[str, int]) -> str:
    total = counts["records"] or 1
    return (
        f"| {label} | {counts['records']} | {counts['with_pod']} ({counts['with_pod'] / total:.0%}) | "
        f"{counts['with_container']} ({counts['with_container'] / total:.0%}) |"
    )


@pytest.mark.timeout(600)
def test_under_load_the_runtime_source_completes_each_meta_by_its_link_with_the_kubelets_values(
    admin: KubeApi,
    namespace: str,
    node: NodeServices,
    namespaces: NodeNamespaces,
    control_plane: ControlPlane,
    exporter: Exporter,
    runtime_exporter: Exporter,
    reader: FluentBitReader,
    runtime_reader: FluentBitReader,
    summary: list[str],
) -> None:
    why_not = tailing.unavailable()
    fluent_bits = (
        {}
        if why_not
        else _fluent_bits(namespaces, control_plane, {"api": exporter, "runtime": runtime_exporter})
    )
    try:
        for number in range(BUSY_PODS):
            workloads.create_pod(admin, namespace, f"busy-{number}", command=BUSY)
        runtime_reader.links(namespace, BUSY_PODS, timeout=120)
        cpu_before = {e.name: e.cpu_seconds() for e in (exporter, runtime_exporter)}
        began = time.monotonic()
        for number in range(BURST):  # at once: as a Job's parallelism or a scale-up makes them
            workloads.create_pod(admin, namespace, f"burst-{number}")
        created = time.monotonic() - began

        total = BUSY_PODS + BURST
        observed = [o for o in runtime_reader.links(namespace, total, timeout=300) if _burst(o)]
        from_api = [o for o in reader.links(namespace, total, timeout=60) if _burst(o)]
        wait_for(
            lambda: all(
                phase == "Succeeded"
                for name, phase in workloads.phases(admin, namespace).items()
                if name.startswith("burst-")
            ),
            timeout=180,
            what="every burst pod Succeeded",
        )
        cpu = {e.name: e.cpu_seconds() - cpu_before[e.name] for e in (exporter, runtime_exporter)}
        wait_for(
            lambda: all(reader.complete_arrival(o.link) for o in from_api),
            timeout=120,
            what="the kubelet's status of every burst container",
        )
        final = workloads.final_statuses(admin, namespace)
        records = _records(fluent_bits, namespace)
    finally:
        for fluent_bit in fluent_bits.values():
            fluent_bit.stop()
        for number in range(BUSY_PODS):
            admin.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/busy-{number}?gracePeriodSeconds=0")

    # What the exporters control.
    assert len(observed) == len(from_api) == BURST
    missing = [o.link.file for o in observed + from_api if not o.readings[0].has_pod_metadata()]
    assert not missing, f"links that found no pod_id, labels and annotations: {missing}"
    wrong = {}
    for label, which in (("runtime", runtime_reader), ("api", reader)):
        events = [e for e in which.meta_events() if e.file.startswith(f"{namespace}_")]
        wrong[label] = mismatches(events, final)
        assert not wrong[label], f"{label}: {wrong[label]}"
    late = [o.link.file for o in observed if not o.readings[-1].is_complete(o.link)]
    assert not late, f"with the runtime source, .meta incomplete {READ_AFTER[-1]:g} s after the link: {late}"
    assert runtime_exporter.value("pod_meta_exporter_runtime_containers_total") >= BURST
    assert runtime_exporter.metrics().total("pod_meta_exporter_runtime_errors_total") == 0

    refresh = DeployedSettings.read().refresh_interval
    with_runtime = Completeness.of(runtime_reader, observed, refresh_interval=refresh)
    alone = Completeness.of(reader, from_api, refresh_interval=refresh)
    enriched = {name: _enriched(found, final) for name, found in records.items()}
    rss = {e.name: e.rss_kib() for e in (exporter, runtime_exporter)}
    if FIGURES_VARIABLE in os.environ:
        figures = {
            "burst": BURST,
            "busy_pods": BUSY_PODS,
            "created_seconds": created,
            "read_after": READ_AFTER,
            "refresh_interval": refresh,
            "api_alone": dataclasses.asdict(alone),
            "with_runtime": dataclasses.asdict(with_runtime),
            "p99_after_link": {
                "api_alone": alone.quantile(0.99),
                "with_runtime": with_runtime.quantile(0.99),
            },
            "mismatches": {label: len(found) for label, found in wrong.items()},
            "fluent_bit": enriched or why_not,
            "cpu_seconds": {"api_alone": cpu[exporter.name], "with_runtime": cpu[runtime_exporter.name]},
            "rss_kib": {"api_alone": rss[exporter.name], "with_runtime": rss[runtime_exporter.name]},
        }
        Path(os.environ[FIGURES_VARIABLE]).write_text(json.dumps(figures, indent=2))
    summary += [
        f"under load: {BURST} short-lived pods created in {created:.1f} s beside {BUSY_PODS} busy pods, "
        f"real Fluent Bit {'behind each exporter' if fluent_bits else 'left out: ' + str(why_not)}:",
        *Completeness.header(),
        alone.row("the API alone"),
        with_runtime.row("with the runtime source"),
        f"under load: exporter CPU during the burst: {cpu[exporter.name]:.2f} s from the API alone, "
        f"{cpu[runtime_exporter.name]:.2f} s with the runtime source; RSS "
        f"{rss[exporter.name] / 1024:.1f} MiB and {rss[runtime_exporter.name] / 1024:.1f} MiB",
    ]
    if enriched:
        summary += [
            "| Fluent Bit behind | records | with the pod's metadata | and the container's hash and "
            "status image |",
            "| --- | ---: | ---: | ---: |",
            *(_records_row(name, counts) for name, counts in enriched.items()),
        ]


def _burst(observed: Observed) -> bool:
    return observed.link.pod.startswith("burst-")


def _records(
    fluent_bits: dict[str, tailing.NodeFluentBit], namespace: str
) -> dict[str, list[tailing.Record]]:
    """Each Fluent Bit's records of the burst, once it has both lines of every container, or after
    30 s: then the figures show what is missing."""

    def of_burst(fluent_bit: tailing.NodeFluentBit) -> list[tailing.Record]:
        return [r for r in fluent_bit.records() if r.namespace == namespace and r.pod.startswith("burst-")]

    with contextlib.suppress(AssertionError):
        wait_for(
            lambda: all(len(of_burst(fb)) >= 2 * BURST for fb in fluent_bits.values()),
            timeout=30,
            what="Fluent Bit's records of the burst",
        )
    return {name: of_burst(fb) for name, fb in fluent_bits.items()}
