"""callflow db: the CRM store (customers, staff, call records)."""

from __future__ import annotations

from pathlib import Path

import click

from callflow.cli.common import DB_OPTION


@click.group("db")
def db_group() -> None:
    """The CRM store: customers, staff, call records (SQLite or PostgreSQL)."""


@db_group.command("upgrade")
@DB_OPTION
def db_upgrade(db_url: str | None) -> None:
    """Create or migrate the store's tables to the latest schema."""
    from callflow.store import resolve_url, safe_url, upgrade

    upgrade(db_url)
    click.echo(f"{safe_url(resolve_url(db_url))}: up to date")


@db_group.command("import")
@click.argument("kind", type=click.Choice(["customers", "staff"]))
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", default="CN", show_default=True, help="Region of national numbers.")
@DB_OPTION
def db_import(kind: str, csv_file: Path, region: str, db_url: str | None) -> None:
    """Import KIND (customers or staff) from CSV_FILE; bad rows are reported and skipped."""
    from callflow.store import make_engine
    from callflow.store.csv_import import import_customers, import_staff

    engine = make_engine(db_url)
    try:
        if kind == "customers":
            report = import_customers(engine, csv_file, default_region=region)
        else:
            report = import_staff(engine, csv_file)
    finally:
        engine.dispose()
    for message in report.messages():
        click.echo(message, err=True)
    click.echo(str(report))
