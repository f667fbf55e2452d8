"""The node's own process, mount and network namespaces: what runs in them dies with them.

The kubelet and containerd change the machine: mounts, `/var/log/{pods,containers}`, network
links, iptables chains and sysctls. Inside these namespaces those changes stay private:

- a `pause` init in a new PID namespace: stopping it, or the kernel killing it with the test run
  (PR_SET_PDEATHSIG on `unshare --kill-child`), kills every shim and container below it;
- a private mount namespace with its own /proc, a tmpfs on `/run` and the work dir bound on
  `/var/log` and `/var/lib`, so that nothing is written to the host's; the sysctls the kubelet would
  change read as the values it wants, from files bound over them, so it leaves the host's alone;
- a network namespace joined to the host by one veth pair (the kubelet's node IP on one end, the
  API server's address on the other), so the CNI bridge, veths and iptables chains go with it.

Only cgroups are shared with the host; `node.py` creates and removes those.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from support.control_plane import Process
from support.sysctls import KUBELET_SYSCTLS, read_ints
from support.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Sequence

# RFC 2544's benchmarking range: never routed, so it cannot collide with the machine's networks.
LINK_SUPERNET = ipaddress.IPv4Network("198.18.0.0/16")


def _free_link_network() -> ipaddress.IPv4Network:
    """A /30 of LINK_SUPERNET in no /24 that an address of the host is in."""
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True)
    used = {
        ipaddress.IPv4Interface(fields[3]).network.supernet(new_prefix=24)
        for fields in (line.split() for line in shown.stdout.splitlines())
        if ipaddress.IPv4Interface(fields[3]).ip in LINK_SUPERNET
    }
    for block in LINK_SUPERNET.subnets(new_prefix=24):
        if block not in used:
            return next(block.subnets(new_prefix=30))
    msg = f"every /24 of {LINK_SUPERNET} is in use on this host"
    raise RuntimeError(msg)


class NodeNamespaces:
    """The namespaces and their veth link; `enter()` prefixes a command to run inside them."""

    def __init__(self, *, workdir: Path, init_binary: Path, link_name: str) -> None:
        self.workdir = workdir
        self.init_binary = init_binary
        self.link_name = link_name  # the host's end; at most 15 characters
        network = _free_link_network()
        host, node = list(network.hosts())
        self.host_address, self.node_address = str(host), str(node)
        self.prefix = network.prefixlen
        self._holder: Process | None = None
        self.init_pid = 0

    @property
    def var_log(self) -> Path:
        """The node's /var/log, seen from the host: the kubelet's pods/ and containers/."""
        return self.workdir / "var" / "log"

    @property
    def var_lib(self) -> Path:
        return self.workdir / "var" / "lib"

    def start(self) -> None:
        for directory in (self.var_log, self.var_lib, self.workdir / "sysctl"):
            directory.mkdir(parents=True, exist_ok=True)
        self._holder = Process(
            "namespaces",
            [
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount",
                "--net",
                "--propagation=private",
                "--mount-proc",
                "--",
                str(self.init_binary),
            ],
            self.workdir / "namespaces.log",
        )
        holder = self._holder.pid
        children = Path(f"/proc/{holder}/task/{holder}/children")
        self.init_pid = int(wait_for(lambda: children.read_text().split(), timeout=10, what="the init")[0])
        # unshare(2) comes before the fork, so the init starts in the new mount namespace; its
        # exec of the init binary may still be under way.
        wait_for(
            lambda: Path(f"/proc/{self.init_pid}/exe").resolve() == self.init_binary.resolve(),
            timeout=10,
            what="the init to run",
        )
        self._mount_private_dirs()
        self._link()

    def namespace_id(self, kind: str) -> str:
        """Like `mnt:[4026532281]`: the same for every process in that namespace."""
        return str(Path(f"/proc/{self.init_pid}/ns/{kind}").readlink())

    def enter(self, argv: Sequence[str]) -> list[str]:
        """`argv` run in the namespaces, as a child of nsenter (see NodeProcess). It must be in the
        PID namespace, as the /proc mounted there is that namespace's, and so dies with the init."""
        return ["nsenter", f"--target={self.init_pid}", "--mount", "--net", "--pid", "--", *argv]

    def run(self, argv: Sequence[str]) -> str:
        """A short command inside; its output, or RuntimeError with its stderr."""
        done = subprocess.run(self.enter(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            msg = (
                f"{' '.join(argv)} (in the node's namespaces): exit {done.returncode}: {done.stderr.strip()}"
            )
            raise RuntimeError(msg)
        return done.stdout

    def _mount_private_dirs(self) -> None:
        masks = []
        for name, value in read_ints(KUBELET_SYSCTLS).items():
            if value != KUBELET_SYSCTLS[name]:
                wanted = self.workdir / "sysctl" / name.replace("/", ".")
                wanted.write_text(f"{KUBELET_SYSCTLS[name]}\n")
                masks.append(f"mount --bind {wanted} /proc/sys/{name}")
        script = "\n".join(
            [
                "set -eu",
                "mount -t tmpfs -o mode=0755 node-run /run",
                f"mount --bind {self.var_log} /var/log",
                f"mount --bind {self.var_lib} /var/lib",
                *masks,
            ]
        )
        self.run(["sh", "-c", script])

    def _link(self) -> None:
        subprocess.run(
            [
                "ip",
                "link",
                "add",
                self.link_name,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                str(self.init_pid),
            ],
            check=True,
        )
        subprocess.run(
            ["ip", "addr", "add", f"{self.host_address}/{self.prefix}", "dev", self.link_name], check=True
        )
        subprocess.run(["ip", "link", "set", self.link_name, "up"], check=True)
        self.run(
            [
                "sh",
                "-c",
                f"set -eu; ip link set lo up; ip addr add {self.node_address}/{self.prefix} dev eth0;"
                " ip link set eth0 up",
            ]
        )

    def close(self) -> None:
        """SIGTERM to the init: the kernel kills everything else in its PID namespace; the mount and
        network namespaces, and the veth pair, go with their last process."""
        if self._holder is None:
            return
        if self.init_pid:  # 0 until start() found it, and kill(0) would signal our own group
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGTERM)
        self._holder.stop()
        self._holder = None
        # The link goes when the namespace is freed, which the kernel does asynchronously.
        wait_for(lambda: not _link_exists(self.link_name), timeout=10, what=f"{self.link_name} to go")


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


class NodeProcess(Process):
    """A program run by `nsenter --pid`, which forks it into the PID namespace and waits. nsenter
    passes no signal on, so stop() signals the program itself, then reaps nsenter."""

    def program_pid(self) -> int | None:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        with contextlib.suppress(OSError):
            found = children.read_text().split()
            return int(found[0]) if found else None
        return None

    def stop(self, timeout: float = 15.0) -> None:
        program = self.program_pid()
        if program is not None and self.exited() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(program, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
            if self.exited() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(program, signal.SIGKILL)
        super().stop(timeout)
