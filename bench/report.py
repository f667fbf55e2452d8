"""The benchmark report: machine, versions, a summary table against the targets, each benchmark's detail."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apicost
import fleetproxy
import latency
import memory
import plots

if TYPE_CHECKING:
    from datetime import datetime

    import fleet
    import image
    from support.control_plane import Binaries

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LIBRARIES = ("kubernetes", "urllib3", "dependency-injector", "prometheus-client")


@dataclass(frozen=True, slots=True)
class Row:
    benchmark: str
    figure: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    command: str
    started: datetime
    binaries: Binaries | None
    versions: tuple[str, str] | None  # (kubernetes, etcd) as pinned by the wrapper modules
    rows: list[Row] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    drawn: list[plots.Plot] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, rows: list[Row], section: str, drawn: tuple[plots.Plot, ...] = ()) -> None:
        """A section, with the plots it embeds (drawn from the same figures as its tables)."""
        self.rows.extend(rows)
        self.sections.append(section)
        self.drawn.extend(drawn)

    def write(self, output: Path) -> None:
        """RESULTS.md at `output`, and its plots in plots/ beside it."""
        folder = output.parent / plots.DIRECTORY
        folder.mkdir(parents=True, exist_ok=True)
        for plot in self.drawn:
            (folder / f"{plot.name}.svg").write_text(plot.svg)
        output.write_text(self.markdown())

    def table(self) -> str:
        lines = ["| benchmark | figure | measured | target | met |", "| --- | --- | ---: | --- | :---: |"]
        for row in self.rows:
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            lines.append(f"| {row.benchmark} | {row.figure} | {row.value} | {row.target} | {met} |")
        return "\n".join(lines)

    def markdown(self) -> str:
        parts = [
            "# Benchmark results",
            "",
            "Written by `bench/run.py`; do not edit by hand. The ratios measured in one run are the "
            "headline figures: absolute times on this shared machine are context.",
            "",
            "## Setup",
            "",
            *(f"- {line}" for line in self.environment()),
            "",
            "## Summary",
            "",
            self.table(),
        ]
        if self.errors:
            parts += ["", "## Errors", "", *(f"- {error}" for error in self.errors)]
        for section in self.sections:
            parts += ["", section.rstrip()]
        return "\n".join(parts) + "\n"

    def environment(self) -> list[str]:
        return [
            f"command: `{self.command}` ({self.seconds / 60:.1f} min)",
            f"date: {self.started:%Y-%m-%d %H:%M} UTC",
            f"machine: {cpu_model()}, {os.cpu_count()} cores, {memory_total()} memory; "
            f"Linux {platform.release()}",
            f"disk benchmarks in {tempfile.gettempdir()}: {filesystem(Path(tempfile.gettempdir()))}; "
            f"tmpfs: /dev/shm",
            f"Python {platform.python_version()} ({platform.python_implementation()})",
            "libraries: " + ", ".join(f"{name} {_version(name)}" for name in LIBRARIES),
            f"control plane: {self.control_plane()}",
        ]

    def control_plane(self) -> str:
        if self.binaries is None:
            return "not available (no binaries and no Go): the API benchmarks did not run"
        pinned = (
            f" (pinned: k8s.io/kubernetes {self.versions[0]}, etcd {self.versions[1]})"
            if self.versions
            else ""
        )
        return (
            f"{_binary_version(self.binaries.kube_apiserver)} kube-apiserver, "
            f"etcd {_binary_version(self.binaries.etcd)}{pinned}, on loopback, "
            "built from the official Go modules (tests/integration/controlplane)"
        )


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _binary_version(binary: Path) -> str:
    try:
        output = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = output.splitlines()[0] if output else ""
    return first.removeprefix("Kubernetes ").removeprefix("etcd Version: ").strip() or "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def memory_total() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    return "unknown"


def filesystem(path: Path) -> str:
    best = ("", "unknown", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind, options = line.split()[:4]
        if str(path.resolve()).startswith(mount) and len(mount) >= len(best[0]):
            best = (mount, f"{kind} on {device}", options)
    return f"{best[1]} mounted at {best[0]} ({best[2]})"


# -- formatting ----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def rate(value: float) -> str:
    return f"{value:,.0f}/s"


# -- 1. pipeline ---------------------------------------------------------------------------


def pipeline(
    rows: dict[str, dict[str, float]],
    *,
    count: int,
    repeats: int,
    line_bytes: int,
    profiles: dict[str, list[tuple[str, float]]],
    top: str,
    renames: dict[str, dict[str, float]],
) -> tuple[list[Row], str]:
    import pipeline as bench

    summary = []
    for where, r in rows.items():
        place = where.split(" ")[0]
        summary += [
            Row("1 pipeline", f"minimal, {place}", rate(r["minimal"]), "≥ 5,000/s", r["minimal"] >= 5000),
            Row(
                "1 pipeline",
                f"minimal / naive, {place}",
                f"{r['minimal'] / r['naive']:.1f}x",
                "≥ 5x",
                r["minimal"] / r["naive"] >= 5,
            ),
            Row("1 pipeline", f"full / naive, {place}", f"{r['full'] / r['naive']:.1f}x"),
        ]
    places = list(profiles)
    stage_rows = [
        "| stage (µs per event, cProfile) | " + " | ".join(places) + " |",
        "| --- |" + " ---: |" * len(places),
    ]
    for i, (label, _) in enumerate(next(iter(profiles.values()))):
        stage_rows.append(f"| {label} | " + " | ".join(f"{profiles[p][i][1]:.1f}" for p in places) + " |")
    rename_rows = [
        "| `os.replace` of a 1.5 KB temporary | " + " | ".join(renames) + " |",
        "| --- |" + " ---: |" * len(renames),
    ]
    rename_rows += [
        f"| {label} | " + " | ".join(f"{renames[p][label]:.0f} µs" for p in renames) + " |"
        for label in next(iter(renames.values()))
    ]
    places_rows = list(rows.values())
    disk, tmpfs = places_rows[0], places_rows[-1]
    disk_profile, tmpfs_profile = (dict(profiles[p]) for p in (places[0], places[-1]))
    replace = "os.replace: rename onto the old file"
    share = disk_profile[replace] / disk_profile["total (profiled)"]
    section = f"""## 1. Pipeline throughput

