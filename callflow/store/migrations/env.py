"""Alembic environment for the store; run by `callflow.store.migrate`, not by hand.

`migrate.upgrade` hands over an open connection in ``config.attributes["connection"]``;
otherwise the URL from the config is opened with `make_engine` (same SQLite pragmas).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import callflow.store  # noqa: F401  (registers every table on Base.metadata)
from callflow.store.base import Base
from callflow.store.engine import make_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit SQL text instead of executing it (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = config.attributes.get("engine") or make_engine(
        config.get_main_option("sqlalchemy.url")
    )
    with engine.connect() as fresh:
        _run(fresh)
        fresh.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
