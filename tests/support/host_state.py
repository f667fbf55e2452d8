"""What a node leaves on the machine: mounts, links, iptables rules, sysctls, cgroups, paths and
processes, read before the tier and compared after it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from node import cgroups, namespaces

SYSCTLS = (
    *namespaces.KUBELET_SYSCTLS,
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
)
# Where a kubelet or containerd writes when it is not told otherwise.
PATHS = (
    "/var/log/pods",
    "/var/log/containers",
    "/var/lib/kubelet",
    "/var/lib/containerd",
    "/var/lib/cni",
    "/run/containerd",
    "/run/netns",
    "/etc/cni/net.d",
    "/opt/cni",
    "/var/run/kubernetes",
)
IPTABLES_TABLES = ("filter", "nat", "mangle")


@dataclass(frozen=True)
class HostState:
    mounts: frozenset[tuple[str, str, str]]  # (mount point, type, source)
    links: frozenset[str]
    iptables: tuple[str, ...]
    sysctls: tuple[tuple[str, int], ...]
    cgroups: frozenset[str]  # the tier's own, and kubepods/ anywhere near the top
    paths: frozenset[str]  # those of PATHS that exist

    @classmethod
    def read(cls) -> HostState:
        present = [name for name in SYSCTLS if Path("/proc/sys", name).exists()]
        return cls(
            mounts=_mounts(),
            links=frozenset(path.name for path in Path("/sys/class/net").iterdir()),
            iptables=_iptables(),
            sysctls=tuple(sorted(namespaces.read_sysctls(present).items())),
            cgroups=_cgroups(),
            paths=frozenset(path for path in PATHS if Path(path).exists()),
        )

    def changes_since(self, before: HostState) -> list[str]:
        """One line for each thing that differs from `before`."""
        changes = []
        for name in ("mounts", "links", "cgroups", "paths"):
            now, then = getattr(self, name), getattr(before, name)
            changes += [f"{name}: added {item}" for item in sorted(now - then)]
            changes += [f"{name}: removed {item}" for item in sorted(then - now)]
        if self.iptables != before.iptables:
            added = sorted(set(self.iptables) - set(before.iptables))
            removed = sorted(set(before.iptables) - set(self.iptables))
            changes.append(f"iptables: added {added}, removed {removed}")
        then = dict(before.sysctls)
        changes += [
            f"sysctl {name}: {then.get(name)} -> {now}" for name, now in self.sysctls if then.get(name) != now
        ]
        return changes


def processes_in(namespace_ids: set[str]) -> list[str]:
    """`pid command` of every process in one of these namespaces (like `mnt:[4026532281]`)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ids = {str(link.readlink()) for link in (proc / "ns").iterdir()}
            if ids & namespace_ids:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{proc.name} {command}")
        except OSError:  # it exited meanwhile
            continue
    return found


def _mounts() -> frozenset[tuple[str, str, str]]:
    mounts = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fs_type, source = after.split()[:2]
        mounts.add((before.split()[4], fs_type, source))
    return frozenset(mounts)


def _iptables() -> tuple[str, ...]:
    if shutil.which("iptables") is None:
        return ()
    rules = []
    for table in IPTABLES_TABLES:
        shown = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True, check=False)
        rules += [f"{table}: {rule}" for rule in shown.stdout.splitlines()]
    return tuple(rules)


def _cgroups() -> frozenset[str]:
    """The tier's cgroup roots, and any kubepods/ two levels deep (where a kubelet puts it)."""
    kubepods = {str(path) for mount in cgroups.hierarchies() for path in mount.glob("kubepods*")}
    kubepods |= {str(path) for mount in cgroups.hierarchies() for path in mount.glob("*/kubepods*")}
    return frozenset({*map(str, cgroups.ours()), *kubepods})
