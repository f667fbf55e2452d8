"""Child processes of a test run: a free loopback port for them, and their death with the run."""

from __future__ import annotations

import ctypes
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

LOOPBACK = "127.0.0.1"


def free_port(address: str = LOOPBACK) -> int:
    """A port nothing listens on now; another process may still take it before the child binds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def in_namespaces_of_its_own(argv: Sequence[str], *, proc: bool = False) -> list[str]:
    """`argv` in PID and mount namespaces of its own: what it mounts, and every process it starts,
    go with it, even if this run is killed (`--kill-child`). `proc` mounts the namespace's /proc."""
    return [
        "unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation=private",
        *(["--mount-proc"] if proc else []), "--", *argv,
    ]  # fmt: skip


def _kill_with_parent() -> Callable[[], None] | None:
    """Linux: a preexec_fn after which the kernel SIGKILLs the child if this process dies before its
    teardown (a backstop). PR_SET_PDEATHSIG fires when the *thread* that spawned the child exits, so
    spawn long-lived children from a thread that outlives them, such as the main one."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


KILL_WITH_PARENT = _kill_with_parent()


def tail(path: Path, lines: int) -> str:
    """The last lines of a log file, or "" if it cannot be read."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
