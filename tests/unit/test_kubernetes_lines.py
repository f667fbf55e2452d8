"""iter_lines: whole lines however the chunks fall, and a cut-off last line refused."""

from __future__ import annotations

import pytest

from pod_meta_exporter.adapters.kubernetes.lines import MAX_LINE, LineTooLong, TruncatedStream, iter_lines


class Chunks:
    """Hands out one prepared piece per read1(), then b"", as a response does."""

    def __init__(self, *pieces: bytes) -> None:
        self._pieces = list(pieces)

    def read1(self, amt: int | None = None) -> bytes:
        return self._pieces.pop(0) if self._pieces else b""


def test_joins_lines_split_across_chunks_and_splits_chunks_holding_several() -> None:
    response = Chunks(b'{"a":', b"1}\n", b'{"b":2}\n{"c"', b":3}\n\n", b'{"d":4}\n')

    assert list(iter_lines(response)) == [b'{"a":1}', b'{"b":2}', b'{"c":3}', b'{"d":4}']


def test_a_long_line_in_many_small_chunks() -> None:
    line = b'{"x":"' + b"y" * 10_000 + b'"}'
    pieces = [line[i : i + 7] for i in range(0, len(line), 7)]

    assert list(iter_lines(Chunks(*pieces, b"\n"))) == [line]


def test_a_stream_ending_inside_a_line_raises_after_the_whole_lines() -> None:
    lines = iter_lines(Chunks(b'{"a":1}\n{"b":'))

    assert next(lines) == b'{"a":1}'
    with pytest.raises(TruncatedStream, match="5 bytes"):
        next(lines)


def test_an_empty_stream_has_no_lines() -> None:
    assert list(iter_lines(Chunks())) == []


def test_a_line_past_the_bound_is_refused_without_buffering_the_rest() -> None:
    endless = Chunks(b'{"a":1}\n', *(b"z" * 1000 for _ in range(100)))
    lines = iter_lines(endless, max_line=4096)

    assert next(lines) == b'{"a":1}'
    with pytest.raises(LineTooLong, match="passed 4096 bytes"):
        next(lines)
    assert len(endless._pieces) > 90, "it stopped reading at the bound"


def test_the_bound_is_above_etcds_largest_object() -> None:
    assert MAX_LINE > 1.5 * 1024 * 1024
