"""StopToken: the stop signal shared by the watch threads, which also aborts their in-flight reads."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

from pod_meta_exporter.domain import ports

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pod_meta_exporter.adapters.kubernetes.transport import Response


class StopToken:
    """Set once, from any thread. Setting it shuts down the sockets of the responses being read,
    so a blocked read returns at once instead of after the read timeout."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._held: set[Response] = set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to timeout; True if the token was set meanwhile."""
        return self._event.wait(timeout)

    def set(self) -> None:
        with self._lock:
            self._event.set()
            for response in self._held:
                _shut_down(response)

    @contextlib.contextmanager
    def holding(self, response: Response) -> Iterator[None]:
        """Read the response inside this block; it is closed on the way out, and cut if the token is set."""
        try:
            with self._lock:
                if self._event.is_set():
                    raise ports.Stopped
                self._held.add(response)
            try:
                yield
            finally:
                with self._lock:
                    self._held.discard(response)
        finally:
            # A connection left mid-response cannot be reused: close it, then hand the (closed)
            # connection back so the pool keeps its slot. A fully read one is already back.
            response.close()
            response.release_conn()


def _shut_down(response: Response) -> None:
    # Shut the socket down rather than close the response: close() from a second thread can
    # block on the SSL object's lock, which the reading thread holds (the client's Watch.stop()
    # works around the same trap). Under the token's lock, so the reader cannot close it meanwhile.
    # urllib3's shutdown() keeps the socket even where http.client already dropped the
    # connection's reference to it (a "Connection: close" response).
    with contextlib.suppress(OSError, RuntimeError, ValueError):
        response.shutdown()
