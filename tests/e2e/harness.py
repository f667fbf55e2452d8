"""The deployed stack seen through kubectl: short-lived pods, Fluent Bit's records, the shared directory."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from pod_meta_exporter.entrypoints.durations import parse_duration
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pytest_kind import KindCluster

NAMESPACE = "logging"
DAEMONSET = "fluent-bit"
SELECTOR = "app.kubernetes.io/name=fluent-bit"
SHARED_DIR = "/var/kube_meta"
FLUENT_BIT = "fluent-bit"  # reads the exporter's files
BASELINE = "fluent-bit-baseline"  # the same configuration without them
OFFLINE = "fluent-bit-offline"  # the files and no reachable API server
FLUENT_BITS = (FLUENT_BIT, BASELINE, OFFLINE)
EXPORTER = "pod-meta-exporter"
INSPECTOR = "inspector"
BUSYBOX = "busybox:1.36.1"

# Images are loaded before; Fluent Bit's startup probe allows 240 s for a cold cluster's DNS.
READY_TIMEOUT = 360.0
POD_TIMEOUT = 120.0
RECORD_TIMEOUT = 60.0
POLL = 0.5
# Below the fluent-bit container's liveness budget in the overlay (9 failed probes 10 s apart).
MAX_PAUSE = 60.0
# Each wait while Fluent Bit is paused, so that the pause stays under MAX_PAUSE.
PAUSED_WAIT = 25.0
# Attempts at an idempotent kubectl command (exec, delete) before its error is the test's.
ATTEMPTS = 3

FIGURES = pytest.StashKey[list[str]]()

Record = dict[str, Any]
T = TypeVar("T")


class Pending(str):
    """What a probe saw instead of what it awaits: falsy, so wait_for keeps polling and shows it."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False


class KubectlError(RuntimeError):
    """kubectl failed; the message carries its stderr."""


def poll(probe: Callable[[], T | Pending], *, timeout: float, interval: float, what: str) -> T:
    """wait_for, with a failed kubectl call inside the probe counted as "not yet".

    About a hundred kubectl calls are made per test, and an exec can fail with "error dialing
    backend" or a logs call with a dropped stream; the next poll usually succeeds. A call that
    keeps failing still fails the test at the timeout, showing its error."""

    # wait_for returns only a truthy value, and a Pending never is.
    found = wait_for(probe, timeout=timeout, interval=interval, what=what, retry_on=(KubectlError,))
    return cast("T", found)


@dataclass(frozen=True)
class ShortLivedPod:
    namespace: str
    name: str
    uid: str
    labels: dict[str, str]
    line: str

    @property
    def meta_file(self) -> str:
        return f"{self.namespace}_{self.name}.meta"


