"""The PostgreSQL fixture's rules: skip locally, fail loudly when CI=true; a lost port is
retried."""

from __future__ import annotations

import socket

import psycopg
import pytest

from tests import postgres
from tests.postgres import PostgresServer, PostgresUnavailable, find_bin_dir, unavailable


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


@pytest.mark.postgres
def test_a_port_taken_before_postgres_binds_it_is_swapped_for_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parallel workers pick free ports at once: one taken before postgres binds it must
    cost a retry on another port, not the session."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        picks = iter([taken])
        free_port = postgres._free_port
        monkeypatch.setattr(postgres, "_free_port", lambda: next(picks, None) or free_port())
        try:
            server = PostgresServer.start()
        except PostgresUnavailable as exc:
            unavailable(str(exc))
        try:
            log = (server.directory / "postgres.log").read_text(errors="replace")
            assert server.port != taken
            assert "Address already in use" in log  # the first try really lost the port
            with psycopg.connect(server._dsn("postgres")) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            server.stop()
