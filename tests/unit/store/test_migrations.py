"""The shipped migrations build exactly the schema the ORM classes describe."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from callflow.store import Base, current_revision, head_revision, make_engine, upgrade
from callflow.store.migrate import alembic_config


def test_migrated_schema_matches_the_orm(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_all_tables_exist(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    expected = {
        "staff",
        "staff_groups",
        "customers",
        "customer_phones",
        "customer_tags",
        "call_records",
        "survey_responses",
        "campaign_contacts",
        "campaign_attempts",
        "campaign_states",
        "dialers",
        "dnc_numbers",
        "alembic_version",
    }
    assert tables == expected


def test_fresh_database_has_no_revision_and_upgrade_is_repeatable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert current_revision(url) is None
    upgrade(url)
    upgrade(url)  # nothing to do the second time
    assert current_revision(url) == head_revision() == "0003"


def test_downgrade_to_base_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    config = alembic_config(engine)
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        conn.commit()
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
