"""Shared test wiring: report how many real-Asterisk and PostgreSQL tests actually ran."""

from __future__ import annotations

import pytest

_outcomes: dict[str, dict[str, int]] = {"asterisk": {}, "postgres": {}}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for marker in _outcomes:
        if marker in report.keywords:
            counts = _outcomes[marker]
            counts[report.outcome] = counts.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for marker, counts in _outcomes.items():
        if counts:
            shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            terminalreporter.write_line(f"real {marker} tests: {shown}")
