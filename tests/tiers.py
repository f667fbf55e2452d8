"""What the tiers that run real components do alike: skip in one line where they cannot run (and
fail with CI=true), and print the figures they measured after the run."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path


class Tier:
    def __init__(self, name: str, directory: Path) -> None:
        self.name = name  # "node tier"
        self.directory = directory
        self._figures = pytest.StashKey[list[str]]()

    def in_session(self, session: pytest.Session) -> bool:
        """Whether any collected test is this tier's (and not just collected)."""
        return not session.config.option.collectonly and any(
            self.directory in item.path.parents for item in session.items
        )

    def announce(self, session: pytest.Session, message: str) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{self.name}: {message}")

    def require(self, found: object) -> None:
        """`found` is what the tier needs, or a string saying why it cannot run here. Call it from
        pytest_runtest_setup: raised there, every test's skip has this one location and reason, so
        the summary folds them into one line (a fixture's skip is reported at each test)."""
        if not isinstance(found, str):
            return
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{self.name} cannot run with CI=true: {found}", pytrace=False)
        pytest.skip(f"{self.name}: {found}")

    def figures(self, config: pytest.Config) -> list[str]:
        """Lines shown after the run, whatever the verbosity."""
        return config.stash.setdefault(self._figures, [])

    def print_figures(self, terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
        lines = config.stash.get(self._figures, [])
        if lines:
            terminalreporter.write_sep("-", f"{self.name} figures")
            for line in lines:
                terminalreporter.write_line(line)
