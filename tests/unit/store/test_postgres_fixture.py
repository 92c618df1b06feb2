"""The PostgreSQL fixture's rule: skip locally, fail loudly when CI=true."""

from __future__ import annotations

import pytest

from tests.postgres import find_bin_dir, unavailable


def test_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not available: no initdb"):
        unavailable("no initdb")


def test_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and PostgreSQL could not be started"):
        unavailable("no initdb")


def test_finds_the_installed_server() -> None:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed here")
    assert (bin_dir / "initdb").exists() and (bin_dir / "postgres").exists()
