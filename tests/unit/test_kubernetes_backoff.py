"""Backoff (full jitter, capped) and WatchSettings validation."""

from __future__ import annotations

import random

import pytest

from pod_meta_exporter.adapters.kubernetes import WatchSettings
from pod_meta_exporter.adapters.kubernetes.backoff import Backoff
from pod_meta_exporter.adapters.kubernetes.settings import BOOKMARK_PERIOD


def test_delays_are_full_jitter_under_a_doubling_ceiling_up_to_the_cap() -> None:
    backoff = Backoff(first=1.0, cap=30.0, rng=random.Random(3))

    delays = [backoff.next_delay() for _ in range(200)]

    ceilings = [min(30.0, 2.0**n) for n in range(200)]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[10:]) > 15.0  # the jitter spans the whole range up to the cap


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(first=1.0, cap=30.0, rng=random.Random(3))
    for _ in range(10):
        backoff.next_delay()

    backoff.reset()

    assert backoff.next_delay() <= 1.0


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
