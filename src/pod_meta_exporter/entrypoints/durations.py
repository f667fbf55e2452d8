"""Go's time.ParseDuration syntax, so the Go original's EXPORTER_RETENTION_PERIOD values keep working."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in `text` such as "300ms", "90s", "1h30m" or "0"; ValueError on anything else."""
    value = text.strip()
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    if value == "0":
        return 0.0
    if not value:
        msg = f"invalid duration {text!r}"
        raise ValueError(msg)
    total, position = 0.0, 0
    while position < len(value):
        match = _PART.match(value, position)
        if match is None:
            msg = f"invalid duration {text!r}: use Go syntax such as 90s, 5m or 1h30m"
            raise ValueError(msg)
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """The shortest Go-style spelling of a whole number of seconds, else seconds with a fraction."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"
