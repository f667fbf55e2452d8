"""wait_for: poll a predicate with a deadline, and say what was last seen when it never came true."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "",
    seen: Callable[[], object] | None = None,
) -> T:
    """Return probe()'s first truthy value; after `timeout` seconds fail with AssertionError showing
    what seen() returns (by default, probe()'s last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            last = seen() if seen is not None else value
            msg = f"timed out after {timeout}s waiting for {what or probe!r}; last saw {last!r}"
            raise AssertionError(msg)
        time.sleep(interval)
