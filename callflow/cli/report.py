"""callflow report: KPIs of a site's calls over a period (docs/reports.md)."""

from __future__ import annotations

import io
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click

from callflow.cli.common import DB_OPTION, load, output_file

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from callflow.reports import Report

FORMATS = ("table", "csv", "json", "html")


@click.command("report")
@click.argument("site_spec", metavar="SITE")
@click.option(
    "--from", "start", required=True, metavar="DATE", help="First day (or instant), site time."
)
@click.option("--until", "end", required=True, metavar="DATE", help="End (exclusive), site time.")
@click.option(
    "--interval",
    default="hour",
    show_default=True,
    type=click.Choice(["15m", "30m", "hour", "day", "week"]),
)
@click.option("--tz", default=None, metavar="ZONE", help="Time zone [default: the site's].")
@click.option(
    "--queue", "queues", multiple=True, metavar="ID", help="Only this queue (repeatable)."
)
@click.option("--agent", "agents", multiple=True, metavar="STAFF", help="Only this agent.")
@click.option("--campaign", "campaigns", multiple=True, metavar="ID", help="Only this campaign.")
@click.option("--tier", "tiers", multiple=True, metavar="TIER", help="Only this customer tier.")
@click.option("--format", "fmt", default="table", show_default=True, type=click.Choice(FORMATS))
@click.option(
    "--section", default=None, help="One section (table, csv, json); csv: default queues."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to this file (html: default report.html).",
)
@click.option(
    "--service-level",
    default=60,
    show_default=True,
    type=click.IntRange(0, 86400),
    help="SL threshold in seconds (queues.conf servicelevel).",
)
@click.option(
    "--effective",
    default=180,
    show_default=True,
    type=click.IntRange(0, 86400),
    help="Talk seconds that make an effective call.",
)
@click.option(
    "--abandon-cap",
    default=0.03,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Campaign abandon-rate cap (TSR/Ofcom: 0.03).",
)
@click.option(
    "--queue-log",
    type=click.Path(path_type=Path),
    default=None,
    help="Report from Asterisk's queue_log file instead of call records.",
)
@click.option(
    "--queue-log-db",
    default=None,
    metavar="URL",
    help="Report from Asterisk's realtime queue_log table at URL.",
)
@click.option(
    "--recordings-url",
    default=None,
    metavar="URL",
    help="Base URL of recording files, for links in the HTML report.",
)
@DB_OPTION
def report_cmd(
    site_spec: str,
    start: str,
    end: str,
    interval: str,
    tz: str | None,
    queues: tuple[str, ...],
    agents: tuple[str, ...],
    campaigns: tuple[str, ...],
    tiers: tuple[str, ...],
    fmt: str,
    section: str | None,
    output: Path | None,
    service_level: int,
    effective: int,
    abandon_cap: float,
    queue_log: Path | None,
    queue_log_db: str | None,
    recordings_url: str | None,
    db_url: str | None,
) -> None:
    """KPIs of SITE's calls from --from until --until: queues (SL, SL2, ASA), agents
    (effective calls), customer tiers, regions, languages, campaigns and surveys.

    Dates are on the site's clock (or --tz). Output: a table (default), CSV of one
    --section, JSON, or a self-contained HTML page with charts (-o, default report.html).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from callflow.contract import queue_name
    from callflow.errors import CallflowError
    from callflow.reports import SECTIONS, Period, ReportError, ReportOptions, build_report, zone
    from callflow.reports.kpis import check_filters
    from callflow.store import StoreError, make_sessionmaker, safe_url
    from callflow.store.health import database_errors

    site = load(site_spec)
    if section is not None and section not in SECTIONS:
        raise click.BadParameter(
            f"unknown section {section!r}; use one of {', '.join(SECTIONS)}",
            param_hint="--section",
        )
    if queue_log is not None and queue_log_db is not None:
        raise click.UsageError("give --queue-log or --queue-log-db, not both")
    if output is not None:
        output_file(output)
    site_queues = {q.id: queue_name(site.name, q.id) for q in site.queues()}
    # a queue is named by its id in the site (sales) or as Asterisk knows it (star-sales)
    wanted = tuple(site_queues.get(q, q) for q in queues)
    try:
        clock = zone(tz or site.timezone)
        opts = ReportOptions(
            site=site.name,
            period=Period.parse(start, end, clock, interval),
            service_level=service_level,
            effective=effective,
            abandon_cap=abandon_cap,
            queues=wanted,
            agents=agents,
            campaigns=campaigns,
            tiers=tiers,
            default_language=site.language,
        )
        engine = _source(db_url, queue_log, queue_log_db, site.name, clock)
        try:
            with database_errors(engine), make_sessionmaker(engine)() as session:
                check_filters(
                    session,
                    opts,
                    known_queues=[*site_queues.values(), *site_queues],
                    known_campaigns=[c.id for c in site.campaigns],
                )
                report = build_report(session, opts)
        finally:
            engine.dispose()
    except (ReportError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        where = safe_url(db_url) if db_url else "the database"
        raise click.ClickException(
            f"{where}: cannot read call records ({exc.__class__.__name__}); "
            "run `callflow db upgrade` first"
        ) from exc
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(report, fmt, section, output, recordings_url)


def _source(
    db_url: str | None,
    queue_log: Path | None,
    queue_log_db: str | None,
    site: str,
    clock: tzinfo,
) -> Engine:
    """The engine the report reads: the store, or an in-memory copy of a queue_log."""
    from callflow.reports import queue_log as qlog
    from callflow.store import Base, make_engine, make_sessionmaker

    if queue_log is None and queue_log_db is None:
        return make_engine(db_url)
    if queue_log is not None:
        entries = qlog.read_file(queue_log)
    else:
        source = make_engine(queue_log_db)
        try:
            entries = qlog.read_table(source, clock)
        finally:
            source.dispose()
    engine = make_engine("sqlite:///:memory:")
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine).begin() as session:
        qlog.load_records(session, entries, site)
    return engine


def _emit(
    report: Report, fmt: str, section: str | None, output: Path | None, url: str | None
) -> None:
    from rich.console import Console

    from callflow.reports import SECTIONS
    from callflow.reports.render import as_csv, as_html, as_json, print_tables, write_atomic

    if fmt == "table" and output is None:
        print_tables(report, Console(), (section,) if section else SECTIONS)
        return
    if fmt == "html":
        output = output_file(output or Path("report.html"))
        text = as_html(report, recordings_url=url)
    elif fmt == "csv":
        text = as_csv(report, section or "queues")
    elif fmt == "json":
        text = as_json(report, section)
    else:
        console = Console(record=True, width=160, file=io.StringIO())
        print_tables(report, console, (section,) if section else SECTIONS)
        text = console.export_text()
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        raise click.ClickException(f"{output}: {exc.strerror or exc}") from exc
    if fmt == "html":
        click.echo(f"wrote {output}")
