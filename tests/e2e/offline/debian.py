"""Debian root filesystems made with mmdebstrap from Debian's own mirror, the base of every image
the offline e2e tier builds (there is no image registry to pull a base from)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from support.processes import in_namespaces_of_its_own

if TYPE_CHECKING:
    from pathlib import Path

MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Images carry no documentation, manual pages or translations (copyright files stay).
_SLIM = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)


@dataclass(frozen=True)
class Rootfs:
    """What mmdebstrap installs: a suite, a variant (`minbase`, or `extract`, which unpacks exactly
    the packages listed and runs none of their scripts, as distroless images are made) and packages."""

    suite: str
    variant: str
    packages: tuple[str, ...]

    def describe(self) -> str:
        """What a cached image made from this depends on."""
        return f"debian {self.suite} {self.variant} {','.join(self.packages)} from {MIRROR}"

    def make(self, target: Path) -> None:
        """Install into the directory `target`. In mount and PID namespaces of its own: the /proc,
        /sys and /dev that mmdebstrap mounts in the chroot go with them, even if it is killed."""
        subprocess.run(
            in_namespaces_of_its_own(
                [
                    "mmdebstrap",
                    "--quiet",
                    f"--variant={self.variant}",
                    *([f"--include={','.join(self.packages)}"] if self.packages else []),
                    *(f"--dpkgopt={option}" for option in _SLIM),
                    self.suite,
                    str(target),
                    MIRROR,
                ]
            ),
            check=True,
            stdin=subprocess.DEVNULL,
        )
