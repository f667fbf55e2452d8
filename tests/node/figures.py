"""The node tier's figures of when each container's `.meta` became complete, as one reader saw them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.reader import READ_AFTER

if TYPE_CHECKING:
    from node.reader import FluentBitReader, MetaEvent, Observed


@dataclass(frozen=True)
class Completeness:
    containers: int
    complete_at: tuple[float, ...]  # the fraction complete at each of READ_AFTER's readings
    before_link: float  # the fraction complete before the link appeared (inotify order)
    delays: tuple[float, ...]  # seconds from the link to the complete .meta, sorted (negative: before)
    premature: float  # Fluent Bit's expected fraction of reads before completeness

    @classmethod
    def of(
        cls, reader: FluentBitReader, observed: list[Observed], *, refresh_interval: float
    ) -> Completeness:
        arrivals = [reader.complete_arrival(o.link) for o in observed]
        known = [a for a in arrivals if a is not None]
        delays = tuple(sorted(0.0 if before else max(seconds, 0.0) for seconds, before in known))
        raw = tuple(sorted(seconds for seconds, _ in known))
        return cls(
            containers=len(observed),
            complete_at=tuple(
                sum(o.readings[i].is_complete(o.link) for o in observed) / len(observed)
                for i in range(len(READ_AFTER))
            ),
            before_link=sum(before for _, before in known) / len(observed),
            delays=raw,
            # Fluent Bit's scan finds a new file at a moment unrelated to its creation: it reads the
            # .meta too early with the chance (time it is incomplete) / (time between scans).
            premature=statistics.fmean(delays) / refresh_interval if delays else 1.0,
        )

    def after_link(self) -> list[float]:
        """The delays of the containers whose `.meta` was complete only after their link."""
        return [d for d in self.delays if d > 0]

    def quantile(self, q: float) -> float:
        """The delay at quantile q (nearest rank), 0 for a .meta complete before its link."""
        clipped = sorted(max(d, 0.0) for d in self.delays)
        return clipped[min(len(clipped) - 1, max(0, round(q * len(clipped)) - 1))]

    def row(self, label: str) -> str:
        fractions = " | ".join(f"{f:.0%}" for f in self.complete_at)
        ms = [d * 1000 for d in self.delays]
        return (
            f"| {label} | {self.containers} | {self.before_link:.1%} | {fractions} | "
            f"{ms[0]:.0f} / {statistics.median(ms):.0f} / {self.quantile(0.99) * 1000:.0f} / {ms[-1]:.0f} | "
            f"{self.premature:.1%} |"
        )

    @staticmethod
    def header() -> list[str]:
        at = " | ".join(f"complete at {offset:g} s" for offset in READ_AFTER)
        return [
            f"| source | containers | complete before the link | {at} | link to complete, ms: min / median / "
            "p99 / max (negative: before) | Fluent Bit's premature reads |",
            "| --- | ---: | ---: |" + " ---: |" * len(READ_AFTER) + " ---: | ---: |",
        ]


def mismatches(events: list[MetaEvent], final: dict[str, tuple[str, str]]) -> list[str]:
    """Every container ID, image and image ID a write carried that differs from the kubelet's final
    status (`workloads.final_statuses`)."""
    wrong = []
    for event in events:
        for entry in event.entries:
            reported = final.get(entry.container_id)
            if reported is None:
                wrong.append(f"{event.file}: {entry.container_id} is in no final status")
            elif entry.complete and (entry.image, entry.image_id) != reported:
                wrong.append(f"{event.file}: {entry} but the kubelet reported {reported}")
    return wrong