`bench/pipeline.py`: {count:,} MODIFIED watch lines of {line_bytes:,}-byte podgen pods (200 pods, each
event changes a label, so every event is a write) go through `reflector.decode`, the core
(`MetaDirectory`) and `DirectoryStore` on a real directory, one event at a time (the service batches
up to 256 events and coalesces a pod's updates, so this is its worst case). "naive" is what an
operator would write with the client: `json.loads`, `ApiClient.deserialize` into `V1Pod`,
`sanitize_for_serialization`, `json.dump` in place. Each figure is the median of {repeats} run(s);
the page cache is synced before each.

{bench.table(rows)}

Where the minimal path's time goes ({count:,} events, one profiled run per directory; cProfile
inflates Python-level costs, not system calls):

{chr(10).join(stage_rows)}

Top functions on disk, by own time:

```
{top}
```

The rename alone, outside the exporter (2,000 renames of a fresh 1.5 KB file each, onto 200 names
or onto new names):

{chr(10).join(rename_rows)}

On disk the minimal path runs at {rate(disk["minimal"])}, on tmpfs at {rate(tmpfs["minimal"])}. The
atomic write's `rename(2)` onto the pod's previous file takes {disk_profile[replace]:.0f} µs per event
on disk ({share:.0%} of the profiled time) against {tmpfs_profile[replace]:.0f} µs on tmpfs. ext4
(default `auto_da_alloc`) treats a rename that replaces a file as the "write a temporary, rename it
over" pattern and starts writeback of the new file's delayed-allocation blocks inside the rename,
so that a crash cannot leave an empty file: the call pays for block allocation and I/O submission.
The same rename onto a new name, or on tmpfs, does not. The Python work (decode, document, digest,
core) is the same in both places; on this 2-core machine it also runs slower next to the kernel's
writeback.
"""
    return summary, section


# -- 2. latency ----------------------------------------------------------------------------


def latency_section(result: latency.Result) -> tuple[list[Row], str, tuple[plots.Plot, ...]]:
    rows = []
    lines = [
        "| phase | creates | achieved | failed | events | histogram p50 | p99 | max ≤ | "
        "mtime - answered p50 | p99 | max | mtime - sent p99 | missing | rewritten |",
        "| --- |" + " ---: |" * 13,
    ]
    for i, phase in enumerate(result.phases):
        back = latency.summary(phase.after_return)
        sent = latency.summary(phase.after_send)
        lines.append(
            f"| {phase.name} | {phase.created:,} | {rate(phase.rate)} | {phase.failed} | {phase.events:,} | "
            f"{ms(phase.quantile(0.5))} | {ms(phase.quantile(0.99))} | {ms(phase.bound)} | "
            f"{ms(back['p50'])} | {ms(back['p99'])} | {ms(back['max'])} | {ms(sent['p99'])} | "
            f"{phase.missing} | {phase.rewritten} |"
        )
        steady = i == 0
        rows += [
            Row(
                "2 latency",
                f"{phase.name}: achieved rate",
                rate(phase.rate),
                f"{result.target_rate:.0f}/s" if steady else "",
            ),
            Row(
                "2 latency",
                f"{phase.name}: p50 / p99 (exporter histogram)",
                f"{ms(phase.quantile(0.5))} / {ms(phase.quantile(0.99))}",
                "p99 ≤ 50 ms" if steady else "",
                phase.quantile(0.99) <= 0.05 if steady else None,
            ),
            Row("2 latency", f"{phase.name}: max (histogram bucket)", f"≤ {ms(phase.bound)}"),
            Row(
                "2 latency",
                f"{phase.name}: p50 / p99 / max (file mtime - create answered)",
                f"{ms(back['p50'])} / {ms(back['p99'])} / {ms(back['max'])}",
            ),
        ]
    cdf = plots.latency_cdf(result)
    section = f"""## 2. Event-to-file latency (real API server)

