"""Database problems end in one `DatabaseError` naming the database (password masked) and
what to do, never a SQLAlchemy traceback; a schema this callflow does not know is never
written to."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import callflow.store.engine as engine_module
import callflow.store.migrate as migrate_module
from callflow.errors import CallflowError
from callflow.store import (
    Customer,
    DatabaseError,
    StoreError,
    check_store,
    current_revision,
    database_errors,
    head_revision,
    make_engine,
    resolve_url,
    upgrade,
)
from callflow.store.csv_import import import_customers, import_staff
from tests.postgres import PostgresServer

FAKE_REVISION = "ffff_from_the_future"


@pytest.fixture
def staff_csv(tmp_path: Path) -> Path:
    path = tmp_path / "staff.csv"
    path.write_text("id,name,device\nalice,Alice,PJSIP/1001\n", encoding="utf-8")
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_database_error_is_a_callflow_error() -> None:
    assert issubclass(DatabaseError, StoreError)
    assert issubclass(StoreError, CallflowError)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", r"^'notaurl' is not a database URL; use sqlite:///path/to/file\.db or "),
        ("postgresql://cf:hunter2@db:port/crm", r"^'postgresql://cf:\*\*\*@db:port/crm' is not a"),
        ("mysql://cf:hunter2@db/crm", r"^mysql://cf:\*\*\*@db/crm: callflow stores its data in "),
        ("http://example.com/", r"callflow stores its data in SQLite or PostgreSQL"),
        ("postgresql+asyncpg://cf:hunter2@db/crm", r"cf:\*\*\*@db/crm: cannot use this database"),
    ],
)
def test_urls_that_cannot_work(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message) as caught:
        make_engine(url)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(DatabaseError, match=message):
        check_store(url)


def test_missing_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nowhere/crm.db"
    expected = f"^{url}: cannot open the database file: directory {tmp_path}/nowhere does not"
    with pytest.raises(DatabaseError, match=expected):
        upgrade(url)
    with pytest.raises(DatabaseError, match=f"^{url}: directory {tmp_path}/nowhere does not"):
        check_store(url)


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}"
    with pytest.raises(DatabaseError, match=f"cannot open the database file: {tmp_path} is a dir"):
        upgrade(url)


def test_missing_file_is_not_created_by_commands_that_need_a_store(
    tmp_path: Path, staff_csv: Path
) -> None:
    url = f"sqlite:///{tmp_path}/typo.db"
    expected = f"no database file {tmp_path}/typo.db; create it with `callflow db upgrade`"
    with pytest.raises(DatabaseError, match=expected):
        check_store(url)
    engine = make_engine(url)
    with pytest.raises(DatabaseError, match=expected):
        import_staff(engine, staff_csv)
    engine.dispose()
    assert not (tmp_path / "typo.db").exists()


def test_corrupt_file(tmp_path: Path, staff_csv: Path) -> None:
    path = tmp_path / "crm.db"
    path.write_bytes(b"this is not a database\n" * 200)
    url = f"sqlite:///{path}"
    expected = f"^{url}: not a SQLite database, or a corrupt one \\(file is not a database\\)"
    for attempt in (lambda: upgrade(url), lambda: check_store(url)):
        with pytest.raises(DatabaseError, match=expected):
            attempt()
    engine = make_engine(url)
    with pytest.raises(DatabaseError, match=expected):
        import_staff(engine, staff_csv)
    engine.dispose()


def test_never_upgraded(tmp_path: Path, staff_csv: Path) -> None:
    path = tmp_path / "crm.db"
    sqlite3.connect(path).close()  # an empty database file
    url = f"sqlite:///{path}"
    expected = "the database has no callflow tables; run `callflow db upgrade`"
    with pytest.raises(DatabaseError, match=expected):
        check_store(url)
    engine = make_engine(url)
    with pytest.raises(DatabaseError, match=expected):
        import_staff(engine, staff_csv)
    engine.dispose()


def test_missing_table_inside_a_query_is_described(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    sqlite3.connect(path).close()
    engine = make_engine(f"sqlite:///{path}")
    with (
        pytest.raises(DatabaseError, match="no callflow tables; run `callflow db upgrade`"),
        database_errors(engine),
        engine.connect() as connection,
    ):
        connection.execute(select(func.count()).select_from(Customer))
    engine.dispose()


def test_read_only(sqlite_url: str, staff_csv: Path) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    engine = make_engine(read_only)
    with pytest.raises(DatabaseError, match=r"the database was opened read-only \(mode=ro"):
        import_staff(engine, staff_csv)
    engine.dispose()
    fresh = Path(path).with_name("fresh.db")
    sqlite3.connect(fresh).close()
    with pytest.raises(DatabaseError, match="read-only"):
        upgrade(f"sqlite:///file:{fresh}?mode=ro&uri=true")


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)


@pytest.fixture
def locked(sqlite_url: str) -> Iterator[str]:
    """The test database with another connection holding its write lock."""
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield sqlite_url
    holder.rollback()
    holder.close()


@pytest.mark.usefixtures("short_busy_timeout")
def test_locked(locked: str, staff_csv: Path) -> None:
    engine = make_engine(locked)
    with pytest.raises(DatabaseError, match=f"^{locked}: the database is locked by another conn"):
        import_staff(engine, staff_csv)
    engine.dispose()


def test_postgresql_down(staff_csv: Path) -> None:
    url = f"postgresql://callflow:hunter2@127.0.0.1:{closed_port()}/crm"
    expected = (
        "^postgresql\\+psycopg://callflow:\\*\\*\\*@127.0.0.1:\\d+/crm: "
        "cannot connect to PostgreSQL: .*Connection refused"
    )
    for attempt in (lambda: upgrade(url), lambda: check_store(url)):
        with pytest.raises(DatabaseError, match=expected) as caught:
            attempt()
        assert "hunter2" not in str(caught.value)
    engine = make_engine(url)
    with pytest.raises(DatabaseError, match=expected):
        import_staff(engine, staff_csv)
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_never_upgraded_and_missing_database(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("cf_never_upgraded")
    try:
        with pytest.raises(DatabaseError, match="no callflow tables; run `callflow db upgrade`"):
            check_store(url)
        engine = make_engine(url)
        with (
            pytest.raises(DatabaseError, match="no callflow tables"),
            database_errors(engine),
            engine.connect() as connection,
        ):
            connection.execute(select(func.count()).select_from(Customer))
        engine.dispose()
    finally:
        postgres_server.drop_database("cf_never_upgraded")
    missing = url.rsplit("/", 1)[0] + "/cf_no_such_database"
    with pytest.raises(
        DatabaseError, match=r"cf_no_such_database\" does not exist; create it first"
    ):
        check_store(missing)


def stamp(url: str, revision: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def customers(url: str) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        found = session.scalar(select(func.count()).select_from(Customer)) or 0
    engine.dispose()
    return found


def test_unknown_newer_revision_is_never_written_to(db_url: str, tmp_path: Path) -> None:
    stamp(db_url, FAKE_REVISION)
    shown = resolve_url(db_url).render_as_string(hide_password=True)
    expected = (
        f"^{shown.replace('+', '[+]')}: the schema is at revision '{FAKE_REVISION}', which this "
        f"callflow does not know \\(its newest is '{head_revision()}'\\); the database was "
        "upgraded by a newer callflow"
    )
    with pytest.raises(DatabaseError, match=expected):
        upgrade(db_url)
    with pytest.raises(DatabaseError, match=expected):
        check_store(db_url)
    path = tmp_path / "customers.csv"
    path.write_text("phone,name\n13800138000,A\n", encoding="utf-8")
    engine = make_engine(db_url)
    with pytest.raises(DatabaseError, match=expected):
        import_customers(engine, path)
    with Session(engine) as session, pytest.raises(DatabaseError, match=expected):
        import_customers(session, path)
    engine.dispose()
    assert customers(db_url) == 0
    assert current_revision(db_url) == FAKE_REVISION


def test_older_revision_asks_for_upgrade(
    sqlite_url: str, staff_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate_module, "head_revision", lambda: "0004")
    with pytest.raises(
        DatabaseError,
        match="schema is at revision '0003', this callflow needs '0004'; run `callflow db upgr",
    ):
        check_store(sqlite_url)


def test_a_good_store_passes(db_url: str) -> None:
    assert check_store(db_url) == resolve_url(db_url)


@pytest.mark.postgres
def test_postgresql_halted_mid_session(postgres_url: str, postgres_server: PostgresServer) -> None:
    """The harness's real server, stopped: same message; back up: the store works again."""
    check_store(postgres_url)
    postgres_server.halt()
    try:
        with pytest.raises(DatabaseError, match=r"cannot connect to PostgreSQL: .*refused"):
            check_store(postgres_url)
        with pytest.raises(DatabaseError, match="cannot connect to PostgreSQL"):
            upgrade(postgres_url)
    finally:
        postgres_server.resume()
    assert check_store(postgres_url) == resolve_url(postgres_url)
