"""WatchSettings: the timeouts and backoff of the list/watch loop, validated once."""

from __future__ import annotations

from dataclasses import dataclass

# The API server's watch cache sends every watch that asked for bookmarks one about once a minute
# (defaultBookmarkFrequency in k8s.io/apiserver/pkg/storage/cacher). A watch that has sent nothing
# at all, no event and no bookmark, for two and a half of those periods is dead, even when TCP says
# it is alive: a stalled proxy, or a server stuck on the connection.
BOOKMARK_PERIOD = 60.0
INACTIVITY_TIMEOUT = 2.5 * BOOKMARK_PERIOD


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """How long to wait for the API server, and how to retry when it fails."""

    # A TCP and TLS handshake with the API server takes milliseconds; 10 s allows for a loaded
    # control plane without hanging on a blackholed address.
    connect_timeout: float = 10.0
    # The longest silence of a response: a socket read timeout, so any event or bookmark resets it.
    inactivity_timeout: float = INACTIVITY_TIMEOUT
    # Server-side watch timeout, drawn per watch from [min, max] like the kubelet's reflector
    # (5 to 10 minutes), so thousands of nodes restarted together do not re-watch in lockstep.
    watch_timeout_min: int = 300
    watch_timeout_max: int = 600
    # The spacing of syncs and re-watches, client-go's reflector's (backoff.BackoffManager): from
    # 0.8 s doubling to 30 s, each with up to as much again of jitter, starting over only after
    # two minutes without a delay.
    backoff_first: float = 0.8
    backoff_cap: float = 30.0
    backoff_reset: float = 120.0
    # Stream the initial state in a watch (WatchList, KEP-3157) before falling back to a LIST.
    watch_list: bool = True

    def __post_init__(self) -> None:
        for name in (
            "connect_timeout",
            "inactivity_timeout",
            "backoff_first",
            "backoff_cap",
            "backoff_reset",
        ):
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
        """(connect, read) for the transport."""
        return (self.connect_timeout, self.inactivity_timeout)
