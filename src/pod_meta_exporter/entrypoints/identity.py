"""How the exporter names itself: `--version`, and the User-Agent of its requests to the API server."""

from __future__ import annotations

import platform
import sys

from pod_meta_exporter import __version__

# As Go names them, like client-go's default User-Agent "<command>/<version> (<os>/<arch>)".
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le"}


def user_agent() -> str:
    machine = platform.machine()
    return f"pod-meta-exporter/{__version__} ({sys.platform}/{_ARCHITECTURES.get(machine, machine)})"
