"""recordings: the call recordings on disk and the records that link them (docs/recording.md).

callflow recordings list [--since DATE] [--json] [--dir DIR]
callflow recordings prune --older-than DAYS [--dry-run] [--dir DIR]
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from callflow.cli.common import DB_OPTION

DIR_OPTION = click.option(
    "--dir",
    "root",
    envvar="CALLFLOW_RECORDINGS",
    default=None,
    metavar="DIR",
    help="Asterisk's monitor directory, where recordings are "
    "[$CALLFLOW_RECORDINGS, else /var/spool/asterisk/monitor].",
)


@click.group("recordings")
def recordings_group() -> None:
    """List call recordings and delete old ones (retention)."""


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time", param_hint="--since"
        ) from None
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _root(value: str | None) -> Path:
    from callflow.store.recordings import DEFAULT_MONITOR_DIR

    return Path(value or DEFAULT_MONITOR_DIR)


@recordings_group.command("list")
@click.option("--since", default=None, metavar="DATE", help="Only calls since DATE (UTC).")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of a table.")
@DIR_OPTION
@DB_OPTION
def list_cmd(since: str | None, as_json: bool, root: str | None, db_url: str | None) -> None:
    """The recordings the call records link (MISSING: the file is gone) and callflow's
    files on disk that no record links (UNLINKED)."""
    from callflow.store import StoreError, check_store, make_engine, make_sessionmaker
    from callflow.store.recordings import list_recordings

    start = _since(since)
    try:
        engine = make_engine(check_store(db_url))
        with make_sessionmaker(engine)() as session:
            found = list_recordings(session, _root(root), start)
        engine.dispose()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in found], indent=2))
        return
    for e in found:
        state = "ok" if e.exists and e.linkedid else ("UNLINKED" if e.exists else "MISSING")
        when = e.started_at.isoformat(timespec="seconds") if e.started_at else "-"
        click.echo(f"{state:8}  {when:25}  {e.linkedid or '-':24}  {e.file}")
    missing = sum(not e.exists for e in found)
    click.echo(f"{len(found)} recording(s), {missing} missing", err=True)


@recordings_group.command("prune")
@click.option(
    "--older-than",
    "days",
    required=True,
    type=float,
    metavar="DAYS",
    help="Delete recordings last written more than DAYS days ago.",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@DIR_OPTION
@DB_OPTION
def prune_cmd(days: float, dry_run: bool, root: str | None, db_url: str | None) -> None:
    """Delete callflow's own recordings older than DAYS (by the file's last write) and
    unlink them from their call records; nothing else in the directory is touched."""
    from callflow.store import StoreError, check_store, make_engine, make_sessionmaker
    from callflow.store.recordings import prune

    if days < 0 or days != days or days == float("inf"):
        raise click.BadParameter(
            f"{days:g} is not a number of days >= 0", param_hint="--older-than"
        )
    folder = _root(root)
    try:
        engine = make_engine(check_store(db_url))
        with make_sessionmaker(engine).begin() as session:
            gone = prune(session, folder, days, dry_run=dry_run)
        engine.dispose()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or folder}: {exc.strerror or exc}") from exc
    verb = "would delete" if dry_run else "deleted"
    for path in gone:
        click.echo(f"{verb} {path.relative_to(folder)}")
    click.echo(f"{len(gone)} recording(s) {verb}", err=True)


__all__ = ["recordings_group"]