A control plane on loopback, Node `bench-node`, and the exporter as a subprocess (the console script,
admin kubeconfig, `--log-format json --log-level warning`, destination on disk). Pods (podgen bodies,
`spec.nodeName=bench-node`) are created on a schedule of {result.target_rate:.0f}/s by a pool of
{result.threads} client threads (each deleted with `gracePeriodSeconds=0` one second later), then
as fast as {result.threads} threads can create and at once delete them. Each pod makes three watch
events: ADDED, MODIFIED (its deletion recorded), DELETED.

- **histogram**: the exporter's own `pod_meta_exporter_event_to_file_seconds` (from the event read
  off the watch to its file written or found unchanged, all events), differenced over the phase;
  quantiles interpolated within buckets as `histogram_quantile` does, max as the highest bucket bound.
- **mtime**: each pod's file mtime against the harness's `time.time()` when the create's response was
  read ("answered") or the request written ("sent"). The minimal document of a deleted pod equals
  the created one's, so a file is written once ("rewritten" counts files written more than once).
  The answer can reach the harness after the watch event reaches the exporter, so values can be
  negative. {_mtime_note(result.mtime_lag_ms)}

{chr(10).join(lines)}

{cdf.markdown}
"""
    return rows, section, (cdf,)


def _mtime_note(lag_ms: float) -> str:
    if lag_ms <= 0:
        return (
            "In 200 calibration writes, no file's mtime preceded the `time.time()` read before its "
            "write: the kernel stamped them from a fine-grained clock."
        )
    return (
        f"The kernel stamps mtimes from a coarse clock: in 200 calibration writes, an mtime trailed "
        f"the `time.time()` read before its write by up to {lag_ms:.1f} ms."
    )


# -- 3. memory -----------------------------------------------------------------------------


def memory_section(
    result: memory.Result, counts: tuple[int, ...]
) -> tuple[list[Row], str, tuple[plots.Plot, ...]]:
    rows = []
    targets = {
        ("in a pod", "0 pods (synced)"): 40,
        ("in a pod", "500 pods"): 40,
        ("kubeconfig", "500 pods"): 60,
    }
    for mode, by_situation in result.rss_kib.items():
        for label, kib in by_situation.items():
            target = targets.get((mode, label))
            value = mib(kib) + (f" (peak {mib(result.hwm_kib[mode][label])})" if "restart" in label else "")
            met = kib <= target * 1024 if target else None
            rows.append(
                Row("3 memory", f"RSS {mode}, {label}", value, f"≤ {target} MiB" if target else "", met)
            )
    rows += _restart_peak_rows(result)
    low, high = f"{counts[0]:,} pods", f"{counts[-1]:,} pods"
    for mode, by_situation in result.rss_kib.items():
        if low in by_situation and high in by_situation and counts[-1] > counts[0]:
            growth = result.growth_per_pod_kib(mode, low, high, counts[-1] - counts[0])
            rows.append(
                Row(
                    "3 memory",
                    f"growth per pod {mode} ({high} - {low})",
                    f"{growth:.2f} KiB",
                    "< 4 KiB",
                    growth < 4,
                )
            )
    for mode, seconds in result.import_seconds.items():
        rows.append(Row("3 memory", f"imports of a start {mode}", f"{seconds * 1000:.0f} ms", "", None))
    modes = list(result.rss_kib)
    header = "| exporter | " + " | ".join(f"{mode}: VmRSS | peak" for mode in modes) + " |"
    state = [header, "| --- |" + " ---: | ---: |" * len(modes)]
    for label in result.rss_kib[modes[0]]:
        cells = [f"{mib(result.rss_kib[m][label])} | {mib(result.hwm_kib[m][label])}" for m in modes]
        state.append(f"| {label} | " + " | ".join(cells) + " |")
    base = result.imports_kib[0][1] if result.imports_kib else 0
    imports = ["| `python -c ...` | VmRSS | over the interpreter |", "| --- | ---: | ---: |"]
    imports += [f"| {label} | {mib(kib)} | +{mib(kib - base)} |" for label, kib in result.imports_kib]
    timing = [
        "| a start | modules imported | of the official client | time importing |",
        "| --- | ---: | ---: | ---: |",
    ]
    timing += [
        f"| {mode} | {result.modules[mode]} | {result.client_modules[mode]} | "
        f"{result.import_seconds[mode] * 1000:.0f} ms |"
        for mode in result.import_seconds
    ]
    by_pods, peaks = plots.rss_against_pods(result, counts), plots.restart_peaks(result, counts)
    section = f"""## 3. Memory

