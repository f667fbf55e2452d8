"""What a tier that runs containers leaves on the machine: mounts, links, iptables rules, sysctls,
cgroups, paths and processes, read before the tier and compared after it."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from support import cgroups, sysctls

# Where a kubelet, containerd or dockerd writes when it is not told otherwise.
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
    "/var/lib/docker",
    "/run/docker",
    "/run/docker.sock",
)
IPTABLES_TABLES = ("filter", "nat", "mangle")
# Programs a tier starts, by their command name (/proc/<pid>/comm, at most 15 characters).
PROGRAMS = frozenset(
    {
        "dockerd",
        "docker-proxy",
        "containerd",
        "containerd-shim",
        "containerd-shim-runc-v2",
        "runc",
        "kubelet",
        "kube-apiserver",
        "kube-controller",
        "kube-scheduler",
        "kube-proxy",
        "etcd",
        "coredns",
        "kind",
        "fluent-bit",
        "systemd",
    }
)


@dataclass(frozen=True)
class HostState:
    mounts: frozenset[tuple[str, str, str]]  # (mount point, type, source)
    links: frozenset[str]
    iptables: tuple[str, ...]
    sysctls: tuple[tuple[str, str], ...]
    cgroups: frozenset[str]  # the tiers' own, and kubepods/ anywhere near the top
    paths: frozenset[str]  # those of PATHS that exist
    programs: tuple[tuple[str, int], ...]  # how many processes run each of PROGRAMS

    @classmethod
    def read(cls) -> HostState:
        return cls(
            mounts=_mounts(),
            links=frozenset(path.name for path in Path("/sys/class/net").iterdir()),
            iptables=_iptables(),
            sysctls=tuple(sorted(sysctls.read_all().items())),
            cgroups=_cgroups(),
            paths=frozenset(path for path in PATHS if Path(path).exists()),
            programs=_programs(),
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
            f"sysctl {name}: {then[name]} -> {now}"
            for name, now in self.sysctls
            if name in then and then[name] != now
        ]
        counted = dict(before.programs)
        changes += [
            f"processes: {count} running {name}, {counted.get(name, 0)} before"
            for name, count in self.programs
            if count > counted.get(name, 0)
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


def _programs() -> tuple[tuple[str, int], ...]:
    names: Counter[str] = Counter()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                name = (proc / "comm").read_text().strip()
            except OSError:  # it exited meanwhile
                continue
            if name in PROGRAMS:
                names[name] += 1
    return tuple(sorted(names.items()))


def _mounts() -> frozenset[tuple[str, str, str]]:
    mounts = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fs_type, source = after.split()[:2]
        mounts.add((before.split()[4], fs_type, source))
    return frozenset(mounts)


def _iptables() -> tuple[str, ...]:
    """Rules of both backends: a kind node may pick either (kind's entrypoint, select_iptables)."""
    rules = []
    for command in ("iptables", "iptables-legacy", "iptables-nft", "ip6tables"):
        if shutil.which(command) is None:
            continue
        for table in IPTABLES_TABLES:
            shown = subprocess.run([command, "-t", table, "-S"], capture_output=True, text=True, check=False)
            rules += [f"{command} {table}: {rule}" for rule in shown.stdout.splitlines() if rule[:1] != "#"]
    return tuple(rules)


def _cgroups() -> frozenset[str]:
    """The tiers' cgroup roots, and any kubepods/ two levels deep (where a kubelet puts it)."""
    kubepods = {str(path) for mount in cgroups.hierarchies() for path in mount.glob("kubepods*")}
    kubepods |= {str(path) for mount in cgroups.hierarchies() for path in mount.glob("*/kubepods*")}
    return frozenset({*map(str, cgroups.ours()), *kubepods})
