"""Cgroup roots of the tiers that run containers: one directory in every hierarchy, named for the
tier and the run, below which the node tier's kubelet, or the e2e tier's dockerd, puts its own.

Cgroups are the one thing that namespaces do not keep private, so each root is removed, leaves
first, once its processes are gone; a run that was killed leaves its (empty) roots behind, and the
next one removes them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from support.waiting import wait_for

NODE_PREFIX = "pod-meta-exporter-node-"
E2E_PREFIX = "pod-meta-exporter-e2e-"
PREFIXES = (NODE_PREFIX, E2E_PREFIX)


def hierarchies() -> list[Path]:
    """Every cgroup hierarchy this machine mounts (v1 controllers, and v2)."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        if after.split()[0] in {"cgroup", "cgroup2"}:
            mounts.append(Path(before.split()[4]))
    return mounts


def remove_tree(root: Path) -> bool:
    """rmdir the tree, leaves first; False while a cgroup still has processes (EBUSY)."""
    directories = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for directory in [*directories, root]:
        try:
            directory.rmdir()
        except FileNotFoundError:  # never created, or removed meanwhile
            continue
        except OSError:
            return False
    return True


def thaw(root: Path) -> None:
    """Thaw every frozen cgroup under `root`. runc freezes a container's cgroup while it changes
    it; a runc killed meanwhile (its node removed as it started containers) leaves the cgroup
    frozen, and a frozen process takes no SIGKILL, so its PID namespace never ends."""
    for state in root.rglob("freezer.state"):  # v1
        with contextlib.suppress(OSError):
            if state.read_text().strip() != "THAWED":
                state.write_text("THAWED")
    for freeze in root.rglob("cgroup.freeze"):  # v2
        with contextlib.suppress(OSError):
            if freeze.read_text().strip() != "0":
                freeze.write_text("0")


def ours() -> list[Path]:
    """Roots of the tiers in any hierarchy: this run's, or an earlier run's that was killed."""
    return [root for mount in hierarchies() for prefix in PREFIXES for root in mount.glob(f"{prefix}*")]


def remove_stale(prefix: str) -> None:
    """Remove the roots a killed run of one tier left behind."""
    for mount in hierarchies():
        for stale in mount.glob(f"{prefix}*"):
            remove_tree(stale)


class CgroupRoot:
    def __init__(self, name: str, *, prefix: str = NODE_PREFIX) -> None:
        self.name = prefix + name  # the kubelet's cgroupRoot, or dockerd's cgroup-parent, is "/" + name

    def create(self) -> None:
        for mount in hierarchies():
            (mount / self.name).mkdir()

    def remove(self) -> None:
        roots = [mount / self.name for mount in hierarchies()]

        def removed() -> bool:
            remaining = [root for root in roots if not remove_tree(root)]  # try each, every time
            return not remaining

        wait_for(
            removed,
            timeout=30,
            what=f"the cgroups under {self.name} to empty",
            seen=lambda: [str(root) for root in roots if root.exists()],
        )