VmRSS of the exporter (`/proc/<pid>/status`), read once the directory holds every pod's file and
four readings 0.5 s apart agree within 1%. Two exporters run side by side on the same node: one as
in a pod (`KUBERNETES_SERVICE_HOST`/`PORT` and a service account directory bound at
`/var/run/secrets/kubernetes.io/serviceaccount`, which is how it runs in production), one with a
kubeconfig. Pods are created by the harness through the API server and reach them as watch events,
one by one. Each "restart" row is a second pair started once those pods exist, so that they reach
it at once: what a restart on that node costs. "State streamed" is the default, the initial state
streamed object by object in a watch (WatchList); "state listed" is the same against the API
server restarted with `--feature-gates=WatchList=false` (and a node of pods created anew), so that
the exporter falls back to one LIST response. VmHWM is the peak so far.

{chr(10).join(state)}

{by_pods.markdown}

{peaks.markdown}

What a start imports (`python -X importtime`, the self times summed, until `/readyz` is 200):

{chr(10).join(timing)}

What the imports alone cost, each in a fresh interpreter:

{chr(10).join(imports)}
{_memory_notes(result, counts)}"""
    return rows, section, (by_pods, peaks)


def _restart_peak_rows(result: memory.Result) -> list[Row]:
    """A restart's peak in a pod: within 10 MiB of the settled figure at 500 pods, and under 80 MiB
    at 2,000 pods, with the state streamed; the listed path beside it, for comparison."""
    rows = []
    settled = result.rss_kib.get("in a pod", {})
    peaks = result.hwm_kib.get("in a pod", {})
    for how in (memory.RESTART_STREAMED, memory.RESTART_LISTED):
        streamed = how == memory.RESTART_STREAMED
        path = how.removeprefix("restart, ")
        if "500 pods" in settled and (peak := peaks.get(f"500 pods, {how}")) is not None:
            over = peak - settled["500 pods"]
            target, met = ("≤ 10 MiB", over <= 10 * 1024) if streamed else ("", None)
            rows.append(
                Row(
                    "3 memory",
                    f"restart peak - settled in a pod, 500 pods, {path}",
                    f"{mib(over)}",
                    target,
                    met,
                )
            )
        if (peak := peaks.get(f"2,000 pods, {how}")) is not None:
            target, met = ("< 80 MiB", peak < 80 * 1024) if streamed else ("", None)
            rows.append(Row("3 memory", f"restart peak in a pod, 2,000 pods, {path}", mib(peak), target, met))
    return rows


def _memory_notes(result: memory.Result, counts: tuple[int, ...]) -> str:
    figures = dict(result.imports_kib)
    notes = []

    def figure(prefix: str) -> int | None:
        return next((kib for label, kib in figures.items() if label.startswith(prefix)), None)

    client, core = figure("`import kubernetes.client`"), figure("`kubernetes.client.CoreV1Api`")
    own, loader = figure("exporter modules (`"), figure("exporter modules + the kubeconfig loader")
    if client and core:
        notes.append(
            f"- `CoreV1Api` adds {mib(core - client)} to `import kubernetes.client`: its module defines "
            "every core/v1 operation with pydantic-annotated signatures."
        )
    if own and loader:
        notes.append(
            f"- The kubeconfig loader, which imports the official client, adds {mib(loader - own)}; in a "
            "pod the exporter never imports it."
        )
    pod = result.rss_kib.get("in a pod", {})
    if own and "0 pods (synced)" in pod:
        notes.append(
            f"- The synced exporter in a pod with 0 pods holds {mib(pod['0 pods (synced)'] - own)} more "
            "than its modules' import: threads, the HTTP server, TLS."
        )
    for mode, by_situation in result.rss_kib.items():
        for how in (memory.RESTART_STREAMED, memory.RESTART_LISTED):
            extra = [
                f"{count:,} pods: {mib(by_situation[restarted] - by_situation[watched])}"
                for count in counts
                if (watched := f"{count:,} pods") in by_situation
                and (restarted := f"{watched}, {how}") in by_situation
            ]
            if extra:
                notes.append(
                    f"- {mode}, {how.removeprefix('restart, ')}: after a restart the exporter holds this "
                    f"much more than with the same pods arriving one event at a time ({'; '.join(extra)})."
                )
    return "\n" + "\n".join(notes) + "\n" if notes else ""


# -- 4 and 5. API cost and idle CPU -----------------------------------------------------------


def _counted(window: apicost.Window) -> str:
    counts = window.by_verb()
    return ", ".join(f"{verb} {resource} x{n}" for (verb, resource), n in sorted(counts.items())) or "none"


def _request_rows(result: apicost.Result) -> list[str]:
    rows = [
        "| phase | seconds | verb | resource | query (fieldSelector omitted) | status |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for window in result.windows:
        if not window.requests:
            rows.append(f"| {window.name} | {window.seconds:.0f} | - | | no request | |")
        for request in window.requests:
            status = str(request.code) if request.code is not None else "open"
            if request.code is not None and not request.ended:
                status += ", still open"
            rows.append(
                f"| {window.name} | {window.seconds:.0f} | {apicost.verb(request)} | {request.resource} | "
                f"`{request.query}` | {status} |"
            )
    return rows


def api_section(result: apicost.Result) -> tuple[list[Row], str]:
    windows = {w.name: w for w in result.windows}
    start, quiet, gone = windows["start (until synced)"], windows["quiet"], windows["forced 410"]
    low, high = 3600 / 600, 3600 / 300
    timeouts = result.watch_timeouts
    mean = sum(timeouts) / len(timeouts) if timeouts else float("nan")
    no_gets = all(r.verb in ("list", "watch") for w in result.windows for r in w.requests)
    gone_syncs = gone.syncs()
    cpu_ok = result.idle_cpu_percent < 0.5
    rows = [
        Row(
            "4 API cost",
            "at start (measured)",
            _counted(start),
            "1 watch, streaming the state",
            start.by_verb() == {("watch (state streamed)", "pods"): 1},
        ),
        Row(
            "4 API cost",
            f"quiet {quiet.seconds:.0f} s (measured)",
            _counted(quiet),
            "no relists, no GETs",
            all(r.verb == "watch" for r in quiet.requests) and quiet.syncs() == 0,
        ),
        Row(
            "4 API cost",
            "per hour of quiet (derived from timeoutSeconds)",
            f"{low:.0f}-{high:.0f} watches, 0 lists"
            + (f" (this run's mean: {3600 / mean:.1f})" if timeouts else ""),
        ),
        Row(
            "4 API cost",
            "after a forced 410 (measured)",
            _counted(gone),
            "1 resync",
            gone_syncs == 1,
        ),
        Row("4 API cost", "GETs, all phases (measured)", "none" if no_gets else "some", "none", no_gets),
        Row(
            "5 idle CPU",
            f"synced, {apicost.PODS} pods, quiet {quiet.seconds:.0f} s",
            f"{result.idle_cpu_percent:.3f}% of a core",
            "< 0.5%",
            cpu_ok,
        ),
        Row("5 idle CPU", "busiest window", f"{result.idle_cpu_percent_max_window:.3f}% of a core"),
    ]
    restart = windows["API server restart (watch cache off)"]
    refused = [r for r in restart.requests if r.code is not None and r.code >= 400]
    codes = ", ".join(str(r.code) for r in refused)
    restart_note = (
        f" {len(refused)} request(s) of the restart phase were refused ({codes}): the restarted API"
        " server answered before its RBAC authorizer had synced; the exporter backed off and retried."
        if refused
        else ""
    )
    cpu = ", ".join(f"{c:.2f} s in {s:.0f} s" for s, c in result.cpu_windows)
    drawn = ", ".join(map(str, timeouts)) or "none"
    section = f"""## 4. API cost

