"""Pipeline throughput: watch lines -> event parsing -> the core -> DirectoryStore, against the naive
path with the official client's models. `--smoke` is the ~2 s run that `make test` does."""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

import podgen
from pod_meta_exporter.adapters.kubernetes import reflector
from pod_meta_exporter.adapters.store import DirectoryStore
from pod_meta_exporter.domain import events
from pod_meta_exporter.domain.directory import MetaDirectory
from pod_meta_exporter.domain.documents import DocumentProfile
from pod_meta_exporter.service.reconcile import apply_due


def real_path(lines: list[bytes], profile: DocumentProfile, directory: Path) -> float:
    store = DirectoryStore(directory)
    store.prepare()
    core = MetaDirectory(retention=60.0, profile=profile)
    started = time.perf_counter()
    for line in lines:
        now = time.perf_counter()
        kind, obj = reflector.decode(line)
        core.handle(events.PodDeleted(obj) if kind == "DELETED" else events.PodUpserted(obj), now=now)
        applied = apply_due(core, store, now=now)
        assert not applied.failures
    return len(lines) / (time.perf_counter() - started)


def naive_path(lines: list[bytes], directory: Path) -> float:
    """What an operator would write with the client: kubernetes.watch.Watch's own unmarshalling
    (json.loads, then deserialize into V1Pod), sanitize_for_serialization, json.dump in place."""
    from kubernetes import client

    api: Any = client.ApiClient()  # the client is untyped
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for line in lines:
        event = json.loads(line)
        pod: Any = api.deserialize(json.dumps(event["object"]), "V1Pod", "application/json")
        document = api.sanitize_for_serialization(pod)
        path = directory / f"{pod.metadata.namespace}_{pod.metadata.name}.meta"
        with path.open("w") as file:
            json.dump(document, file)
    return len(lines) / (time.perf_counter() - started)


def measure(count: int, base: Path, *, repeats: int = 1) -> dict[str, float]:
    """events/s of each path in a fresh directory under `base`: the median of `repeats` runs."""
    lines = podgen.watch_lines(count)
    runs: dict[str, list[float]] = {"minimal": [], "full": [], "naive": []}
    paths: dict[str, Callable[[Path], float]] = {
        "minimal": lambda d: real_path(lines, DocumentProfile.MINIMAL, d),
        "full": lambda d: real_path(lines, DocumentProfile.FULL, d),
        "naive": lambda d: naive_path(lines, d),
    }
    for _ in range(repeats):
        for label, run in paths.items():
            os.sync()  # the previous run's dirty pages must not be written back during this one
            gc.collect()
            with tempfile.TemporaryDirectory(dir=base) as directory:
                runs[label].append(run(Path(directory)))
    return {label: statistics.median(rates) for label, rates in runs.items()}


# Where a profiled run's time goes, by what the exporter does for one event.
_STAGES = (
    ("os.replace: rename onto the old file", ("posix.replace",)),
    ("os.open: create the temporary", ("posix.open",)),
    ("write, fchmod, close, urandom", ("posix.write", "posix.fchmod", "posix.close", "posix.urandom")),
    ("json.loads of the watch line", ("json/decoder.py", "json/__init__.py:loads", "reflector.py:decode")),
    ("document: select + json.dumps", ("documents.py", "json/encoder.py", "json/__init__.py:dumps")),
    ("digest (blake2b)", ("_digest", "blake2b")),
)


def profile(count: int, base: Path) -> tuple[list[tuple[str, float]], str]:
    """cProfile of the minimal real path: microseconds per event by stage, and the top functions."""
    lines = podgen.watch_lines(count)
    profiler = cProfile.Profile()
    os.sync()
    with tempfile.TemporaryDirectory(dir=base) as directory:
        profiler.enable()
        real_path(lines, DocumentProfile.MINIMAL, Path(directory))
        profiler.disable()
    stats = pstats.Stats(profiler)
    per_stage = dict.fromkeys([label for label, _ in _STAGES] + ["other (core, loop)"], 0.0)
    total = 0.0
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        where = f"{filename}:{function}"
        label = next(
            (label for label, keys in _STAGES if any(k in where for k in keys)), "other (core, loop)"
        )
        per_stage[label] += tottime
    rows = [(label, seconds / count * 1e6) for label, seconds in per_stage.items()]
    rows.append(("total (profiled)", total / count * 1e6))
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(10)
    top = text.getvalue()
    return rows, top[top.index("   ncalls") :].rstrip() if "   ncalls" in top else top


def rename_costs(base: Path, *, files: int = 2000, size: int = 1500) -> dict[str, float]:
    """Microseconds per os.replace of a fresh temporary onto an existing name, and onto a new name."""
    data = b"x" * size
    costs: dict[str, float] = {}
    for label in ("onto an existing file", "onto a new name"):
        os.sync()
        with tempfile.TemporaryDirectory(dir=base) as directory:
            spent = 0.0
            for i in range(files):
                name = f"{directory}/f{i % 200 if label == 'onto an existing file' else i}"
                temp = f"{directory}/.tmp-{i}"
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                os.write(fd, data)
                os.close(fd)
                started = time.perf_counter()
                os.replace(temp, name)  # noqa: PTH105 - the syscall is what is measured
                spent += time.perf_counter() - started
            costs[label] = spent / files * 1e6
    return costs


def table(rows: dict[str, dict[str, float]]) -> str:
    lines = [
        "| directory | minimal events/s | full events/s | naive events/s | minimal / naive | full / naive |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for where, r in rows.items():
        lines.append(
            f"| {where} | {r['minimal']:,.0f} | {r['full']:,.0f} | {r['naive']:,.0f} | "
            f"{r['minimal'] / r['naive']:.1f}x | {r['full'] / r['naive']:.1f}x |"
        )
    return "\n".join(lines)


def run(*, count: int, places: dict[str, Path], repeats: int = 1) -> dict[str, dict[str, float]]:
    return {where: measure(count, base, repeats=repeats) for where, base in places.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a ~2 s run that only proves the harness works")
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    count = 300 if args.smoke else args.events
    places = {"disk (tempdir)": Path(tempfile.gettempdir())}
    if not args.smoke and Path("/dev/shm").is_dir():
        places["tmpfs (/dev/shm)"] = Path("/dev/shm")
    rows = run(count=count, places=places)
    print(
        f"pipeline, {count} MODIFIED events of {len(podgen.watch_lines(1)[0]):,}-byte pods, every one a write"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