@dataclass(frozen=True)
class Stack:
    """The overlay deployed on a kind cluster, driven through pytest-kind's kubectl."""

    cluster: KindCluster
    exporter_image: str  # what the DaemonSet's exporter runs, built from this checkout
    busybox: str = BUSYBOX  # the test pods' image

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        try:
            output: str = self.cluster.kubectl(*args, input=stdin, stderr=subprocess.PIPE)
        except subprocess.CalledProcessError as error:
            msg = f"kubectl {' '.join(args)}: {error.stderr.strip()}"
            raise KubectlError(msg) from error
        return output

    def kubectl_idempotent(self, *args: str) -> str:
        """kubectl, run again after a failure: for commands that do the same when repeated."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self.kubectl(*args)
            except KubectlError:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(attempt)
        raise AssertionError  # unreachable: the last attempt returns or raises

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    # --- The DaemonSet ---

    def retention_seconds(self) -> float:
        """EXPORTER_RETENTION_PERIOD of the deployed DaemonSet (tests/e2e/overlay sets it)."""
        daemonset = self.get("daemonset", DAEMONSET, "-n", NAMESPACE)
        (exporter,) = (
            c for c in daemonset["spec"]["template"]["spec"]["containers"] if c["name"] == EXPORTER
        )
        (value,) = (v["value"] for v in exporter["env"] if v["name"] == "EXPORTER_RETENTION_PERIOD")
        return parse_duration(value)

    def wait_until_ready(self) -> None:
        poll(self._rollout_done, timeout=READY_TIMEOUT, interval=2.0, what=f"DaemonSet {DAEMONSET} ready")

    def _rollout_done(self) -> bool | Pending:
        daemonset = self.get("daemonset", DAEMONSET, "-n", NAMESPACE)
        status = daemonset.get("status", {})
        wanted = status.get("desiredNumberScheduled", 0)
        done = (
            wanted > 0
            and status.get("observedGeneration") == daemonset["metadata"]["generation"]
            and status.get("updatedNumberScheduled") == wanted
            and status.get("numberReady") == wanted
        )
        return done or Pending(f"status {json.dumps(status)}")

    def logging_pod(self, node: str) -> str:
        pods = self.get("pods", "-n", NAMESPACE, "-l", SELECTOR, "--field-selector", f"spec.nodeName={node}")
        (pod,) = (
            p["metadata"]["name"] for p in pods["items"] if p["metadata"].get("deletionTimestamp") is None
        )
        return str(pod)

    def inspect(self, node: str, *command: str) -> str:
        """Run a command in the inspector container; only commands that can be repeated."""
        return self.kubectl_idempotent(
            "exec", "-n", NAMESPACE, self.logging_pod(node), "-c", INSPECTOR, "--", *command
        )

    def shared_files(self, node: str) -> list[str]:
        return self.inspect(node, "ls", "-1A", SHARED_DIR).split()

    def exporter_pid(self, node: str) -> str:
        """The exporter's process, as the inspector sees it in the pod's shared PID namespace."""
        # The bracket keeps this shell's own command line from matching.
        match = 'grep -q "pod_meta_exporter[.]entrypoints" "$p/cmdline" 2>/dev/null'
        script = f'for p in /proc/[0-9]*; do if {match}; then echo "${{p#/proc/}}"; fi; done'
        (pid,) = self.inspect(node, "sh", "-c", script).split()
        return pid

    def single_node(self) -> str:
        (node,) = (item["metadata"]["name"] for item in self.get("nodes")["items"])
        return str(node)

    # --- Fluent Bit's output ---

    def records(self, node: str, container: str, *, since: datetime) -> list[Record]:
        text = self.kubectl(
            "logs", "-n", NAMESPACE, self.logging_pod(node), "-c", container, f"--since-time={rfc3339(since)}"
        )
        found = []
        for line in text.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    found.append(json.loads(line))
        return found

    def record_of(
        self, pod: ShortLivedPod, node: str, container: str, *, since: datetime
    ) -> Record | Pending:
        """The record of the pod's one line, as this Fluent Bit container printed it."""
        records = self.records(node, container, since=since)
        matches = [r for r in records if r.get("log", "").strip() == pod.line]
        return matches[0] if matches else Pending(f"{len(records)} records, none with {pod.line!r}")

    def records_by_line(self, nodes: set[str], container: str, *, since: datetime) -> dict[str, Record]:
        return {
            record.get("log", "").strip(): record
            for node in sorted(nodes)
            for record in self.records(node, container, since=since)
        }

    def wait_for_record(
        self,
        pod: ShortLivedPod,
        node: str,
        container: str,
        *,
        since: datetime,
        timeout: float = RECORD_TIMEOUT,
    ) -> Record:
        return poll(
            lambda: self.record_of(pod, node, container, since=since),
            timeout=timeout,
            interval=POLL,
            what=f"{container} to print the line of {pod.name}",
        )

    def record_if_printed(
        self, pod: ShortLivedPod, node: str, container: str, *, since: datetime, timeout: float
    ) -> Record | None:
        """The record, if this Fluent Bit prints it within `timeout`; None if it does not."""
        try:
            return self.wait_for_record(pod, node, container, since=since, timeout=timeout)
        except AssertionError:
            return None

    # --- Pausing Fluent Bit (shareProcessNamespace in the overlay) ---

    def fluent_bit_pids(self, node: str) -> list[str]:
        return self.inspect(node, "pidof", "fluent-bit").split()

    def files_open_in_fluent_bit(self, node: str) -> list[str]:
        """For each Fluent Bit process, the targets of its open descriptors, one string each."""
        return [self.inspect(node, "ls", "-l", f"/proc/{pid}/fd") for pid in self.fluent_bit_pids(node)]

    @contextlib.contextmanager
    def fluent_bit_paused(self, node: str) -> Iterator[None]:
        """SIGSTOP every Fluent Bit process; SIGCONT on exit, before their liveness probes give up."""
        pids = self.fluent_bit_pids(node)
        assert len(pids) == len(FLUENT_BITS), f"expected one process for each of {FLUENT_BITS}, found {pids}"
        self.inspect(node, "kill", "-STOP", *pids)
        paused_at = time.monotonic()
        try:
            yield
        finally:
            self.inspect(node, "kill", "-CONT", *pids)
        paused = time.monotonic() - paused_at
        assert paused < MAX_PAUSE, f"Fluent Bit was paused {paused:.0f}s; the kubelet may have restarted it"

    # --- Test pods ---

    def start_pod(self, namespace: str, *, case: str, script: str | None = None) -> ShortLivedPod:
        """A bare busybox pod with unique labels that prints one unique line (after `script`, if any)."""
        nonce = secrets.token_hex(4)
        name = f"{case}-{nonce}"
        line = f"pod-meta-exporter e2e line {nonce}"
        labels = {"app.kubernetes.io/name": "e2e-echo", "e2e/case": case, "e2e/nonce": nonce}
        command = ["echo", line] if script is None else ["sh", "-c", f"{script}; echo '{line}'"]
        manifest = self._pod_manifest(namespace, name, labels, command)
        created = json.loads(self.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(manifest)))
        return ShortLivedPod(namespace, name, created["metadata"]["uid"], labels, line)

    def sleeping_pod_manifest(self, namespace: str, *, case: str, index: int) -> dict[str, Any]:
        """A busybox pod that sleeps until deleted: one of many on a node."""
        labels = {"app.kubernetes.io/name": "e2e-sleeper", "e2e/case": case}
        return self._pod_manifest(namespace, f"{case}-{index}", labels, ["sleep", "3600"])

    def _pod_manifest(
        self, namespace: str, name: str, labels: dict[str, str], command: list[str]
    ) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": self.busybox, "command": command}],
            },
        }

    def pod(self, pod: ShortLivedPod) -> Any:
        found = self.kubectl("get", "pod", pod.name, "-n", pod.namespace, "--ignore-not-found", "-o", "json")
        return json.loads(found) if found.strip() else None

    def wait_for_phase(self, pod: ShortLivedPod, *phases: str, timeout: float = POD_TIMEOUT) -> Any:
        def in_phase() -> Any:
            seen = self.pod(pod)
            phase = (seen or {}).get("status", {}).get("phase")
            return seen if phase in phases else Pending(f"phase {phase}")

        found = poll(in_phase, timeout=timeout, interval=0.2, what=f"{pod.name} in {phases}")
        assert found["status"]["phase"] != "Failed", f"{pod.name} failed: {found['status']}"
        return found

    def exec_in(self, pod: ShortLivedPod, *command: str) -> str:
        """Run a command in the pod; only commands that can be repeated."""
        return self.kubectl_idempotent("exec", "-n", pod.namespace, pod.name, "--", *command)

    def delete_each_on_exit(self, pods: list[ShortLivedPod]) -> dict[str, str]:
        """Delete each pod as soon as it has exited, as a Job's TTL controller would; their nodes by name."""
        namespace = pods[0].namespace
        wanted = {pod.name for pod in pods}
        nodes: dict[str, str] = {}  # exited, with the node each ran on
        deleted: set[str] = set()

        def all_deleted() -> bool | Pending:
            for item in self.get("pods", "-n", namespace)["items"]:
                name = item["metadata"]["name"]
                if name in wanted and item["status"].get("phase") in {"Succeeded", "Failed"}:
                    nodes.setdefault(name, item["spec"]["nodeName"])
            # Noted before deleting: a delete whose reply was lost is sent again, harmlessly.
            for name in sorted(nodes.keys() - deleted):
                self.kubectl("delete", "pod", name, "-n", namespace, "--wait=false", "--ignore-not-found")
                deleted.add(name)
            return len(deleted) == len(wanted) or Pending(
                f"{len(deleted)} of {len(wanted)} exited and deleted"
            )

        poll(all_deleted, timeout=POD_TIMEOUT, interval=0.2, what="every pod to exit and be deleted")
        return nodes

    def delete(self, pod: ShortLivedPod) -> None:
        self.kubectl_idempotent(
            "delete", "pod", pod.name, "-n", pod.namespace, "--wait=false", "--ignore-not-found"
        )

    def wait_until_gone(self, pod: ShortLivedPod, *, timeout: float = POD_TIMEOUT) -> None:
        poll(lambda: self.pod(pod) is None, timeout=timeout, interval=0.2, what=f"{pod.name} gone")

    # --- What a failure shows ---

    def diagnostics(self, *, tail: int | None = 200) -> list[tuple[str, str]]:
        """What a failure shows: pods, events, and per logging pod each container's log (its last
        `tail` lines; all with None) and the shared directory."""
        sections = [
            ("pods", self._try("get", "pods", "-A", "-o", "wide")),
            ("events", self._try("get", "events", "-A", "--sort-by=.lastTimestamp")),
        ]
        try:
            pods = self.get("pods", "-n", NAMESPACE, "-l", SELECTOR)["items"]
        except KubectlError as error:
            return [*sections, ("logging pods", str(error))]
        last = "all lines" if tail is None else f"last {tail} lines"
        for pod in (p["metadata"]["name"] for p in pods):
            for container in (*FLUENT_BITS, EXPORTER):
                logs = self._try("logs", "-n", NAMESPACE, pod, "-c", container, f"--tail={tail or -1}")
                sections.append((f"{pod} {container}: {last}", logs))
            listing = self._try("exec", "-n", NAMESPACE, pod, "-c", INSPECTOR, "--", "ls", "-la", SHARED_DIR)
            sections.append((f"{pod} {SHARED_DIR}", listing))
        return sections

    def _try(self, *args: str) -> str:
        try:
            return self.kubectl(*args)
        except KubectlError as error:
            return str(error)


def now() -> datetime:
    # kubectl --since-time compares with the node's clock: start a little early.
    return datetime.now(UTC) - timedelta(seconds=5)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
