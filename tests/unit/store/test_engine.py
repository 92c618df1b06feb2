"""make_engine: the right defaults and pragmas, and passwords never reach a log line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from callflow.store import make_engine, resolve_url, safe_url


def test_default_is_callflow_db_in_current_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLFLOW_DB", raising=False)
    engine = make_engine()
    with engine.connect() as conn:
        conn.execute(text("select 1"))
    engine.dispose()
    assert str(engine.url) == "sqlite:///callflow.db"
    assert (tmp_path / "callflow.db").exists()


def test_env_var_overrides_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CALLFLOW_DB", f"sqlite:///{tmp_path}/x.db")
    assert resolve_url().database == f"{tmp_path}/x.db"
    assert resolve_url("sqlite://").database is None  # an explicit URL wins


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgres_urls_use_psycopg3(scheme: str) -> None:
    assert resolve_url(f"{scheme}://u:pw@db/callflow").drivername == "postgresql+psycopg"


def test_password_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    engine = make_engine("postgresql://cf:s3cr3t-pw@db.invalid/callflow")
    assert "s3cr3t-pw" not in caplog.text
    assert "db.invalid" in caplog.text
    assert "s3cr3t-pw" not in repr(engine) + str(engine.url)
    assert safe_url("postgresql://cf:s3cr3t-pw@db/x") == "postgresql://cf:***@db/x"
    engine.dispose()
