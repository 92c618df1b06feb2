"""Database failures as one message a person can act on.

A locked, corrupt, missing, read-only or unreachable database surfaces from SQLAlchemy as
a long traceback; `database_errors` turns it into a `DatabaseError` that names the
database (password masked) and what to do::

    with database_errors(engine.url):
        session.execute(...)    # DatabaseError: sqlite:///crm.db: the database is locked ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import URL, Engine
from sqlalchemy.exc import DBAPIError

from callflow.store.engine import SQLITE_BUSY_TIMEOUT_MS, safe_url
from callflow.store.errors import DatabaseError

UPGRADE_HINT = "run `callflow db upgrade` on it (same --db or $CALLFLOW_DB)"
_NO_TABLES = f"the database has no callflow tables; {UPGRADE_HINT}"
_LOCKED = (
    "the database is locked by another connection (waited {seconds:g} s); "
    "try again when the other import or upgrade has finished"
)


def _first_line(error: BaseException) -> str:
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text or type(error).__name__


def _sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL; None for in-memory databases and ``file:`` URIs."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return None
    return Path(database)


def require_database_file(url: URL) -> None:
    """Refuse a SQLite file that does not exist, before connecting would create it.

    Only `callflow db upgrade` creates a database; for anything else a missing file is a
    mistyped --db, and an empty file left behind would hide that.
    """
    path = _sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    if path is None or path.exists():
        return
    if not path.parent.is_dir():
        reason = f"directory {path.parent} does not exist"
    else:
        reason = f"no database file {path}; create it with `callflow db upgrade` (same --db)"
    raise DatabaseError(f"{safe_url(url)}: {reason}")


def _describe_sqlite(code: str, text: str, url: URL) -> str | None:
    path = _sqlite_path(url)
    if code == "SQLITE_BUSY" or code.startswith("SQLITE_LOCKED") or "is locked" in text:
        return _LOCKED.format(seconds=SQLITE_BUSY_TIMEOUT_MS / 1000)
    if code in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "malformed" in text:
        return (
            f"not a SQLite database, or a corrupt one ({text}); check that --db names the "
            "right file, or restore it from a backup"
        )
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        if url.query.get("mode") == "ro":
            return f"the database was opened read-only (mode=ro in the URL) ({text})"
        where = f"{path} and its directory" if path else "the file and its directory"
        return (
            f"the database is read-only ({text}); check the permissions of {where} "
            "(SQLite also writes -wal and -shm files next to it)"
        )
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        if path is not None and not path.parent.is_dir():
            return f"cannot open the database file: directory {path.parent} does not exist"
        if path is not None and path.is_dir():
            return f"cannot open the database file: {path} is a directory"
        return "cannot open the database file; check the permissions of the file and its directory"
    if code == "SQLITE_FULL":
        return f"the disk is full ({text})"
    if "no such table" in text:
        return _NO_TABLES
    return None


def _describe_postgresql(sqlstate: str | None, text: str, at_connect: bool) -> str | None:
    if sqlstate == "42P01":  # undefined_table
        return _NO_TABLES
    if sqlstate == "3D000" or (at_connect and "database" in text and "does not exist" in text):
        return f"{text}; create it first (createdb), or fix the database name in the URL"
    if sqlstate in ("28P01", "28000") or "authentication failed" in text:
        return f"authentication failed ({text}); check the user and password in the URL"
    if sqlstate in ("55P03", "40P01"):  # lock_not_available, deadlock_detected
        return f"the database is locked ({text}); try again"
    if sqlstate == "25006":  # read_only_sql_transaction
        return f"the database is read-only ({text}); use a primary, not a replica"
    if sqlstate is None and at_connect:
        hint = "" if "server running" in text else "; is the server running and the URL right?"
        return f"cannot connect to PostgreSQL: {text}{hint}"
    return None


def describe(error: DBAPIError, url: URL) -> str:
    """One line for *error* from the database at *url*: what, where, and what to do."""
    original = error.orig if error.orig is not None else error
    text = _first_line(original)
    reason: str | None
    if url.get_backend_name() == "sqlite":
        code = str(getattr(original, "sqlite_errorname", ""))
        reason = _describe_sqlite(code, text, url)
    else:
        sqlstate = getattr(original, "sqlstate", None)
        at_connect = error.statement is None or error.connection_invalidated
        reason = _describe_postgresql(sqlstate, text, at_connect)
    return f"{safe_url(url)}: {reason or f'database error: {text}'}"


@contextmanager
def database_errors(url: URL | Engine) -> Iterator[None]:
    """Re-raise SQLAlchemy's driver errors inside the block as a `DatabaseError`.

    with database_errors(engine):
        upgrade(engine)
    """
    resolved = url.url if isinstance(url, Engine) else url
    try:
        yield
    except DBAPIError as exc:
        raise DatabaseError(describe(exc, resolved)) from exc