Counted from the API server's audit log (`--audit-log-path`, `--audit-policy-file`): level
`Metadata` for the exporter's user only (`{result.user}`, the ServiceAccount bound to
deploy/fluent-bit's ClusterRole, its token from TokenRequest), `None` for everyone else, so the
harness's admin traffic is not in the log. One row per request (auditID), placed in the phase in
which the API server received it; "status" is the last stage logged (a watch is 200 until it ends).
The exporter runs on a node with {apicost.PODS} pods.

{chr(10).join(_request_rows(result))}

- **measured**: the rows above. The quiet window is {quiet.seconds:.0f} s, with no scrape of the
  exporter and no change on the node.{restart_note}
- **derived, per hour of quiet**: a watch ends when the API server's `timeoutSeconds` runs out
  (drawn per watch from 300-600 s by `WatchSettings`, like the kubelet's reflector) and is replaced
  by one watch from the last resourceVersion, no list: {low:.0f}-{high:.0f} watch requests per hour,
  {3600 / 450:.0f} on average. The timeouts drawn in this run: {drawn} s. The watch cache sends a
  bookmark about once a minute, which keeps the resourceVersion fresh, so a watch that ends after
  an hour of silence resumes without a 410: at the end of the {quiet.seconds:.0f} s quiet window,
  with no pod event since the start, the exporter's `seconds_since_last_event` (reset by events
  and bookmarks) read {result.since_event_after_quiet:.0f} s.
