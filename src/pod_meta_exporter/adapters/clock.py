"""SystemClock: the Clock port over the system's monotonic clock."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pod_meta_exporter.domain.ports import Clock


class SystemClock:
    def now(self) -> float:
        return time.monotonic()


if TYPE_CHECKING:  # the port's conformance, checked by mypy
    _system: Clock = SystemClock()


def __getattr__(name: str) -> object:
    """FakeClock moved to pod_meta_exporter.testing; this alias goes in the next release."""
    if name == "FakeClock":
        import warnings

        from pod_meta_exporter import testing

        warnings.warn(
            "pod_meta_exporter.adapters.clock.FakeClock moved to pod_meta_exporter.testing.FakeClock",
            DeprecationWarning,
            stacklevel=2,
        )
        return testing.FakeClock
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
