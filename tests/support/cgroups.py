"""The node's cgroup root: one directory in every hierarchy, under which the kubelet puts kubepods/.

Cgroups are the one thing the node's namespaces do not keep private, so the root has a name of
this run's own and is removed, leaves first, once its processes are gone.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from support.waiting import wait_for

PREFIX = "pod-meta-exporter-node-"


def hierarchies() -> list[Path]:
    """Every cgroup hierarchy this machine mounts (v1 controllers, and v2)."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        if after.split()[0] in {"cgroup", "cgroup2"}:
            mounts.append(Path(before.split()[4]))
    return mounts


def _remove_tree(root: Path) -> bool:
    """rmdir the tree, leaves first; False while a cgroup still has processes (EBUSY)."""
    directories = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for directory in [*directories, root]:
        with contextlib.suppress(FileNotFoundError):
            try:
                directory.rmdir()
            except OSError:
                return False
    return True


def ours() -> list[Path]:
    """Roots of this tier in any hierarchy: this run's, or an earlier run's that was killed."""
    return [root for mount in hierarchies() for root in mount.glob(f"{PREFIX}*")]


def remove_stale() -> None:
    """A run killed before its teardown leaves its (empty) roots behind; the next one removes them."""
    for stale in ours():
        _remove_tree(stale)


class CgroupRoot:
    def __init__(self, name: str) -> None:
        self.name = PREFIX + name  # the kubelet's cgroupRoot is "/" + name

    def create(self) -> None:
        for mount in hierarchies():
            (mount / self.name).mkdir()

    def remove(self) -> None:
        roots = [mount / self.name for mount in hierarchies()]

        def removed() -> bool:
            remaining = [root for root in roots if not _remove_tree(root)]  # try each, every time
            return not remaining

        wait_for(
            removed,
            timeout=30,
            what=f"the cgroups under {self.name} to empty",
            seen=lambda: [str(root) for root in roots if root.exists()],
        )