- **forced 410**: the API server is restarted with `--watch-cache=false` (the exporter watches
  again: the "restart" phase); then the exporter is stopped with SIGSTOP, the API server restarted
  again, 10 pods deleted and 10 created, etcd compacted past the exporter's resourceVersion, and
  the exporter continued. Its watch from the old resourceVersion reaches etcd, which answers 410
  Gone (an ERROR event on a 200 stream); it fetches the state once more (streamed in a watch from
  the last resourceVersion it saw, which etcd also serves) and goes on watching. `relists_total` at
  the end: {result.relists:.0f}; the 10 new pods' files written: {"yes" if result.files_after_410 else "no"}.

## 5. Idle CPU

utime + stime of the exporter (`/proc/<pid>/stat`, in {1000 / CLOCK_TICKS:.0f} ms ticks) during the
quiet window of benchmark 4 (synced, {apicost.PODS} pods, nothing changing, nobody scraping it):
{cpu}. That is {result.idle_cpu_percent:.3f}% of one core on average and
{result.idle_cpu_percent_max_window:.3f}% in the busiest window. The process sleeps in blocking
reads: the main loop waits on its queue, turning every 5 s for its liveness heartbeat when no
retention is pending, and the watch thread wakes for a bookmark about once a minute.
"""
    return rows, section


def image_section(result: image.Result) -> tuple[list[Row], str]:
    absent = not result.imported
    rows = [
        Row("6 image", "size (`docker image inspect`)", f"{result.size_bytes / 1e6:.1f} MB"),
        Row("6 image", "/app (the exporter and its dependencies)", f"{result.app_bytes / 1e6:.1f} MB"),
        Row(
            "6 image",
            f"exporter modules imported, VmRSS (Python {result.python})",
            mib(result.import_rss_kib),
        ),
        Row(
            "6 image",
            "official client and pydantic in the image",
            "none" if absent else ", ".join(result.imported),
            "none",
            absent,
        ),
    ]
    packages = "\n".join(f"| `{name}` | {size / 1e6:.1f} MB |" for name, size in result.packages.items())
    section = f"""## 6. Container image

The image of the project's `Dockerfile`, built on:
{result.bases}.

Its size is what `docker image inspect` reports (uncompressed, all layers); /app is where the
Dockerfile installs the exporter
and its hash-pinned dependencies (`deploy/docker/requirements.txt`), which leave out the
`kubeconfig` extra: the official client, and with it pydantic, which dependency-injector imports
whenever it finds it. The image's own interpreter then imports what a start in a pod imports
(`entrypoints.cli`, `entrypoints.container`, `adapters.kubernetes`) and reads its VmRSS:
{mib(result.import_rss_kib)} on Python {result.python}. The running exporter in its pod, on a kind
node with 100 pods, is measured by the e2e tier (`tests/e2e/test_footprint.py`, in its figures).

