"""Shared test wiring: report how many real-Asterisk and PostgreSQL tests actually ran,
and keep the modules that share one-off setup on one worker when the suite runs in
parallel.

``make test`` runs the suite with pytest-xdist (``pytest -n N``). Every worker is its own
process with its own sandbox Asterisk (ports, work dir) and its own PostgreSQL cluster
(data dir, port), so workers need no grouping to stay apart; but within a worker the
session's sandbox is shared, and an integration module deploys its own site into it from
a module-scoped fixture, so a module's tests must not be interleaved with another
module's (which would deploy its site in between): every ``tests/integration`` module
runs on one worker, as do the :data:`ONE_WORKER` modules. ``-n`` alone schedules so (an
explicit ``--dist`` wins). A module's name, not an ``xdist_group`` mark: xdist 3.8 marks a group by
rewriting node ids, which pytest 9.2 no longer reads, so the marks are silently ignored.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

#: the markers whose tests need a real server, counted in the terminal summary
REAL_SERVERS = ("asterisk", "postgres")

#: modules whose tests run on one worker under ``pytest -n``, and why
ONE_WORKER = {
    # the module-scoped fixture builds and installs the wheel (~30 s): once, not per worker
    "tests/integration/test_wheel.py": "one wheel",
    # a throwaway user made with useradd (which locks /etc/passwd machine-wide: two
    # workers making one at once can fail) and one persistent sandbox, both module-scoped
    "tests/integration/test_sandbox_security.py": "one stranger",
}

#: the modules that deploy a site of their own into the worker's shared sandbox
INTEGRATION = "tests/integration/"

_outcomes: dict[str, dict[str, int]] = {marker: {} for marker in REAL_SERVERS}


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``-n N`` without ``--dist`` schedules with :func:`pytest_xdist_make_scheduler`.
    Runs before xdist's own hook, which keeps a dist mode that is set."""
    if getattr(config.option, "numprocesses", None) and config.option.dist == "no":
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``, with each integration module and each :data:`ONE_WORKER`
    module one group."""
    if config.option.dist != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            together = module in ONE_WORKER or module.startswith(INTEGRATION)
            scope: str = module if together else super()._split_scope(nodeid)
            return scope

    return ModuleGroups(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Name on each report the real servers its test needs, by marker (not by keyword: a
    parameter id such as ``[postgres]`` is a keyword too). An attribute of the report
    travels from xdist workers to the controller, where the summary counts it."""
    report = yield
    report.real_servers = [m for m in REAL_SERVERS if item.get_closest_marker(m) is not None]  # type: ignore[attr-defined]
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for marker in getattr(report, "real_servers", ()):
        counts = _outcomes[marker]
        counts[report.outcome] = counts.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for marker, counts in _outcomes.items():
        if counts:
            shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            terminalreporter.write_line(f"real {marker} tests: {shown}")
