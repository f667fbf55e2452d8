"""runc, minus the capabilities that this machine's bounding set lacks, for the offline dockerd.

Docker 20.10 gives a `--privileged` container (a kind node) every capability the kernel knows, and
`docker exec --privileged` (how kind runs commands in the node) the same. Where root itself lacks
one (CAP_SYS_RESOURCE on these machines), runc fails with "unable to apply caps: operation not
permitted" (moby#42906). dockerd calls this program as its default runtime: it removes those
capabilities from the spec that runc is about to apply, then runs the real runc with the same
arguments. Where nothing is missing, the engine does not install it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RUNC = "/usr/sbin/runc"

# include/uapi/linux/capability.h, in bit order.
CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


def missing_capabilities(bounding: int, last_cap: int) -> frozenset[str]:
    """The capabilities up to `last_cap` (the kernel's cap_last_cap) that a bounding set lacks."""
    return frozenset(name for bit, name in enumerate(CAPABILITIES[: last_cap + 1]) if not bounding >> bit & 1)


def missing_here() -> frozenset[str]:
    """What this process's bounding set lacks of the capabilities this kernel knows."""
    status = Path("/proc/self/status").read_text()
    (bounding,) = (int(line.split()[1], 16) for line in status.splitlines() if line.startswith("CapBnd:"))
    return missing_capabilities(bounding, int(Path("/proc/sys/kernel/cap_last_cap").read_text()))


def without(process: dict[str, object], missing: frozenset[str]) -> bool:
    """Drop `missing` from each capability set of an OCI process; whether anything changed."""
    sets = process.get("capabilities")
    if not isinstance(sets, dict):
        return False
    changed = False
    for name, capabilities in sets.items():
        if isinstance(capabilities, list) and missing & set(capabilities):
            sets[name] = [c for c in capabilities if c not in missing]
            changed = True
    return changed


def spec_files(args: list[str]) -> list[Path]:
    """The JSON files runc will read a process from: `create`/`run` read <bundle>/config.json, and
    `exec` reads --process (its other form, a command line, takes no capabilities from Docker)."""
    command = next((a for a in args if a in {"create", "run", "exec"}), None)
    if command is None:
        return []

    def option(*names: str) -> str | None:
        for index, arg in enumerate(args):
            for name in names:
                if arg == name and index + 1 < len(args):
                    return args[index + 1]
                if arg.startswith(name + "="):
                    return arg.partition("=")[2]
        return None

    if command == "exec":
        process = option("--process", "-p")
        return [Path(process)] if process else []
    return [Path(option("--bundle", "-b") or ".") / "config.json"]


def rewrite(path: Path, missing: frozenset[str]) -> None:
    document = json.loads(path.read_text())
    process = document.get("process", {}) if "ociVersion" in document else document
    if without(process, missing):
        path.write_text(json.dumps(document))


def main() -> None:
    args = sys.argv[1:]
    missing = missing_here()
    for path in spec_files(args):
        rewrite(path, missing)
    os.execv(RUNC, [RUNC, *args])


if __name__ == "__main__":
    main()
