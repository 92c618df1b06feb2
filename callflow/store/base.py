"""The declarative base every store table derives from.

Constraint names follow one convention so that Alembic migrations can refer to them by
name on every backend (SQLite batch mode needs names to drop or alter constraints)::

    from callflow.store.base import Base
    Base.metadata.tables["customers"].c.tier
    Base.metadata.create_all(engine)  # tests only; production uses upgrade()
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware in UTC; the one clock every store timestamp uses."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Root of the store's ORM classes; owns the shared `MetaData`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    """Mixin: `created_at` and `updated_at`, set by Python and defaulted by the server.

    The server default covers rows written by other tools (psql, a CRM sync job).
    """

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
