"""The retention clock and the write-retry ledger, each alone."""

from __future__ import annotations

import pytest

from pod_meta_exporter.domain.retention import RetentionClock
from pod_meta_exporter.domain.retries import RetryBackoff, WriteRetries


def test_a_retention_ends_one_period_after_it_starts_and_only_once() -> None:
    clock: RetentionClock[str] = RetentionClock(60.0)
    clock.start("a", now=10.0)
    assert "a" in clock
    assert clock.next_end() == 70.0
    assert clock.ended(now=69.9) == []
    assert clock.ended(now=70.0) == ["a"]
    assert clock.ended(now=500.0) == []
    assert "a" not in clock
    assert clock.next_end() is None


def test_starting_again_restarts_the_period_and_the_old_end_is_skipped() -> None:
    clock: RetentionClock[str] = RetentionClock(60.0)
    clock.start("a", now=0.0)
    clock.start("a", now=30.0)
    assert len(clock) == 1
    assert clock.next_end() == 90.0
    assert clock.ended(now=60.0) == []
    assert clock.ended(now=90.0) == ["a"]


def test_a_cancelled_retention_never_ends_and_the_others_end_in_order() -> None:
    clock: RetentionClock[str] = RetentionClock(10.0)
    clock.start("b", now=5.0)
    clock.start("a", now=0.0)
    clock.start("c", now=1.0)
    assert clock.cancel("c")
    assert not clock.cancel("c")
    assert clock.ended(now=100.0) == ["a", "b"]


def test_a_negative_period_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        RetentionClock(-1.0)


def test_retries_double_from_the_first_delay_up_to_the_cap_and_a_clear_starts_over() -> None:
    retries = WriteRetries(RetryBackoff(first=1.0, cap=4.0))
    tries = []
    now = 0.0
    for _ in range(5):
        retries.failed("x.meta", now=now)
        next_try = retries.next_try()
        assert next_try is not None
        assert retries.waiting("x.meta", now=next_try - 0.001)
        assert not retries.waiting("x.meta", now=next_try)
        tries.append(next_try - now)
        now = next_try
    assert tries == [1.0, 2.0, 4.0, 4.0, 4.0]
    retries.clear("x.meta")
    assert retries.next_try() is None
    retries.failed("x.meta", now=now)
    assert retries.next_try() == now + 1.0


def test_the_directory_says_its_retention_and_ends_a_deleted_pods_file_after_it() -> None:
    from pod_meta_exporter.domain import events
    from pod_meta_exporter.domain.directory import MetaDirectory
    from support import podfactory

    directory = MetaDirectory(retention=90.0)
    pod = podfactory.pod()
    directory.handle(events.PodUpserted(pod), now=0.0)
    directory.handle(events.PodDeleted(pod), now=10.0)
    assert directory.retention == 90.0
    assert directory.next_wakeup() == 100.0
    assert directory.pending_removals == 1
