"""A Go module's files at a pinned version, as the Go module proxy serves them (go mod download)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

_TRIES = 3


def module_dir(module: str, version: str) -> Path:
    """The module's directory in Go's module cache, downloaded if it is not there yet. A failed
    download is tried again (the proxy, or another go command holding the cache's lock); the
    last failure is raised with go's own words."""
    for attempt in range(1, _TRIES + 1):
        with tempfile.TemporaryDirectory() as outside_any_module:
            found = subprocess.run(
                ["go", "mod", "download", "-json", f"{module}@{version}"],
                check=False,
                capture_output=True,
                text=True,
                cwd=outside_any_module,
                timeout=300,
            )
        if found.returncode == 0:
            return Path(json.loads(found.stdout)["Dir"])
        if attempt < _TRIES:
            time.sleep(2.0 * attempt)
    msg = f"go mod download {module}@{version} failed: {(found.stdout + found.stderr).strip()[-600:]}"
    raise RuntimeError(msg)
