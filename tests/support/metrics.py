"""A /metrics scrape read with prometheus_client's own parser, and Prometheus's histogram arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Scrape:
    """Every sample of one scrape (counters with their `_total` names, histograms as buckets), and
    every metric served, with or without samples (a labelled metric has none until its first child)."""

    samples: tuple[Sample, ...]
    names: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        families = list(text_string_to_metric_families(text))
        samples = tuple(
            Sample(sample.name, dict(sample.labels), sample.value) for f in families for sample in f.samples
        )
        names = {f.name for f in families} | {f"{f.name}_total" for f in families if f.type == "counter"}
        return cls(samples, frozenset(names | {sample.name for sample in samples}))

    def value(self, name: str, **labels: str) -> float:
        """The one sample with exactly these labels; 0 for a labelled child that does not exist yet."""
        matching = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(matching) <= 1, f"{name}{labels} matches {len(matching)} samples"
        return matching[0] if matching else 0.0

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include these."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(key) == want for key, want in labels.items())
        )

    def buckets(self, histogram: str) -> dict[float, float]:
        """A histogram's cumulative counts by upper bound, +Inf included."""
        return {float(s.labels["le"]): s.value for s in self.samples if s.name == f"{histogram}_bucket"}


def histogram_delta(before: Scrape, after: Scrape, histogram: str) -> dict[float, float]:
    """What was observed between two scrapes, as cumulative counts by upper bound."""
    old = before.buckets(histogram)
    return {bound: count - old.get(bound, 0.0) for bound, count in after.buckets(histogram).items()}


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """Prometheus's histogram_quantile: linear within the bucket that holds the rank; beyond the
    last finite bucket, that bucket's bound is all there is to know. NaN for an empty histogram."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if not total:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below) if count > below else bound
        lower, below = bound, count
    return lower


def histogram_bound(buckets: Mapping[float, float]) -> float:
    """The upper bound of the highest non-empty bucket: every observation was at most this."""
    highest, previous = math.nan, 0.0
    for bound in sorted(buckets):
        if buckets[bound] > previous:
            highest = bound
        previous = buckets[bound]
    return highest
