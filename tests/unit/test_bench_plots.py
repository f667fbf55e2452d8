"""bench/plots.py: each plot is drawn from the figures of the table beside it, with labelled axes,
the same bytes for the same figures, and embedded by the section that holds those figures."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))  # bench/'s modules import each other by their bare names

import latency  # noqa: E402
import memory  # noqa: E402
import plots  # noqa: E402
import report  # noqa: E402

COUNTS = (110, 500)


def memory_figures() -> memory.Result:
    result = memory.Result()
    for mode, base in (("in a pod", 35_000), ("kubeconfig", 52_000)):
        result.record(mode, "0 pods (synced)", base, base)
        for count in COUNTS:
            result.record(mode, f"{count:,} pods", base + count * 6, base + count * 6)
            result.record(
                mode, f"{count:,} pods, {memory.RESTART_STREAMED}", base + count * 7, base + count * 8
            )
            result.record(
                mode, f"{count:,} pods, {memory.RESTART_LISTED}", base + count * 9, base + count * 90
            )
    return result


def texts(svg: str) -> list[str]:
    return [
        element.text or "" for element in ElementTree.fromstring(svg).iter() if element.tag.endswith("text")
    ]


def test_memory_plots_have_their_units_and_the_same_bytes_for_the_same_figures() -> None:
    drawn = plots.rss_against_pods(memory_figures(), COUNTS)
    again = plots.rss_against_pods(memory_figures(), COUNTS)
    peaks = plots.restart_peaks(memory_figures(), COUNTS)

    assert drawn.svg == again.svg
    assert "VmRSS (MiB)" in texts(drawn.svg)
    assert "pods on the node" in texts(drawn.svg)
    assert "peak VmHWM (MiB)" in texts(peaks.svg)
    assert {"state streamed (WatchList)", "state listed"} <= set(texts(peaks.svg))
    assert drawn.svg != plots.rss_against_pods(memory.Result(), COUNTS).svg  # drawn from the figures


def test_the_latency_cdf_and_the_runtime_plot_label_their_axes_in_milliseconds() -> None:
    phase = latency.Phase(name="steady", seconds=1.0, created=3, failed=0, after_return=[0.004, 0.009, 0.02])
    cdf = plots.latency_cdf(latency.Result(phases=[phase], mtime_lag_ms=0.0, target_rate=50.0, threads=4))
    completeness = {"delays": [-0.5, -0.1, 0.2]}
    link = plots.link_to_complete({"api_alone": completeness, "with_runtime": {"delays": [-0.9, -0.8]}})

    assert "file mtime - create answered (ms)" in texts(cdf.svg)
    assert "steady (3 pods)" in texts(cdf.svg)
    assert "complete .meta - log link (ms; negative: before the link)" in texts(link.svg)
    assert {"the API alone (3 containers)", "with the runtime source (2 containers)"} <= set(texts(link.svg))


def test_the_memory_section_embeds_its_plots_and_the_report_writes_them_beside_itself(tmp_path: Path) -> None:
    result = memory_figures()
    result.imports_kib = [("python", 9_000)]
    result.import_seconds, result.modules, result.client_modules = (
        {"in a pod": 0.2},
        {"in a pod": 300},
        {"in a pod": 0},
    )
    rows, section, drawn = report.memory_section(result, COUNTS)
    written = report.Report(command="bench/run.py", started=datetime.now(UTC), binaries=None, versions=None)
    written.add(rows, section, drawn)

    written.write(tmp_path / "RESULTS.md")

    assert [plot.name for plot in drawn] == ["memory-against-pods", "restart-peak"]
    markdown = (tmp_path / "RESULTS.md").read_text()
    for plot in drawn:
        assert f"![{plot.alt}](plots/{plot.name}.svg)" in markdown
        assert (tmp_path / "plots" / f"{plot.name}.svg").read_text() == plot.svg


@pytest.mark.parametrize("name", ["memory-against-pods", "restart-peak", "latency-cdf", "link-to-complete"])
def test_the_committed_report_embeds_each_plot_and_holds_its_file(name: str) -> None:
    markdown = (BENCH / "RESULTS.md").read_text()
    assert f"(plots/{name}.svg)" in markdown
    svg = (BENCH / "plots" / f"{name}.svg").read_text()
    assert ElementTree.fromstring(svg).tag.endswith("svg")
