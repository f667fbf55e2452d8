"""Our pause (tests/node/pause): the node tier's sandbox image and the init of its namespaces, and
the e2e tier's offline kind node's sandbox image."""

from __future__ import annotations

import hashlib
import os
import subprocess
from typing import TYPE_CHECKING

from support.control_plane import REPO_ROOT, binary_cache_dir

if TYPE_CHECKING:
    from pathlib import Path

SOURCE = REPO_ROOT / "tests" / "node" / "pause"


def build_pause(source: Path = SOURCE) -> Path:
    """Built with Go into the binary cache under a hash of its source, so that an edit rebuilds
    it; static (CGO_ENABLED=0), so an image of it needs no libc."""
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sorted(source.iterdir()))).hexdigest()
    binary = binary_cache_dir() / f"pause-{digest[:12]}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        building = binary.with_name(f".{binary.name}.{os.getpid()}")
        subprocess.run(
            ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(building), "."],
            cwd=source,
            env={**os.environ, "CGO_ENABLED": "0"},
            check=True,
            capture_output=True,
        )
        building.rename(binary)
    return binary
