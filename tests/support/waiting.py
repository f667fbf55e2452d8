"""wait_for: poll a probe with a deadline, and say what was last seen when it never came true."""

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
    retry_on: tuple[type[Exception], ...] = (),
) -> T:
    """Return probe()'s first truthy value; after `timeout` seconds fail with AssertionError showing
    what seen() returns (by default, probe()'s last value). An exception in `retry_on` counts as
    "not yet", and is what was last seen; any other exception ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except retry_on as error:
            last: object = error
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            if seen is not None:
                last = seen()
            msg = f"timed out after {timeout}s waiting for {what or probe!r}; last saw {last!r}"
            raise AssertionError(msg)
        time.sleep(interval)
