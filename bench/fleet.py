"""The fleet: N exporters, each on a node of its own and in in-cluster mode, against one real
kube-apiserver through a counting proxy, in four situations: a cold start of them all (a DaemonSet
rollout), an API server restart, 60 s of every watch answered with 410, and 60 s of every request
answered with 429 and Retry-After: 5."""

from __future__ import annotations

import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import fleetproxy
import workload
from support import identity
from support.control_plane import ControlPlane
from support.exporter import Exporter, InCluster, _status_kib
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from support.control_plane import Binaries
    from support.kubeapi import KubeApi

NODES = 100
PODS = 20_000
WINDOW = 60.0  # each refusal lasts this long
USER = identity.SERVICE_ACCOUNT_USER
_TICKS = 100  # USER_HZ


def node(index: int) -> str:
    return f"fleet-node-{index:03d}"


def client_go_requests_bound(seconds: float, *, floor: float = 0.0) -> int:
    """The most requests client-go's pacing allows one reflector in `seconds` if each fails: one at
    once, then one after each delay, the delays at least 0.8 s doubling to 30 s (jitter only adds),
    or `floor` (a Retry-After) where that is longer."""
    count, elapsed, step = 1, 0.0, 0.8
    while elapsed + max(step, floor) <= seconds:
        elapsed += max(step, floor)
        count += 1
        step = min(30.0, step * 2)
    return count


@dataclass
class Scenario:
    name: str
    seconds: float = 0.0
    asked: Counter[tuple[str, bool]] = field(default_factory=Counter)  # at the proxy: (kind, refused)
    served: Counter[str] = field(default_factory=Counter)  # in the API server's audit log, by verb
    apiserver_cpu: float = 0.0
    apiserver_peak_rss_kib: int = 0
    converge: list[float] = field(default_factory=list)  # seconds, per exporter
    per_exporter: list[float] = field(default_factory=list)  # requests each made in the scenario
    bound: int | None = None  # client-go's, for per_exporter

    def requests_per_node_per_minute(self, nodes: int) -> float:
        return sum(self.asked.values()) / nodes / (self.seconds / 60) if self.seconds else math.nan


@dataclass
class Result:
    nodes: int
    pods: int
    scenarios: list[Scenario]
    exporter_rss_kib: list[int]
    create_seconds: float


class Fleet:
    def __init__(self, cp: ControlPlane, proxy: fleetproxy.FleetProxy, *, nodes: int, workdir: Path) -> None:
        self.cp, self.proxy, self.nodes = cp, proxy, nodes
        directories = workdir / "meta"
        directories.mkdir()
        self.exporters: list[Exporter] = []
        self.tokens: dict[str, str] = {}  # Authorization header -> exporter
        for i in range(nodes):
            # A token each, as each node's pod has: the proxy tells the exporters apart by it.
            token = identity.service_account_token(cp.admin, seconds=7200)
            self.tokens[f"Bearer {token}"] = node(i)
            in_cluster = InCluster.prepare(
                workdir / "serviceaccount" / node(i),
                server=f"https://{proxy.upstream_host}:{proxy.port}",
                ca_file=cp.ca_file,
                token=token,
            )
            self.exporters.append(
                Exporter(
                    name=node(i),
                    node=node(i),
                    directory=directories / node(i),
                    log_path=workdir / f"{node(i)}.log",
                    in_cluster=in_cluster,
                    args=["--log-level=warning"],
                )
            )
        self.expected = {e.name: 0 for e in self.exporters}

    def apiserver_pid(self) -> int:
        process = self.cp._apiserver
        assert process is not None
        return process.pid

    def apiserver_cpu(self) -> float:
        fields = open(f"/proc/{self.apiserver_pid()}/stat").read().rsplit(")", 1)[1].split()  # noqa: PTH123, SIM115
        return (int(fields[11]) + int(fields[12])) / _TICKS

    def converged(self, exporter: Exporter) -> bool:
        return (
            exporter.directory.is_dir()
            and len(list(exporter.directory.glob("*.meta"))) >= self.expected[exporter.name]
        )

    def measure(
        self, scenario: Scenario, act: Callable[[], None], *, until: Callable[[], bool], timeout: float
    ) -> None:
        """Run `act`, then wait for `until`: what the fleet asked meanwhile, and what it cost."""
        before_asked, before_audit = self.proxy.counts(), len(self.cp.audited_requests())
        before_each = self.proxy.clients()
        cpu_before, began = self.apiserver_cpu(), time.monotonic()
        act()
        wait_for(until, timeout=timeout, interval=0.5, what=f"the fleet after {scenario.name}")
        scenario.seconds = time.monotonic() - began
        scenario.asked = self.proxy.since(before_asked)
        scenario.served = Counter(r.verb + (" (state streamed)" if "sendInitialEvents=true" in r.uri else "")
                                  for r in self.cp.audited_requests()[before_audit:])  # fmt: skip
        if scenario.name != "API server restart":
            scenario.apiserver_cpu = self.apiserver_cpu() - cpu_before
        else:
            scenario.apiserver_cpu = self.apiserver_cpu()  # the new process, from its start
        scenario.apiserver_peak_rss_kib = _status_kib(self.apiserver_pid(), "VmHWM")
        each = self.proxy.clients()
        each.subtract(before_each)
        scenario.per_exporter = sorted(float(each[token]) for token in self.tokens)

    def all_ready(self) -> bool:
        return all(e.ready() for e in self.exporters)