| /app, largest entries | size |
| --- | ---: |
{packages}
"""
    return rows, section


def _completeness_row(label: str, figures: dict[str, Any], p99: float) -> str:
    delays = [d * 1000 for d in figures["delays"]]
    at = " | ".join(f"{f:.0%}" for f in figures["complete_at"])
    spread = f"{delays[0]:.0f} / {statistics.median(delays):.0f} / {p99 * 1000:.0f} / {delays[-1]:.0f}"
    return (
        f"| {label} | {figures['containers']} | {figures['before_link']:.1%} | {at} | {spread} | "
        f"{figures['premature']:.1%} |"
    )


def node_section(figures: dict[str, Any]) -> tuple[list[Row], str, tuple[plots.Plot, ...]]:
    runtime, alone = figures["with_runtime"], figures["api_alone"]
    p99 = figures["p99_after_link"]
    mismatches = figures["mismatches"]
    rss = figures["rss_kib"]
    rows = [
        Row(
            "7 node load",
            ".meta complete before the link, with the runtime source",
            f"{runtime['before_link']:.1%}",
            ">= 99%",
            runtime["before_link"] >= 0.99,
        ),
        Row(
            "7 node load",
            "link to complete .meta, p99, with the runtime source",
            f"{p99['with_runtime'] * 1000:.0f} ms",
            "<= 20 ms",
            p99["with_runtime"] <= 0.020,
        ),
        Row(
            "7 node load",
            "values differing from the kubelet's final status",
            f"{mismatches['runtime']} (API alone: {mismatches['api']})",
            "0",
            mismatches["runtime"] == 0,
        ),
        Row(
            "7 node load", ".meta complete before the link, from the API alone", f"{alone['before_link']:.1%}"
        ),
        Row(
            "7 node load",
            "VmRSS with --cri-endpoint, and without",
            f"{mib(rss['with_runtime'])}, {mib(rss['api_alone'])}",
        ),
    ]
    at = " | ".join(f"complete at {offset:g} s" for offset in figures["read_after"])
    table = "\n".join(
        [
            f"| source | containers | complete before the link | {at} | link to complete, ms: min / median / "
            "p99 / max (negative: before) | Fluent Bit's premature reads |",
            "| --- | ---: | ---: |" + " ---: |" * len(figures["read_after"]) + " ---: | ---: |",
            _completeness_row("the API alone", alone, p99["api_alone"]),
            _completeness_row("with the runtime source", runtime, p99["with_runtime"]),
        ]
    )
    fluent_bit = figures["fluent_bit"]
    if isinstance(fluent_bit, str):
        records = f"Real Fluent Bit was left out: {fluent_bit}."
    else:
        lines = [
            "| Fluent Bit behind | records | with the pod's metadata | and the container's hash and "
            "status image |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, counts in fluent_bit.items():
            total = counts["records"] or 1
            label = "the API alone" if name == "api" else "with the runtime source"
            lines.append(
                f"| {label} | {counts['records']} | {counts['with_pod'] / total:.0%} | "
                f"{counts['with_container'] / total:.0%} |"
            )
        records = "\n".join(lines)
    cpu = figures["cpu_seconds"]
    delays = plots.link_to_complete(figures)
    section = f"""## 7. Container facts at Fluent Bit's first read, on a loaded node

The node tier's load mode (`tests/node/test_under_load.py`, run by `bench/nodeload.py`): a real
kubelet v1.36.3 with Debian's containerd 1.6 and runc runs {figures["burst"]} short-lived pods
(busybox printing two lines), created at once ({figures["created_seconds"]:.1f} s of POSTs) beside
{figures["busy_pods"]} pods that keep the node's CPUs busy, which delays the kubelet's status sync.
Two exporters run side by side as deployed: one follows the API alone, the other also the node's
containerd (`--cri-endpoint`, polling every 20 ms while a pod awaits a container). A reader per
exporter sees each log link appear in `/var/log/containers` and notes every write of the `.meta`
in the same inotify queue, so "before the link" is an order; it reads the `.meta` at the link and
0.25, 0.5 and 1 s later, as Fluent Bit's scan every `refresh_interval` ({figures["refresh_interval"]:g} s)
may. Premature reads are the chance that the scan reads the `.meta` before it is complete.

