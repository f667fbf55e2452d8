"""The benchmarks: pipeline throughput, event-to-file latency, memory, API cost, idle CPU, the image,
container facts at Fluent Bit's first read on a loaded node, and a fleet of 100 exporters.

Prints a summary table and, after a full run, writes bench/RESULTS.md. A figure never fails the run;
a benchmark that cannot run (an error, or no control plane) is reported and the exit status is 1.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import apicost
import fleet
import image
import latency
import memory
import nodeload
import pipeline
import podgen
import report
from support import control_plane

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCHMARKS = ("pipeline", "latency", "memory", "api", "image", "node", "fleet")
RESULTS = HERE / "RESULTS.md"
NO_CONTROL_PLANE = "no kube-apiserver/etcd: run `make controlplane` (needs Go)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter phases (about 3 min); writes no RESULTS.md"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable); 'api' includes idle CPU",
    )
    parser.add_argument(
        "--output", type=Path, help=f"write the report here (default after a full run: {RESULTS})"
    )
    parser.add_argument(
        "--exporter-src",
        type=Path,
        help="run the exporter from this copy of src/ (PYTHONPATH), to measure a change before making it",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs, audit log and directories")
    return parser


def main() -> int:  # noqa: PLR0912 - one branch per benchmark
    args = _parser().parse_args()
    selected = tuple(args.only) if args.only else BENCHMARKS
    full = not args.quick and selected == BENCHMARKS
    output = args.output or (RESULTS if full else None)
    command = shlex.join([_relative(Path(sys.executable)), _relative(Path(sys.argv[0])), *sys.argv[1:]])
    started = time.monotonic()
    binaries = None
    if set(selected) - {"pipeline", "image", "node"}:
        try:
            binaries = control_plane.ensure_binaries()
        except control_plane.ControlPlaneError as error:
            print(f"control plane unavailable: {error}", file=sys.stderr)
    result = report.Report(
        command=command,
        started=datetime.now(UTC),
        binaries=binaries,
        versions=control_plane.controlplane_versions() if binaries else None,
    )
    workdir = Path(tempfile.mkdtemp(prefix="pod-meta-bench-"))
    src = args.exporter_src.resolve() if args.exporter_src else None
    try:
        if "pipeline" in selected:
            _guard(result, "pipeline", lambda: _pipeline(result, quick=args.quick))
        cluster = [name for name in ("latency", "memory") if name in selected]
        if cluster:
            _guard(
                result,
                "/".join(cluster),
                lambda: _cluster(
                    result, binaries=binaries, selected=cluster, workdir=workdir, quick=args.quick, src=src
                ),
            )
        if "api" in selected:
            _guard(
                result,
                "api",
                lambda: _api(result, binaries=binaries, workdir=workdir, quick=args.quick, src=src),
            )
        if "image" in selected:
            _guard(result, "image", lambda: _image(result))
        if "node" in selected:
            _guard(result, "node", lambda: _node(result))
        if "fleet" in selected:
            _guard(
                result, "fleet", lambda: _fleet(result, binaries=binaries, workdir=workdir, quick=args.quick)
            )
    finally:
        if args.keep_workdir:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = time.monotonic() - started
    print()
    print(result.table())
    for failure in result.errors:
        print(f"error: {failure}", file=sys.stderr)
    if output is not None:
        result.write(output)
        print(f"\nwrote {_relative(output)}")
    return 1 if result.errors else 0


def _guard(result: report.Report, name: str, run: Callable[[], None]) -> None:
    try:
        run()
    except Exception as error:
        traceback.print_exc()
        result.errors.append(
            f"{name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )


def _pipeline(result: report.Report, *, quick: bool) -> None:
    count, repeats = (1000, 1) if quick else (5000, 3)
    places = {"disk (tempdir)": Path(tempfile.gettempdir()), "tmpfs (/dev/shm)": Path("/dev/shm")}
    _say(f"1. pipeline: {count:,} events x {repeats}, on disk and tmpfs")
    rows = pipeline.run(count=count, places=places, repeats=repeats)
    profiles, top = {}, ""
    for where, base in places.items():
        profiles[where], text = pipeline.profile(count, base)
        top = top or text
    renames = {where: pipeline.rename_costs(base) for where, base in places.items()}
    result.add(
        *report.pipeline(
            rows,
            count=count,
            repeats=repeats,
            line_bytes=len(podgen.watch_lines(1)[0]),
            profiles=profiles,
            top=top,
            renames=renames,
        )
    )


def _cluster(
    result: report.Report,
    *,
    binaries: control_plane.Binaries | None,
    selected: list[str],
    workdir: Path,
    quick: bool,
    src: Path | None,
) -> None:
    if binaries is None:
        raise RuntimeError(NO_CONTROL_PLANE)
    with control_plane.ControlPlane(binaries, workdir=workdir / "controlplane-1") as cp:
        if "latency" in selected:
            seconds = 10.0 if quick else 30.0
            _say(f"2. latency: 50 pods/s for {seconds:.0f} s, then flat out for {seconds:.0f} s")
            outcome = latency.run(
                cp, workdir=workdir, rate=50.0, steady_seconds=seconds, burst_seconds=seconds, pythonpath=src
            )
            result.add(*report.latency_section(outcome))
        if "memory" in selected:
            counts = (110, 500) if quick else (110, 500, 2000)
            _say(f"3. memory: RSS at 0, {', '.join(map(str, counts))} pods")
            figures = memory.run(cp, workdir=workdir, counts=counts, pythonpath=src)
            result.add(*report.memory_section(figures, counts))


def _api(
    result: report.Report,
    *,
    binaries: control_plane.Binaries | None,
    workdir: Path,
    quick: bool,
    src: Path | None,
) -> None:
    if binaries is None:
        raise RuntimeError(NO_CONTROL_PLANE)
    quiet, window = (30.0, 30.0) if quick else (180.0, 60.0)
    _say(f"4+5. API cost and idle CPU: start, {quiet:.0f} s quiet, restart, forced 410")
    outcome = apicost.run(binaries, workdir=workdir, quiet_seconds=quiet, cpu_window=window, pythonpath=src)
    result.add(*report.api_section(outcome))


def _image(result: report.Report) -> None:
    _say("6. image: the Dockerfile built, its size and its imports (needs a Docker engine, or root)")
    result.add(*report.image_section(image.run_benchmark()))


def _node(result: report.Report) -> None:
    _say("7. container facts on a loaded node: the node tier's load mode (a real kubelet; root)")
    result.add(*report.node_section(nodeload.run()))


def _fleet(
    result: report.Report, *, binaries: control_plane.Binaries | None, workdir: Path, quick: bool
) -> None:
    if binaries is None:
        raise RuntimeError(NO_CONTROL_PLANE)
    nodes, pods, window = (20, 4_000, 20.0) if quick else (fleet.NODES, fleet.PODS, fleet.WINDOW)
    _say(f"8. fleet: {nodes} exporters, {pods:,} pods; cold start, API server restart, 410s and 429s")
    result.add(
        *report.fleet_section(
            fleet.run(binaries, workdir=workdir / "fleet", nodes=nodes, pods=pods, window=window)
        )
    )


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _relative(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(REPO))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
