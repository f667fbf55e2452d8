"""Pipeline throughput: watch lines -> event parsing -> the core -> DirectoryStore, against the naive
path with the official client's models. `--smoke` is the ~2 s run that `make test` does."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import podgen
from pod_meta_exporter.adapters.kubernetes import watching
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
        kind, obj = watching.decode(line)
        core.handle(events.PodDeleted(obj) if kind == "DELETED" else events.PodUpserted(obj), now=now)
        applied = apply_due(core, store, now=now)
        assert not applied.failures
    return len(lines) / (time.perf_counter() - started)


def naive_path(lines: list[bytes], directory: Path) -> float:
    """What an operator would write with the client: kubernetes.watch.Watch's own unmarshalling
    (json.loads, then deserialize into V1Pod), sanitize_for_serialization, json.dump in place."""
    from kubernetes import client

    api = client.ApiClient()
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


def measure(count: int, base: Path) -> dict[str, float]:
    lines = podgen.watch_lines(count)
    results: dict[str, float] = {}
    for label, run in (
        ("minimal", lambda d: real_path(lines, DocumentProfile.MINIMAL, d)),
        ("full", lambda d: real_path(lines, DocumentProfile.FULL, d)),
        ("naive", lambda d: naive_path(lines, d)),
    ):
        gc.collect()
        with tempfile.TemporaryDirectory(dir=base) as directory:
            results[label] = run(Path(directory))
    return results


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


def run(*, count: int, places: dict[str, Path]) -> dict[str, dict[str, float]]:
    return {where: measure(count, base) for where, base in places.items()}


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
