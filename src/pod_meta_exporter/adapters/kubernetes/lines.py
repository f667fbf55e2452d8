"""iter_lines: complete JSON lines off a streaming HTTP response, however the chunks fall."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

_READ_SIZE = 64 * 1024
# The longest watch line read: etcd refuses objects over 1.5 MiB (its --max-request-bytes), and an
# event's JSON, escaped and wrapped, stays well under 8 MiB. A longer line is a broken server or
# proxy, and must not grow this buffer without bound.
MAX_LINE = 8 * 1024 * 1024


class Readable(Protocol):
    def read1(self, amt: int | None = None) -> bytes:
        """Whatever is available, at most amt bytes, blocking only until some arrive; b"" at the end."""
        ...


class LineTooLong(Exception):
    """A line grew past the bound without a newline."""

    def __init__(self, size: int, bound: int) -> None:
        super().__init__(f"a watch line passed {bound} bytes ({size} read) without ending")


class TruncatedStream(Exception):
    """The stream ended inside a line: the server or the connection cut it short."""

    def __init__(self, pending: int) -> None:
        super().__init__(f"stream ended inside a line ({pending} bytes without a newline)")
        self.pending = pending


def iter_lines(response: Readable, *, max_line: int = MAX_LINE) -> Iterator[bytes]:
    """Yield each newline-terminated line (without the newline), skipping blank ones; LineTooLong
    once a line passes `max_line` bytes.

    read1() returns as soon as any bytes arrive, so each event is seen when the server flushes
    it; read(amt) would wait for amt bytes and stall a quiet watch. A line may span many reads.
    """
    buffer = bytearray()
    while data := response.read1(_READ_SIZE):
        searched = len(buffer)  # no newline before here: a long line is scanned once, not per read
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", searched)) != -1:
            line = bytes(buffer[start:end])
            if line.strip():
                yield line
            start = searched = end + 1
        del buffer[:start]
        if len(buffer) > max_line:
            raise LineTooLong(len(buffer), max_line)
    if buffer.strip():
        raise TruncatedStream(len(buffer))
