"""BackoffManager (client-go's reflector spacing) and WatchSettings validation."""

from __future__ import annotations

import random

import pytest

from pod_meta_exporter.adapters.kubernetes.backoff import BackoffManager
from pod_meta_exporter.adapters.kubernetes.watch_settings import BOOKMARK_PERIOD, WatchSettings
from pod_meta_exporter.testing import FakeClock


def manager(clock: FakeClock) -> BackoffManager:
    return BackoffManager(first=0.8, cap=30.0, reset_after=120.0, rng=random.Random(3), clock=clock.now)


def test_each_delay_is_the_doubling_step_up_to_the_cap_plus_up_to_as_much_again_of_jitter() -> None:
    clock = FakeClock()
    backoff = manager(clock)

    delays = []
    for _ in range(60):
        delays.append(backoff.next_delay())
        clock.advance(delays[-1])  # a failure right after each wait: never calm for two minutes

    steps = [min(30.0, 0.8 * 2**n) for n in range(60)]
    assert all(s <= d <= 2 * s for d, s in zip(delays, steps, strict=True))
    assert min(delays[6:]) >= 30.0, "full after six steps, and never below the cap again"
    assert max(delays) > 45.0  # the jitter spans up to twice the step


def test_progress_does_not_reset_it_only_two_calm_minutes_do() -> None:
    clock = FakeClock()
    backoff = manager(clock)
    for _ in range(8):
        backoff.next_delay()
        clock.advance(1.0)  # each failure cut short: the watch made progress, briefly

    clock.advance(118.0)
    assert backoff.next_delay() >= 30.0, "119 s since a delay was asked: still full"
    clock.advance(121.0)
    assert backoff.next_delay() <= 1.6, "two calm minutes: from the first step again"


def test_settings_defaults_give_up_a_watch_silent_for_two_and_a_half_bookmark_periods() -> None:
    settings = WatchSettings()

    assert settings.inactivity_timeout == 2.5 * BOOKMARK_PERIOD == 150.0
    assert settings.watch_timeout_max > settings.watch_timeout_min >= 60
    assert settings.backoff_cap == 30.0
    assert settings.watch_list is True
    assert settings.request_timeout == (settings.connect_timeout, settings.inactivity_timeout)


@pytest.mark.parametrize(
    "fields",
    [
        {"connect_timeout": 0},
        {"inactivity_timeout": -1},
        {"watch_timeout_min": 0},
        {"watch_timeout_min": 600, "watch_timeout_max": 300},
        {"backoff_first": 60.0, "backoff_cap": 30.0},
    ],
)
def test_settings_refuse_nonsense(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        WatchSettings(**fields)  # type: ignore[arg-type]
