"""Unit-test settings: Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default: dev)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=200, stateful_step_count=60)
settings.register_profile(
    "ci", max_examples=300, stateful_step_count=60, derandomize=True, deadline=None, print_blob=True
)
settings.register_profile("soak", max_examples=5000, stateful_step_count=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
