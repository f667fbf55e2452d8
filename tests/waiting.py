"""wait_for: poll a predicate with a deadline, and say what was last seen when it never came true."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


def wait_for(probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Return probe()'s first truthy value; fail after `timeout` seconds showing its last value."""
    deadline = time.monotonic() + timeout
    while True:
        seen = probe()
        if seen:
            return seen
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout}s waiting for {what or probe!r}; last saw {seen!r}"
            raise AssertionError(msg)
        time.sleep(interval)
