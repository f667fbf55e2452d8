"""Versions: the resourceVersion each list, initial stream and watch starts at, by client-go's
reflector rules (relistResourceVersion in tools/cache/reflector.go). When a sync happens is
reflector.py's."""

from __future__ import annotations


class Versions:
    """What the watcher has seen, and so where its next request starts.

    - The first list is at "0", which the API server answers from its watch cache rather than
      with a quorum read of etcd: thousands of nodes restarting at once must not all hit etcd. The
      first initial-events stream is at "", a consistent read that the watch cache serves.
    - After that, a list or stream is at the last version seen, so it never goes back in time, even
      on an HA control plane whose API servers' caches lag each other.
    - After a list or stream was refused its version (410 Gone, or a version too large for a
      server behind the others), the next one is at "", a consistent read.
    - A watch starts at the last version seen.
    """

    def __init__(self) -> None:
        self.last = ""
        self._unavailable = False

    def for_list(self) -> str:
        if self._unavailable:
            return ""
        return self.last or "0"

    def for_stream(self) -> str:
        return "" if self._unavailable else self.last

    def seen(self, resource_version: str) -> None:
        """An event or a bookmark carried this version."""
        self.last = resource_version

    def synced(self, resource_version: str) -> None:
        """A list or an initial-events stream was complete at this version."""
        self.last = resource_version
        self._unavailable = False

    def refused(self) -> None:
        """The last list or stream was refused its version: the next is a consistent read."""
        self._unavailable = True