{table}

Real Fluent Bit v5.1.1 behind each exporter, in the node's namespaces with `deploy/`'s tail and
kubernetes filter settings and an API server it cannot reach, so that only the files enrich:

{records}

Every container ID, image and image ID either exporter wrote equalled the kubelet's final status
for that container: {mismatches["runtime"]} differences with the runtime source,
{mismatches["api"]} from the API alone. The exporters' CPU during the burst:
{cpu["api_alone"]:.2f} s from the API alone, {cpu["with_runtime"]:.2f} s with the runtime source;
VmRSS {mib(rss["api_alone"])} and {mib(rss["with_runtime"])} (grpcio and protobuf are imported only
with the flag).

{delays.markdown}
"""
    return rows, section, (delays,)


def fleet_section(result: fleet.Result) -> tuple[list[Row], str]:
    nodes = result.nodes
    rows = []
    lines = [
        "| situation | seconds | requests per node (per minute) | at the proxy, by kind (refused there) | "
        "served by the API server | API server CPU, peak RSS | exporters converged | most requests of "
        "one exporter (client-go's pacing allows) |",
        "| --- | ---: | ---: | --- | --- | --- | --- | ---: |",
    ]
    for scenario in result.scenarios:
        total = sum(scenario.asked.values())
        kinds: dict[str, list[int]] = {}
        for (kind, refused), count in sorted(scenario.asked.items()):
            kinds.setdefault(kind, [0, 0])[refused] += count
        asked = ", ".join(f"{kind} {a + r}" + (f" ({r})" if r else "") for kind, (a, r) in kinds.items())
        served = ", ".join(f"{verb} {count}" for verb, count in sorted(scenario.served.items())) or "none"
        converge = sorted(scenario.converge)
        settled = (
            f"median {statistics.median(converge):.1f} s, all in {converge[-1]:.1f} s"
            if len(converge) > 1
            else f"all ready {converge[0]:.1f} s later"
        )
        most = max(scenario.per_exporter, default=0)
        bound = f" ({scenario.bound})" if scenario.bound is not None else ""
        lines.append(
            f"| {scenario.name} | {scenario.seconds:.0f} | {total / nodes:.2f} "
            f"({scenario.requests_per_node_per_minute(nodes):.2f}) | {asked} | {served} | "
            f"{scenario.apiserver_cpu:.1f} s, {mib(scenario.apiserver_peak_rss_kib)} | {settled} | "
            f"{most:.0f}{bound} |"
        )
        rows.append(
            Row(
                "8 fleet",
                f"{scenario.name}: requests per node (most of one exporter)",
                f"{total / nodes:.2f} ({most:.0f})",
                f"<= client-go's {scenario.bound}" if scenario.bound is not None else "",
                None if scenario.bound is None else most <= scenario.bound,
            )
        )
    pods_per_node = result.pods // nodes
    section = f"""## 8. A fleet

`bench/fleet.py` (`make bench-fleet`): {nodes} exporters, each on a node of its own, in
in-cluster mode as separate processes (this 2-core machine holds {nodes}: {mib(max(result.exporter_rss_kib))}
of RSS each at most), with {result.pods:,} pods spread over the nodes ({pods_per_node} each; created in
{result.create_seconds:.0f} s), against one real kube-apiserver. They reach it through a proxy
(`bench/fleetproxy.py`) that counts every request by exporter, and for the last two situations
cuts every open watch and then answers every watch with 410, or every request with 429 and
`Retry-After: {fleetproxy.RETRY_AFTER}`, for the stated time. "Served" counts the requests in the
API server's audit log; the proxy's refusals never reach it. A situation lasts until every
exporter is ready again; client-go's pacing is the most requests a reflector makes in that time if
each fails (delays of at least 0.8 s doubling to 30 s, or the Retry-After).

{chr(10).join(lines)}

What Fluent Bit's kubernetes filter alone would ask instead (its source, `flb_kube.c`: one GET of
the pod on a cache miss, the cache kept for `kube_meta_cache_ttl`): at a Fluent Bit (re)start, one
GET per pod that logs, {pods_per_node} per node and {result.pods:,} for the fleet at once; then,
with the deployed TTL of 10 s, one GET per pod every 10 s for as long as it logs,
{pods_per_node * 6:,} per node per minute; with the default TTL of 0, one per new pod. The
exporter asks one streamed watch per node at a start, and on a quiet node one watch per 5 to 10
minutes (section 4).
"""
    return rows, section