def create_pods(api: KubeApi, *, pods: int, nodes: int) -> float:
    """`pods` podgen pods spread over the nodes; seconds it took."""
    generated = workload.Pods(seed=11)

    def one(index: int) -> None:
        pod = generated.pod(index, prefix="fleet")
        pod["spec"] = {**pod["spec"], "nodeName": node(index % nodes)}
        workload.create_pod(api, pod)

    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(pods)))
    return time.monotonic() - began


def run(
    binaries: Binaries | None, *, workdir: Path, nodes: int = NODES, pods: int = PODS, window: float = WINDOW
) -> Result:
    scenarios = [
        Scenario("cold start"),
        Scenario("API server restart"),
        Scenario(f"{fleetproxy.GONE_WATCHES}, {window:g} s"),
        Scenario(f"{fleetproxy.TOO_MANY} (Retry-After: {fleetproxy.RETRY_AFTER}), {window:g} s"),
    ]
    with ControlPlane(binaries, workdir=workdir / "controlplane", audited_user=USER) as cp:
        api = cp.admin
        workload.prepare_cluster(api)
        identity.create_deploy_rbac(api)
        created = create_pods(api, pods=pods, nodes=nodes)
        pki = cp.pki_dir
        proxy = fleetproxy.FleetProxy(
            upstream=cp.server_url, cert=pki / "apiserver.crt", key=pki / "apiserver.key", ca=cp.ca_file
        )
        proxy.start()
        fleet = Fleet(cp, proxy, nodes=nodes, workdir=workdir)
        fleet.expected = {e.name: pods // nodes + (i < pods % nodes) for i, e in enumerate(fleet.exporters)}
        try:
            cold, restart, gone, too_many = scenarios
            started: dict[str, float] = {}

            def start_all() -> None:
                Exporter.start_all(fleet.exporters)
                started.update({e.name: e.started_at for e in fleet.exporters})

            converged: dict[str, float] = {}

            def all_converged() -> bool:
                for exporter in fleet.exporters:
                    if exporter.name not in converged and fleet.converged(exporter):
                        converged[exporter.name] = time.monotonic() - started[exporter.name]
                return len(converged) == nodes and fleet.all_ready()

            fleet.measure(cold, start_all, until=all_converged, timeout=900)
            cold.converge = sorted(converged.values())

            def restart_apiserver() -> None:
                cp.stop_apiserver()
                cp.start_apiserver()

            down = time.monotonic()
            fleet.measure(restart, restart_apiserver, until=fleet.all_ready, timeout=600)
            restart.converge = [time.monotonic() - down]

            refusals = [
                (gone, fleetproxy.GONE_WATCHES, 0.0),
                (too_many, fleetproxy.TOO_MANY, float(fleetproxy.RETRY_AFTER)),
            ]
            for scenario, mode, floor in refusals:

                def refuse(mode: str = mode) -> None:
                    proxy.cut(mode)
                    time.sleep(window)
                    proxy.mode = fleetproxy.PASS

                fleet.measure(scenario, refuse, until=fleet.all_ready, timeout=600)
                scenario.bound = client_go_requests_bound(scenario.seconds, floor=floor)
                scenario.converge = [scenario.seconds - window]
            rss = [e.rss_kib() for e in fleet.exporters]
        finally:
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda e: e.stop(), fleet.exporters))
            proxy.stop()
            api.close()
    return Result(nodes=nodes, pods=pods, scenarios=scenarios, exporter_rss_kib=rss, create_seconds=created)
