"""Schema migrations: bring a database to the schema this version of callflow expects.

The Alembic scripts ship inside the package (`callflow/store/migrations`); no alembic.ini
is needed. `callflow db upgrade` calls `upgrade`; commands that use the store call
`check_store` first::

    upgrade("sqlite:///callflow.db")          # create or migrate to the newest schema
    current_revision("sqlite:///callflow.db") # '0001' (None for an empty database)
    check_store("sqlite:///callflow.db")      # DatabaseError unless usable and up to date
    command.revision(alembic_config(url), "add campaigns", autogenerate=True)  # developers
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from callflow.store.engine import make_engine, resolve_url, safe_url
from callflow.store.errors import DatabaseError
from callflow.store.health import UPGRADE_HINT, database_errors, require_database_file

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

Target = str | URL | Engine | None


def alembic_config(url: Target = None) -> Config:
    """An Alembic `Config` for the shipped scripts; *url* as in `make_engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if isinstance(url, Engine):
        config.attributes["engine"] = url
    else:
        # '%' is interpolation syntax in Alembic's config parser.
        rendered = resolve_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


@contextmanager
def _connection(url: Target) -> Iterator[Connection]:
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with database_errors(engine.url), engine.connect() as connection:
            yield connection
    finally:
        if engine is not url:
            engine.dispose()


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def _is_known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:  # alembic's ResolutionError: no such revision in the scripts
        return False


def _refuse_unknown(revision: str | None, connection: Connection) -> None:
    if revision is not None and not _is_known(revision):
        raise DatabaseError(
            f"{safe_url(connection.engine.url)}: the schema is at revision {revision!r}, "
            f"which this callflow does not know (its newest is {head_revision()!r}); "
            "the database was upgraded by a newer callflow: use that version, or "
            "restore a backup. Nothing was written."
        )


def require_schema(connection: Connection) -> None:
    """Raise `DatabaseError` unless the database on *connection* is at this callflow's
    newest revision; called before any write, so that a database upgraded by a newer
    callflow (or never upgraded) is not written to.

        with engine.connect() as connection: require_schema(connection)
    """
    revision = MigrationContext.configure(connection).get_current_revision()
    where = safe_url(connection.engine.url)
    if revision is None:
        raise DatabaseError(f"{where}: the database has no callflow tables; {UPGRADE_HINT}")
    _refuse_unknown(revision, connection)
    if revision != head_revision():
        raise DatabaseError(
            f"{where}: the schema is at revision {revision!r}, this callflow needs "
            f"{head_revision()!r}; {UPGRADE_HINT}"
        )


def check_store(url: str | URL | None = None) -> URL:
    """Check that the store at *url* opens and has this callflow's schema; returns the
    resolved URL. Raises `DatabaseError` with one actionable message otherwise (not a
    URL, unreachable, locked, corrupt, never upgraded, upgraded by a newer callflow).
    For commands to call before they rely on the store::

        try: check_store(db_url)
        except DatabaseError as exc: raise click.ClickException(str(exc)) from exc
    """
    resolved = resolve_url(url)
    require_database_file(resolved)
    with _connection(resolved) as connection:
        require_schema(connection)
    return resolved


def upgrade(url: Target = None, revision: str = "head") -> None:
    """Migrate the database at *url* (default: `make_engine`'s) up to *revision*.

    A database at a revision this callflow does not know (upgraded by a newer version)
    is refused with `DatabaseError` before anything is written.

    upgrade()                                    # ./callflow.db or $CALLFLOW_DB
    upgrade("postgresql://cf@db/callflow")
    upgrade(engine)                              # reuse an existing engine
    """
    config = alembic_config(url)
    with _connection(url) as connection:
        _refuse_unknown(MigrationContext.configure(connection).get_current_revision(), connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def current_revision(url: Target = None) -> str | None:
    """The revision the database at *url* is at, or None if it was never migrated.

    current_revision("sqlite:///callflow.db") == head_revision()   # up to date?
    """
    with _connection(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of callflow."""
    head = _scripts().get_current_head()
    assert head is not None, "callflow/store/migrations/versions is empty"
    return head
