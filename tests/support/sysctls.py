"""Kernel settings (/proc/sys) that the tiers must leave as they found them.

The kubelet writes a few global ones at start; a privileged kind node, whose systemd applies
sysctl.d, could write any. The node tier masks the kubelet's with files bound over them; the e2e
tier's node image does the same, and drops the global ones from sysctl.d.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

PROC_SYS = Path("/proc/sys")

# The kubelet's setupKernelTunables (pkg/kubelet/cm/container_manager_linux.go): the values it
# writes unless they are already set. None of them is namespaced.
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": 1,
    "vm/panic_on_oom": 0,
    "kernel/panic": 10,
    "kernel/panic_on_oops": 1,
    "kernel/keys/root_maxkeys": 1000000,
    "kernel/keys/root_maxbytes": 25000000,
}

# Counters and random values, which change on their own; and each network interface's own
# settings, which come and go with the interface (HostState compares the interfaces themselves).
_VOLATILE = re.compile(
    r"^(fs/(dentry-state|inode-nr|inode-state|file-nr|aio-nr|quota/.*)"
    r"|kernel/(ns_last_pid|random/.*|pty/nr)"
    r"|net/netfilter/nf_conntrack_count"
    r"|net/ipv[46]/(conf|neigh)/(?!all/|default/)[^/]+/.*)$"
)


def read_ints(names: Iterable[str]) -> dict[str, int]:
    return {name: int((PROC_SYS / name).read_text().split()[0]) for name in names}


def read_all() -> dict[str, str]:
    """Every readable setting that does not change on its own, by path under /proc/sys."""
    values = {}
    for path in PROC_SYS.rglob("*"):
        name = str(path.relative_to(PROC_SYS))
        if _VOLATILE.match(name):
            continue
        try:
            if path.is_file():
                values[name] = " ".join(path.read_text().split())
        except OSError:  # write-only (route/flush), or not readable here
            continue
    return values
