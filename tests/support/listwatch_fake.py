"""FakeListWatch: the ListWatch seam in memory, answering from a script, recording every call."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pod_meta_exporter.adapters.kubernetes.transport import ApiError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pod_meta_exporter.adapters.kubernetes.listwatch import ListWatch


class MemoryResponse:
    """A response whose body is already here: read1() hands it out a line at a time."""

    def __init__(self, lines: list[bytes]) -> None:
        self._chunks = deque(lines)
        self.closed = False

    def read(self, amt: int | None = None) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data

    def read1(self, amt: int | None = None) -> bytes:
        return self._chunks.popleft() if self._chunks else b""

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        pass

    def shutdown(self) -> None:
        self.closed = True


def event(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def listing(items: list[dict[str, Any]], rv: str) -> bytes:
    return json.dumps({"kind": "List", "metadata": {"resourceVersion": rv}, "items": items}).encode()


@dataclass(frozen=True)
class Call:
    kind: str  # list, watch or stream
    resource_version: str


Answer = list[bytes] | ApiError | OSError


@dataclass
class FakeListWatch:
    """Each call takes the next answer scripted for its kind: the body's lines, or an ApiError or
    OSError (ConnectionRefusedError...) to raise. When a kind's script runs out, `exhausted` is
    called (a test sets the stop token there) and the call fails. `clock` stamps each call in
    `times`."""

    exhausted: Callable[[], None]
    clock: Callable[[], float] = lambda: 0.0
    calls: list[Call] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    _script: dict[str, deque[Answer]] = field(default_factory=dict)

    def script(self, kind: str, *answers: Answer) -> None:
        self._script.setdefault(kind, deque()).extend(answers)

    def list(self, *, resource_version: str) -> MemoryResponse:
        return self._answer(Call("list", resource_version))

    def watch(
        self, *, resource_version: str, timeout_seconds: int, send_initial_events: bool
    ) -> MemoryResponse:
        return self._answer(Call("stream" if send_initial_events else "watch", resource_version))

    def _answer(self, call: Call) -> MemoryResponse:
        self.calls.append(call)
        self.times.append(self.clock())
        script = self._script.get(call.kind)
        if not script:
            self.exhausted()
            msg = f"no {call.kind} scripted"
            raise ConnectionResetError(msg)
        answer = script.popleft()
        if isinstance(answer, ApiError | OSError):
            raise answer
        return MemoryResponse(answer)


if TYPE_CHECKING:
    _: ListWatch = FakeListWatch(exhausted=lambda: None)
