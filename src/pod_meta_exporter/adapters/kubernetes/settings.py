"""WatchSettings: the timeouts and backoff of the list/watch loop, validated once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """How long to wait for the API server, and how to retry when it fails.

    The read timeout is an inactivity timeout on the socket, not a deadline for the whole
    request. A healthy watch is ended by the server after ``timeoutSeconds`` (a bookmark just
    before), and the watch cache sends a bookmark about once a minute; so a read timeout above
    the longest server-side timeout never cuts a healthy watch, even on a quiet node or a server
    that sends no bookmarks. Silence beyond it means a dead connection (TCP keepalive, which
    HttpTransport turns on, usually notices a dead peer sooner).
    """

    # A TCP and TLS handshake with the API server takes milliseconds; 10 s allows for a loaded
    # control plane without hanging on a blackholed address.
    connect_timeout: float = 10.0
    # Longer than watch_timeout_max plus the server's slack to close the stream (see above).
    read_timeout: float = 660.0
    # Server-side watch timeout, drawn per watch from [min, max] like the kubelet's reflector
    # (5 to 10 minutes), so thousands of nodes restarted together do not re-watch in lockstep.
    watch_timeout_min: int = 300
    watch_timeout_max: int = 600
    # Reconnect backoff: full jitter over first * 2**attempt, capped at client-go's 30 s.
    backoff_first: float = 1.0
    backoff_cap: float = 30.0

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "backoff_first", "backoff_cap"):
            if not getattr(self, name) > 0:
                msg = f"{name} must be positive, got {getattr(self, name)!r}"
                raise ValueError(msg)
        if not 1 <= self.watch_timeout_min <= self.watch_timeout_max:
            msg = (
                "watch timeouts must satisfy 1 <= min <= max, got "
                f"{self.watch_timeout_min!r} and {self.watch_timeout_max!r}"
            )
            raise ValueError(msg)
        if self.backoff_first > self.backoff_cap:
            msg = f"backoff_first ({self.backoff_first!r}) must not exceed backoff_cap ({self.backoff_cap!r})"
            raise ValueError(msg)

    @property
    def request_timeout(self) -> tuple[float, float]:
        """The client's ``_request_timeout``: (connect, read)."""
        return (self.connect_timeout, self.read_timeout)
