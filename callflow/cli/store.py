"""callflow db: the CRM store (customers, staff, call records)."""

from __future__ import annotations

from pathlib import Path

import click

from callflow.cli.common import DB_OPTION

# `db import` exit codes, documented in docs/cli.md.
IMPORTED = 0  # every row imported (inserted, updated or unchanged)
FAILED = 1  # nothing written: file or database problem, every row rejected, --strict
PARTIAL = 3  # some rows rejected and skipped, the rest imported


@click.group("db")
def db_group() -> None:
    """The CRM store: customers, staff, call records (SQLite or PostgreSQL)."""


@db_group.command("upgrade")
@DB_OPTION
def db_upgrade(db_url: str | None) -> None:
    """Create or migrate the store's tables to the latest schema."""
    from callflow.store import StoreError, resolve_url, safe_url, upgrade

    try:
        url = resolve_url(db_url)
        upgrade(url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{safe_url(url)}: up to date")


@db_group.command("import")
@click.argument("kind", type=click.Choice(["customers", "staff"]))
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", default="CN", show_default=True, help="Region of national numbers.")
@click.option(
    "--encoding",
    metavar="NAME",
    default=None,
    help="Text encoding of CSV_FILE, e.g. gbk or gb18030 [default: UTF-8, BOM or not].",
)
@click.option("--strict", is_flag=True, help="Import nothing if any row is rejected.")
@DB_OPTION
def db_import(
    kind: str,
    csv_file: Path,
    region: str,
    encoding: str | None,
    strict: bool,
    db_url: str | None,
) -> None:
    """Import KIND (customers or staff) from CSV_FILE; bad rows are reported and skipped.

    Exit status: 0 every row imported; 3 some rows rejected, the others imported; 1
    nothing imported (file or database problem, every row rejected, or --strict and a
    row was rejected).
    """
    from callflow.store import StoreError, make_engine
    from callflow.store.csv_import import import_customers, import_staff

    try:
        engine = make_engine(db_url)
        try:
            if kind == "customers":
                report = import_customers(
                    engine, csv_file, default_region=region, strict=strict, encoding=encoding
                )
            else:
                report = import_staff(engine, csv_file, strict=strict, encoding=encoding)
        finally:
            engine.dispose()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for message in report.messages():
        click.echo(message, err=True)
    rejected = len(report.errors)
    name = csv_file.name
    rows = f"{rejected} row{'s' if rejected != 1 else ''}"
    if rejected and strict:
        click.echo(f"Error: {name}: {rows} rejected; nothing imported (--strict)", err=True)
        raise SystemExit(FAILED)
    if not report.imported:
        why = f"every row was rejected ({rows})" if rejected else "no rows after the header"
        click.echo(f"Error: {name}: nothing imported: {why}", err=True)
        raise SystemExit(FAILED)
    click.echo(str(report))
    if rejected:
        raise SystemExit(PARTIAL)
