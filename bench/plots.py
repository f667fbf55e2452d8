"""The report's plots, as SVG text drawn with matplotlib from the same figures as the tables beside
them: RSS against pods, the restart peak streamed against listed, event-to-file latency as a CDF,
and the delay from a log link to a complete .meta with and without the container runtime source.
RESULTS.md embeds them from bench/plots/."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib as mpl

mpl.use("Agg")  # no display: files only
from matplotlib import pyplot as plt

import memory

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.axes import Axes

    import latency

DIRECTORY = "plots"  # beside RESULTS.md
_MIB = 1024.0


@dataclass(frozen=True, slots=True)
class Plot:
    name: str  # the file's stem under bench/plots/
    alt: str  # what the plot shows, for the Markdown image
    svg: str

    @property
    def markdown(self) -> str:
        return f"![{self.alt}]({DIRECTORY}/{self.name}.svg)"


def _render(draw: Callable[[Axes], None], *, name: str, alt: str) -> Plot:
    # The same bytes for the same figures: no date, fixed element ids, text kept as text.
    with plt.rc_context({"svg.hashsalt": "pod-meta-exporter", "svg.fonttype": "none", "font.size": 9.0}):
        figure, axes = plt.subplots(figsize=(6.4, 3.6))
        try:
            draw(axes)
            axes.grid(visible=True, alpha=0.3)
            figure.tight_layout()
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        finally:
            plt.close(figure)
    return Plot(name=name, alt=alt, svg=buffer.getvalue())


def _mib_line(axes: Axes, points: list[tuple[int, int | None]], *, label: str) -> None:
    """One line of KiB figures by pods, drawn in MiB; a figure the run lacks is left out."""
    known = [(pods, kib / _MIB) for pods, kib in points if kib is not None]
    axes.plot([pods for pods, _ in known], [mib for _, mib in known], marker="o", label=label)


def _cdf(axes: Axes, seconds: list[float], *, label: str) -> None:
    """The cumulative distribution of durations, in milliseconds; nothing for none."""
    values = sorted(value * 1000 for value in seconds)
    if values:
        axes.step(values, [(i + 1) / len(values) for i in range(len(values))], where="post", label=label)


def rss_against_pods(result: memory.Result, counts: tuple[int, ...]) -> Plot:
    """Settled VmRSS at 0 and each count of pods on the node, one line per way of running."""

    def draw(axes: Axes) -> None:
        for mode in memory.MODES:
            figures = result.rss_kib.get(mode, {})
            points = [(0, figures.get("0 pods (synced)"))] + [(n, figures.get(f"{n:,} pods")) for n in counts]
            _mib_line(axes, points, label=mode)
        axes.set_xlabel("pods on the node")
        axes.set_ylabel("VmRSS (MiB)")
        axes.set_ylim(bottom=0)
        axes.set_title("Memory against pods on the node (settled)")
        axes.legend()

    return _render(draw, name="memory-against-pods", alt="VmRSS in MiB against pods on the node")


def restart_peaks(result: memory.Result, counts: tuple[int, ...]) -> Plot:
    """The peak (VmHWM) of a restart, the state streamed in a watch against listed, in a pod."""

    def draw(axes: Axes) -> None:
        figures = result.hwm_kib.get("in a pod", {})
        for how, label in (
            (memory.RESTART_STREAMED, "streamed (WatchList)"),
            (memory.RESTART_LISTED, "listed"),
        ):
            _mib_line(axes, [(n, figures.get(f"{n:,} pods, {how}")) for n in counts], label=f"state {label}")
        axes.set_xlabel("pods on the node")
        axes.set_ylabel("peak VmHWM (MiB)")
        axes.set_ylim(bottom=0)
        axes.set_title("The restart peak, in a pod: state streamed against listed")
        axes.legend()

    return _render(draw, name="restart-peak", alt="Peak memory of a restart in MiB, streamed against listed")


def latency_cdf(result: latency.Result) -> Plot:
    """Each phase's file mtime minus the create's answer, as a cumulative distribution."""

    def draw(axes: Axes) -> None:
        for phase in result.phases:
            _cdf(axes, phase.after_return, label=f"{phase.name} ({len(phase.after_return):,} pods)")
        axes.set_xlabel("file mtime - create answered (ms)")
        axes.set_ylabel("fraction of pods")
        axes.set_ylim(0, 1.02)
        axes.set_title("Event to file: cumulative distribution")
        axes.legend(loc="lower right")

    return _render(draw, name="latency-cdf", alt="Cumulative distribution of event-to-file latency in ms")


def link_to_complete(figures: dict[str, Any]) -> Plot:
    """From each container's log link to its complete .meta, with the runtime source and without."""

    def draw(axes: Axes) -> None:
        for key, label in (("api_alone", "the API alone"), ("with_runtime", "with the runtime source")):
            delays = figures[key]["delays"]
            _cdf(axes, delays, label=f"{label} ({len(delays)} containers)")
        axes.axvline(0, color="grey", linewidth=0.8)
        axes.set_xlabel("complete .meta - log link (ms; negative: before the link)")
        axes.set_ylabel("fraction of containers")
        axes.set_ylim(0, 1.02)
        axes.set_title("A loaded node: log link to a complete .meta")
        axes.legend(loc="lower right")

    return _render(
        draw,
        name="link-to-complete",
        alt="Delay from log link to complete .meta in ms, with and without the runtime",
    )
