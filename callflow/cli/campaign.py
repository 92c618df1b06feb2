"""callflow campaign load|check and callflow dnc: call lists, compliance, do-not-call.

The dialer's own commands (``campaign run|pause|resume|stop|status``) join
`campaign_group` from their module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from callflow.cli.common import DB_OPTION, load_valid

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from callflow.model.campaigns import Campaign
    from callflow.model.site import Site
    from callflow.outbound.compliance import Plan

# `campaign load` and `dnc import` exit codes, as `db import` (docs/cli.md).
LOADED = 0
FAILED = 1
PARTIAL = 3

REGION_OPTION = click.option(
    "--region",
    default=None,
    help="Region of national numbers (ISO 3166) [default: the campaign's country, else the "
    "site time zone's, else CN].",
)
ENCODING_OPTION = click.option(
    "--encoding", metavar="NAME", default=None, help="Text encoding of the CSV [default: UTF-8]."
)


@contextmanager
def store_engine(db_url: str | None) -> Iterator[Engine]:
    """An engine on the checked store, disposed at the end; store errors (also those raised
    inside the block) become one clear message."""
    from callflow.store import StoreError, check_store, make_engine

    try:
        url = check_store(db_url)
        engine = make_engine(url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield engine
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


@contextmanager
def _session(db_url: str | None) -> Iterator[Session]:
    """A session on the checked store that commits at the end; store errors become one
    clear message."""
    from callflow.store import make_sessionmaker
    from callflow.store.health import database_errors

    with (
        store_engine(db_url) as engine,
        database_errors(engine.url),
        make_sessionmaker(engine).begin() as session,
    ):
        yield session


def find_campaign(site: Site, spec: str, campaign_id: str) -> Campaign:
    """The campaign *campaign_id* of *site*, or one clear error listing the campaigns."""
    for campaign in site.campaigns:
        if campaign.id == campaign_id:
            return campaign
    known = ", ".join(sorted(c.id for c in site.campaigns)) or "none"
    raise click.ClickException(
        f"{spec}: site {site.name!r} has no campaign {campaign_id!r} (its campaigns: {known})"
    )


def _region(region: str | None, site: Site | None = None, campaign: Campaign | None = None) -> str:
    import phonenumbers

    from callflow.outbound.lists import default_region

    chosen = region or (default_region(site.timezone, campaign) if site else "CN")

    if chosen.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise click.BadParameter(
            f"{chosen!r} is not a region code phonenumbers knows (e.g. CN, US, GB)",
            param_hint="--region",
        )
    return chosen.upper()


@click.group("campaign")
def campaign_group() -> None:
    """Outbound campaigns: build call lists, check compliance, dial."""


@campaign_group.command("load")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Load this CSV (phone, name, language, timezone, manager) instead of the audience.",
)
@REGION_OPTION
@ENCODING_OPTION
@click.option("--strict", is_flag=True, help="Load nothing if any CSV row is rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@DB_OPTION
def load_cmd(
    site_spec: str,
    campaign_id: str,
    csv_file: Path | None,
    region: str | None,
    encoding: str | None,
    strict: bool,
    as_json: bool,
    db_url: str | None,
) -> None:
    """Build CAMPAIGN's call list from its audience in the store (or from --csv).

    Numbers are stored in E.164 and merged by number; loading again adds only what is
    new (existing contacts keep their status). Exit status: 0 loaded; 3 some CSV rows
    rejected, the rest loaded; 1 nothing loaded.
    """
    from callflow.outbound.lists import load_audience, load_csv
    from callflow.store import StoreError

    site = load_valid(site_spec)
    campaign = find_campaign(site, site_spec, campaign_id)
    chosen = _region(region, site, campaign)
    with _session(db_url) as session:
        try:
            if csv_file is None:
                report = load_audience(session, site.name, campaign, region=chosen)
            else:
                report = load_csv(
                    session,
                    site.name,
                    campaign.id,
                    csv_file,
                    region=chosen,
                    encoding=encoding,
                    strict=strict,
                )
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        rejected = len(report.errors)
        if rejected and strict:
            session.rollback()
    for message in report.messages():
        click.echo(message, err=True)
    what = csv_file.name if csv_file else f"campaign {campaign.id!r}"
    if rejected and strict:
        click.echo(
            f"Error: {what}: {rejected} row(s) rejected; nothing loaded (--strict)", err=True
        )
        raise SystemExit(FAILED)
    if csv_file is not None and not report.loaded:
        why = f"every row was rejected ({rejected})" if rejected else "no rows after the header"
        click.echo(f"Error: {what}: nothing loaded: {why}", err=True)
        raise SystemExit(FAILED)
    click.echo(json.dumps(report.as_dict()) if as_json else str(report))
    if rejected:
        raise SystemExit(PARTIAL)


def parse_at(value: str | None, zone: str) -> dt.datetime:
    """--at: ISO 8601 (``2026-03-08T09:30:00-05:00``, ``...Z``); without an offset the
    time is read in *zone* (the campaign's own zone). None: now."""
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time; use ISO 8601, e.g. 2026-03-08T09:30:00-05:00 or "
            "2026-03-08T14:30:00Z",
            param_hint="--at",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(dt.UTC)


def _minute(moment: dt.datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@campaign_group.command("check")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    default=None,
    help="Check as if dialling at TIME (ISO 8601; no offset: the campaign's zone) [now].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@DB_OPTION
def check_cmd(
    site_spec: str, campaign_id: str, at_text: str | None, as_json: bool, db_url: str | None
) -> None:
    """Print who CAMPAIGN would dial when, and who is excluded and why, without dialling.

    Counts per reason first, then one row per contact. Exit status 1 when the campaign
    may not launch at all (e.g. no caller ID).
    """
    from callflow.outbound.compliance import ComplianceError, Rules, plan

    site = load_valid(site_spec)
    campaign = find_campaign(site, site_spec, campaign_id)
    try:
        rules = Rules.for_campaign(site, campaign)
    except ComplianceError as exc:
        raise click.ClickException(f"{site_spec}: {exc}") from exc
    at = parse_at(at_text, rules.home_zone)
    with _session(db_url) as session:
        result = plan(session, rules, at)
        session.rollback()  # a check writes nothing
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in render_plan(result):
            click.echo(line)
    if result.launch:
        raise SystemExit(FAILED)


def render_plan(result: Plan) -> list[str]:
    """The text form of a `Plan`: header, launch problems, counts per reason, rows."""
    counts = result.counts()
    out = [
        f"campaign {result.campaign!r} of site {result.site!r} at {_minute(result.at)} "
        f"(campaign zone {result.home_zone})",
    ]
    out += [f"CANNOT LAUNCH: {p}" for p in result.launch]
    out.append(
        f"{len(result.rows)} contacts: {counts['now']} dialled now, {counts['later']} later, "
        f"{counts['excluded']} excluded"
    )
    reasons = result.reasons()
    if reasons:
        out.append("not dialled now, by rule:")
        out += [f"  {rule:<14} {n}" for rule, n in reasons.items()]
    if result.rows:
        out.append("")
        out.append(f"{'number':<17} {'outcome':<9} {'when':<21} {'rule':<13} why")
        for row in result.rows:
            out.append(
                f"{row.number:<17} {row.outcome:<9} {_minute(row.when):<21} {row.rule:<13} "
                f"{row.reason}"
            )
    return out


@click.group("dnc")
def dnc_group() -> None:
    """The do-not-call list: numbers no campaign dials (checked at every dial)."""


@dnc_group.command("add")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--reason", default=None, help="Why (kept with the number).")
@REGION_OPTION
@DB_OPTION
def dnc_add(
    numbers: tuple[str, ...], reason: str | None, region: str | None, db_url: str | None
) -> None:
    """Put NUMBERS on the do-not-call list."""
    from callflow.outbound import dnc
    from callflow.store import InvalidValue

    chosen = _region(region)
    with _session(db_url) as session:
        added = 0
        for number in numbers:
            try:
                added += dnc.add(session, number, source="manual", reason=reason, region=chosen)
            except InvalidValue as exc:
                raise click.ClickException(f"{exc}; nothing added") from exc
    click.echo(f"{added} added, {len(numbers) - added} already listed")


@dnc_group.command("remove")
@click.argument("numbers", nargs=-1, required=True)
@REGION_OPTION
@DB_OPTION
def dnc_remove(numbers: tuple[str, ...], region: str | None, db_url: str | None) -> None:
    """Take NUMBERS off the do-not-call list."""
    from callflow.outbound import dnc
    from callflow.store import InvalidValue

    chosen = _region(region)
    with _session(db_url) as session:
        removed = 0
        for number in numbers:
            try:
                removed += dnc.remove(session, number, region=chosen)
            except InvalidValue as exc:
                raise click.ClickException(f"{exc}; nothing removed") from exc
    click.echo(f"{removed} removed, {len(numbers) - removed} were not listed")


@dnc_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@REGION_OPTION
@ENCODING_OPTION
@DB_OPTION
def dnc_import(
    csv_file: Path, region: str | None, encoding: str | None, db_url: str | None
) -> None:
    """Add the numbers of CSV_FILE (columns: phone, optional reason). Exit status as
    `db import`: 0, 3 some rows rejected, 1 nothing added."""
    from callflow.outbound import dnc
    from callflow.store import StoreError

    chosen = _region(region)
    with _session(db_url) as session:
        try:
            report = dnc.import_csv(session, csv_file, region=chosen, encoding=encoding)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
    for message in report.messages():
        click.echo(message, err=True)
    if not report.added and not report.unchanged:
        why = f"every row was rejected ({len(report.errors)})" if report.errors else "no rows"
        click.echo(f"Error: {csv_file.name}: nothing added: {why}", err=True)
        raise SystemExit(FAILED)
    click.echo(str(report))
    if report.errors:
        raise SystemExit(PARTIAL)


@dnc_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@DB_OPTION
def dnc_list(as_json: bool, db_url: str | None) -> None:
    """Print the do-not-call list."""
    from callflow.outbound import dnc

    with _session(db_url) as session:
        rows = [
            {
                "number": r.number,
                "source": r.source,
                "campaign": r.campaign,
                "reason": r.reason,
                "added": r.created_at.isoformat(timespec="seconds"),
            }
            for r in dnc.entries(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(
            f"{r['number']:<17} {r['source']:<7} {r['added']}  {r['campaign'] or '-'}  "
            f"{r['reason'] or ''}"
        )
    click.echo(f"{len(rows)} numbers", err=True)
