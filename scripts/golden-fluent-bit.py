"""Write tests/fixtures/fluent-bit/records/ again: for each fixture pod, the `kubernetes` object that
real Fluent Bit v5.1.1 (../shared/fluent-bit/bin) attaches to each of its containers' records when
its preload directory holds the pod object exactly as the API serves it. Run it after adding or
changing a pod under tests/fixtures/fluent-bit/pods/, and commit both.

    .venv/bin/python scripts/golden-fluent-bit.py   # make golden
"""

import json
import sys

from support import golden


def main() -> int:
    why = golden.unavailable()
    if why is not None:
        print(f"cannot write the golden records: {why}", file=sys.stderr)
        return 1
    pods = golden.pods()
    documents = {f"{stem}.meta": json.dumps(pod).encode() for stem, pod in pods.items()}
    streams = {stem: golden.containers(pod) for stem, pod in pods.items()}
    seen = golden.enrich(documents, [stream for found in streams.values() for stream in found])
    directory = golden.FIXTURES / "records"
    directory.mkdir(exist_ok=True)
    for stem, found in streams.items():
        records = {stream.key: seen[stream] for stream in found}
        (directory / f"{stem}.json").write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
        print(f"{stem}: {len(records)} containers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
