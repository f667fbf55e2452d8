"""`make demo`: the exporter on the built-in simulated node, its directory watched as files come and go."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

DIRECTORY = Path(os.environ.get("DEMO_DIR", "demo-meta"))
SECONDS = float(os.environ.get("DEMO_SECONDS", "20"))
RETENTION = "5s"


def snapshot() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(DIRECTORY.glob("*meta"))}


def describe(content: bytes) -> str:
    document = json.loads(content)
    statuses = document.get("status", {}).get("containerStatuses", [{}])
    image_id = statuses[0].get("imageID") or "(not yet)"
    return f"{len(content)} B, uid {document['metadata'].get('uid', '?')[:8]}, imageID {image_id[-12:]}"


def main() -> int:
    shutil.rmtree(DIRECTORY, ignore_errors=True)
    command = [
        sys.executable, "-m", "pod_meta_exporter.entrypoints.cli",
        "--cluster", "simulated", "--node-name", "demo-node", "--destination-dir", str(DIRECTORY),
        "--retention-period", RETENTION, "--listen", "127.0.0.1:0", "--log-format", "json",
    ]  # fmt: skip
    print(f"$ pod-meta-exporter {' '.join(command[3:])}")
    print(f"Watching {DIRECTORY}/ for {SECONDS:.0f}s: + written, ~ rewritten, - removed after {RETENTION}\n")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    port: list[int] = []

    def read_logs() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            entry = json.loads(line)
            if "port" in entry:  # the HTTP server's, a field of its start-up record
                port.append(entry["port"])
            print(f"  [log] {entry['level']}: {entry['message']}")

    reader = threading.Thread(target=read_logs, daemon=True)
    reader.start()
    seen: dict[str, bytes] = {}
    started = time.monotonic()
    try:
        while time.monotonic() - started < SECONDS:
            time.sleep(0.1)
            now = snapshot()
            stamp = f"{time.monotonic() - started:5.1f}s"
            for name in sorted(now.keys() - seen.keys()):
                print(f"{stamp} + {name:<40} {describe(now[name])}")
            for name in sorted(now.keys() & seen.keys()):
                if now[name] != seen[name]:
                    print(f"{stamp} ~ {name:<40} {describe(now[name])}")
            for name in sorted(seen.keys() - now.keys()):
                print(f"{stamp} - {name}")
            seen = now
        metrics = ""
        if port:
            with urllib.request.urlopen(f"http://127.0.0.1:{port[0]}/metrics") as response:
                metrics = response.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=10)
        reader.join(timeout=2)
    print("\nSelected metrics:")
    for line in metrics.splitlines():
        if line.startswith(
            (
                "pod_meta_exporter_files_",
                "pod_meta_exporter_events_total",
                "pod_meta_exporter_pending_removals",
                "pod_meta_exporter_event_to_file_seconds_count",
            )
        ):
            print(f"  {line}")
    print(
        f"\nThe exporter stopped with status {status}; {len(snapshot())} files stay in {DIRECTORY}/"
        " for Fluent Bit."
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
