"""What the tiers that run real components do alike: skip in one line where they cannot run (and
fail with CI=true), add their components' logs to a failure's report, and print the figures they
measured after the run. A tier's conftest binds its Tier's hooks and fixture to module names."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from pathlib import Path


class Tier:
    def __init__(self, name: str, directory: Path) -> None:
        self.name = name  # "node tier"
        self.directory = directory
        self._figures = pytest.StashKey[list[str]]()
        self._logs = pytest.StashKey[dict[str, "Callable[[], str]"]]()
        self.summary = self._summary_fixture()

    def attach_log(self, owner: pytest.Item | pytest.Config, label: str, read: Callable[[], str]) -> None:
        """Add read()'s text to the report of each test that fails while this is attached: to one
        test's (an Item) or to every test's (the Config)."""
        owner.stash.setdefault(self._logs, {})[label] = read

    def detach_log(self, owner: pytest.Item | pytest.Config, label: str) -> None:
        owner.stash.get(self._logs, {}).pop(label, None)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed and report.when in {"setup", "call"}:
            for owner in (item, item.config):
                for label, read in owner.stash.get(self._logs, {}).items():
                    report.sections.append((label, read()))
        return report

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, config: pytest.Config
    ) -> None:
        lines = config.stash.get(self._figures, [])
        if lines:
            terminalreporter.write_sep("-", f"{self.name} figures")
            for line in lines:
                terminalreporter.write_line(line)

    def _summary_fixture(self) -> Callable[[pytest.Config], list[str]]:
        @pytest.fixture
        def summary(pytestconfig: pytest.Config) -> list[str]:
            """Lines shown after the run, whatever the verbosity: the tier's measurements."""
            return self.figures(pytestconfig)

        return summary

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
