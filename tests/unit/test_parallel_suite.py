"""The suite's parallel wiring (tests/conftest.py): which modules stay on one worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ONE_WORKER, pytest_xdist_make_scheduler

ROOT = Path(__file__).resolve().parents[2]


def test_every_one_worker_module_exists() -> None:
    """A renamed module would silently be split across workers again."""
    assert ONE_WORKER
    for module in ONE_WORKER:
        assert (ROOT / module).is_file(), module


def test_the_scheduler_keeps_a_one_worker_module_together_and_spreads_the_rest(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request.config.option, "dist", "loadgroup")
    monkeypatch.setattr(request.config.option, "tx", ["popen"] * 2)  # as `-n 2` sets it
    scheduler = pytest_xdist_make_scheduler(request.config, None)
    module = next(iter(ONE_WORKER))
    assert {scheduler._split_scope(f"{module}::test_{n}[x]") for n in range(3)} == {module}
    spread = ["tests/unit/test_a.py::test_one", "tests/unit/test_a.py::test_two"]
    assert [scheduler._split_scope(nodeid) for nodeid in spread] == spread
    # an integration module's tests share the site its module fixture deployed
    together = ["tests/integration/test_x.py::test_one", "tests/integration/test_x.py::test_two"]
    assert {scheduler._split_scope(n) for n in together} == {"tests/integration/test_x.py"}


def test_an_explicit_dist_mode_keeps_xdists_own_scheduler(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request.config.option, "dist", "load")
    assert pytest_xdist_make_scheduler(request.config, None) is None
