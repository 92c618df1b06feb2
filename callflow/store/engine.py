"""Engines and sessions for the store, with the settings each backend needs.

engine = make_engine()                                   # ./callflow.db or $CALLFLOW_DB
engine = make_engine("postgresql://cf:secret@db/callflow")   # psycopg 3 driver
with make_sessionmaker(engine).begin() as session: ...
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from typing import Any

from sqlalchemy import Engine, Insert, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from callflow.store.errors import DatabaseError, StoreError

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///callflow.db"
ENV_VAR = "CALLFLOW_DB"
SQLITE_BUSY_TIMEOUT_MS = 5000
BACKENDS = ("sqlite", "postgresql")
URL_FORMS = "sqlite:///path/to/file.db or postgresql://user:password@host:port/dbname"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def resolve_url(url: str | URL | None = None) -> URL:
    """The URL to use: *url*, else ``$CALLFLOW_DB``, else ``sqlite:///callflow.db``.

    A bare ``postgresql://`` (or ``postgres://``) gets the psycopg 3 driver.

        resolve_url(None)                       # sqlite:///callflow.db
        resolve_url("postgres://u@h/db")        # postgresql+psycopg://u@h/db

    Text that is not a URL, or a backend other than SQLite and PostgreSQL, raises
    `DatabaseError` saying which forms work (the password, if any, masked).
    """
    given = url or os.environ.get(ENV_VAR) or DEFAULT_URL
    try:
        resolved = make_url(given)
    except (ArgumentError, ValueError):
        shown = _PASSWORD.sub(r"\1***@", str(given))
        raise DatabaseError(f"{shown!r} is not a database URL; use {URL_FORMS}") from None
    if resolved.drivername in ("postgresql", "postgres"):
        resolved = resolved.set(drivername="postgresql+psycopg")
    if resolved.get_backend_name() not in BACKENDS:
        raise DatabaseError(
            f"{safe_url(resolved)}: callflow stores its data in SQLite or PostgreSQL; "
            f"use {URL_FORMS}"
        )
    return resolved


def safe_url(url: str | URL) -> str:
    """*url* as text with the password masked, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets the FastAGI lookups read while an import writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
    finally:
        cursor.close()


def _create(url: URL, **kwargs: Any) -> Engine:
    try:
        return create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:  # an unknown or uninstalled driver
        raise DatabaseError(f"{safe_url(url)}: cannot use this database driver ({exc})") from exc


def make_engine(url: str | URL | None = None, *, echo: bool = False) -> Engine:
    """Create the engine for *url* (see `resolve_url`), configured for its backend.

    SQLite: foreign keys on, WAL journal, a busy timeout. PostgreSQL: psycopg 3 with
    ``pool_pre_ping`` so a restarted server does not fail the next call's lookup.

        engine = make_engine("sqlite:///:memory:")
        with engine.connect() as conn: conn.exec_driver_sql("select 1")
    """
    resolved = resolve_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if resolved.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
    engine = _create(resolved, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    log.info("store database: %s", safe_url(resolved))
    return engine


def make_lookup_engine(url: str | URL | None = None) -> Engine:
    """An engine for the call path's caller lookups (:class:`CallerFinder`), same URL
    rules as `make_engine`.

    Reads run in autocommit, so on PostgreSQL a lookup is one round trip (no BEGIN
    before it, no ROLLBACK when the connection goes back to the pool), and there is no
    pre-ping on checkout: a connection the server dropped is replaced by the finder's
    one retry instead of a ``SELECT 1`` before every lookup.

        lookup = CustomerLookup(make_lookup_engine("postgresql://crm@db/crm"))
    """
    resolved = resolve_url(url)
    engine = _create(resolved, isolation_level="AUTOCOMMIT")
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory for *engine*; objects stay readable after commit.

    Session = make_sessionmaker(make_engine())
    with Session.begin() as session: session.add(staff)
    """
    return sessionmaker(engine, expire_on_commit=False)


def insert_ignoring_duplicate(
    session: Session, model: type[DeclarativeBase], values: dict[str, Any], keys: list[str]
) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` for *model*: the database, not a read
    before the write, decides which of two concurrent writers creates the row."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).values(values).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(model).values(values).on_conflict_do_nothing(index_elements=keys)
    raise StoreError(f"the store needs SQLite or PostgreSQL, not {dialect}")


def begin_write(session: Session) -> None:
    """Open *session*'s transaction now, with SQLite's write lock (``BEGIN IMMEDIATE``).

    Python's sqlite3 driver starts a transaction only before its first INSERT, UPDATE or
    DELETE; a SAVEPOINT issued before that runs outside any transaction, and its RELEASE
    commits on the spot: what follows it is no longer in the same transaction. Call this
    first in a SQLite transaction that uses savepoints or must not interleave with
    another writer. PostgreSQL's transactions need nothing: a no-op there.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if not session.connection().connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        session.execute(text("BEGIN IMMEDIATE"))
