"""The exporter's settings for a test: every one at its default, as `settings.load` gives it, but for
a destination under the test's own directory, an ephemeral HTTP port, and the changes asked for."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pod_meta_exporter.entrypoints import settings

if TYPE_CHECKING:
    from pathlib import Path

NODE = "node-a"


def settings_for(tmp_path: Path, **changes: Any) -> settings.Settings:
    defaults = settings.load([], {}, hostname=NODE)
    ours: dict[str, Any] = {"destination_dir": tmp_path / "meta", "listen": ("127.0.0.1", 0)}
    return dataclasses.replace(defaults, **(ours | changes))
