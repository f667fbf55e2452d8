"""The node changes only its own namespaces, and the tier's leak check would see it if not."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.host_state import HostState
from support.sysctls import KUBELET_SYSCTLS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from node.namespaces import NodeNamespaces
    from node.services import NodeServices

pytestmark = pytest.mark.node


def _host_mount_points() -> set[str]:
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}


@pytest.mark.timeout(60)
def test_what_the_kubelet_changes_stays_inside_the_nodes_namespaces(
    node: NodeServices, namespaces: NodeNamespaces, clean_host: HostState
) -> None:
    inside_rules = namespaces.run(["iptables", "-S"]) + namespaces.run(["iptables", "-t", "mangle", "-S"])
    assert "KUBE-FIREWALL" in inside_rules or "KUBE-KUBELET-CANARY" in inside_rules, inside_rules
    assert not [rule for rule in HostState.read().iptables if "KUBE-" in rule]

    inside_sysctl = int(namespaces.run(["cat", "/proc/sys/vm/overcommit_memory"]))
    assert inside_sysctl == KUBELET_SYSCTLS["vm/overcommit_memory"]
    assert dict(HostState.read().sysctls) == dict(clean_host.sysctls)

    inside_mounts = namespaces.run(["cat", "/proc/self/mountinfo"])
    assert f" {node.workdir / 'kubelet'} " in inside_mounts  # the kubelet's bind mount of its root
    assert not [point for point in _host_mount_points() if point.startswith(str(node.workdir))]
    assert node.containers_log_dir.is_dir()
    assert HostState.read().paths == clean_host.paths


@contextlib.contextmanager
def _undone(*commands: tuple[list[str], list[str]]) -> Iterator[None]:
    """Run each (do, undo) pair's `do`; every `undo` runs afterwards, whatever happens."""
    done = []
    try:
        for do, undo in commands:
            subprocess.run(do, check=True, capture_output=True)
            done.append(undo)
        yield
    finally:
        for undo in reversed(done):
            subprocess.run(undo, check=False, capture_output=True)


@pytest.mark.timeout(60)
def test_the_leak_check_reports_a_mount_a_link_and_an_iptables_chain_left_behind(tmp_path: Path) -> None:
    before = HostState.read()
    link, chain = f"pmeleak{secrets.token_hex(3)}", f"PME-LEAK-{secrets.token_hex(3).upper()}"
    with _undone(
        (["mount", "-t", "tmpfs", "leak-check", str(tmp_path)], ["umount", str(tmp_path)]),
        (
            ["ip", "link", "add", link, "type", "veth", "peer", "name", f"{link}p"],
            ["ip", "link", "delete", link],
        ),
        (["iptables", "-N", chain], ["iptables", "-X", chain]),
    ):
        changes = HostState.read().changes_since(before)
        assert any(str(tmp_path) in change and change.startswith("mounts: added") for change in changes)
        assert f"links: added {link}" in changes
        assert any(change.startswith("iptables:") and chain in change for change in changes)
    assert HostState.read().changes_since(before) == []


def test_the_leak_check_reports_a_changed_sysctl() -> None:
    before = HostState.read()
    values = dict(before.sysctls)
    was = values["vm/overcommit_memory"]
    values["vm/overcommit_memory"] = now = str(int(was) + 1)
    after = dataclasses.replace(before, sysctls=tuple(sorted(values.items())))
    assert after.changes_since(before) == [f"sysctl vm/overcommit_memory: {was} -> {now}"]


def test_the_leak_check_reports_a_program_left_running() -> None:
    before = HostState.read()
    counts = dict(before.programs)
    counts["dockerd"] = counts.get("dockerd", 0) + 1
    after = dataclasses.replace(before, programs=tuple(sorted(counts.items())))
    assert after.changes_since(before) == [
        f"processes: {counts['dockerd']} running dockerd, {counts['dockerd'] - 1} before"
    ]
