"""Schema migrations: bring a database to the schema this version of callflow expects.

The Alembic scripts ship inside the package (`callflow/store/migrations`); no alembic.ini
is needed. `callflow db upgrade` calls `upgrade`::

    upgrade("sqlite:///callflow.db")          # create or migrate to the newest schema
    current_revision("sqlite:///callflow.db") # '0001' (None for an empty database)
    command.revision(alembic_config(url), "add campaigns", autogenerate=True)  # developers
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from callflow.store.engine import make_engine, resolve_url

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
        with engine.connect() as connection:
            yield connection
    finally:
        if engine is not url:
            engine.dispose()


def upgrade(url: Target = None, revision: str = "head") -> None:
    """Migrate the database at *url* (default: `make_engine`'s) up to *revision*.

    upgrade()                                    # ./callflow.db or $CALLFLOW_DB
    upgrade("postgresql://cf@db/callflow")
    upgrade(engine)                              # reuse an existing engine
    """
    config = alembic_config(url)
    with _connection(url) as connection:
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
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "callflow/store/migrations/versions is empty"
    return head
