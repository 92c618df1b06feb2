"""A report as a terminal table, CSV, JSON or one self-contained HTML page::

    print(as_json(report))
    as_csv(report, "queues")              # one section, one header row
    html = as_html(report, recordings_url="https://pbx.example/recordings/")
    write_atomic(Path("report.html"), html)

The HTML page has no scripts and loads nothing: the charts are inline SVG
(:mod:`callflow.reports.charts`), the styles inline; every value from the database is
escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from rich.console import Console
from rich.table import Table

from callflow.reports.build import SECTIONS, Report

#: the columns each section shows in a table and CSV (JSON has every field)
COLUMNS: dict[str, tuple[str, ...]] = {
    "queues": ("interval", "queue", "offered", "answered", "abandoned", "timed_out", "sl", "sl2",
               "asa", "longest_wait"),
    "queue_totals": ("queue", "offered", "answered", "abandoned", "timed_out", "sl", "sl2", "asa",
                     "longest_wait", "abandon_rate"),
    "agents": ("period", "agent", "answered_inbound", "outbound_made", "outbound_connected", "talk",
               "aht", "effective", "manager_first"),
    "leaderboard": ("agent", "effective", "handled", "answered_inbound", "outbound_made",
                    "outbound_connected", "talk", "aht", "manager_first"),
    "tiers": ("tier", "offered", "answered", "abandoned", "avg_wait", "longest_wait",
              "abandon_rate", "manager_share"),
    "regions": ("name", "calls", "answered", "minutes"),
    "languages": ("name", "calls", "answered", "minutes"),
    "campaigns": ("campaign", "attempts", "contacts", "contacted", "contact_rate", "abandoned",
                  "abandon_rate", "cap", "over_cap", "optouts", "dispositions"),
    "surveys": ("campaign", "question", "answers", "average", "csat", "distribution"),
    "recordings": ("started_at", "agent", "queue", "talk", "file"),
}  # fmt: skip
RATES = {"sl", "sl2", "abandon_rate", "contact_rate", "manager_share", "csat", "cap"}
TITLES = {
    "queues": "Queues per interval",
    "queue_totals": "Queues over the period",
    "agents": "Agents per day",
    "leaderboard": "Agent leaderboard",
    "tiers": "Wait and abandon by customer tier",
    "regions": "Calls per region",
    "languages": "Calls per language",
    "campaigns": "Campaigns",
    "surveys": "Survey answers",
    "recordings": "Recordings to review",
}


def cell(name: str, value: Any) -> str:
    """One value as text: rates as percentages, averages to one decimal, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in RATES and isinstance(value, float | int):
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, dict):
        return " ".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def rows_of(report: Report, section: str) -> list[dict[str, Any]]:
    return [r.as_dict() for r in report.sections[section]]


def as_json(report: Report, section: str | None = None) -> str:
    data = report.as_dict()
    if section is not None:
        data = {"report": data["report"], section: data[section]}
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def as_csv(report: Report, section: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = COLUMNS[section]
    writer.writerow(columns)
    for row in rows_of(report, section):
        writer.writerow(
            [
                json.dumps(row[c], sort_keys=True) if isinstance(row[c], dict) else row[c]
                for c in columns
            ]
        )
    return buf.getvalue()


def _shown_rows(report: Report, section: str) -> list[dict[str, Any]]:
    """The rows a table shows: per-interval queue rows without calls only fill the page."""
    rows = rows_of(report, section)
    if section == "queues":
        rows = [r for r in rows if r["offered"]]
    return rows


def print_tables(report: Report, console: Console, sections: tuple[str, ...] = SECTIONS) -> None:
    """The report as rich tables, one per section (empty sections say so)."""
    meta = report.meta()
    console.print(
        f"[bold]{meta['site']}[/bold] {meta['from']} .. {meta['until']} ({meta['timezone']}, "
        f"per {meta['interval']}; SL {meta['service_level_seconds']} s, effective >= "
        f"{meta['effective_seconds']} s)",
        markup=True,
        highlight=False,
    )
    for section in sections:
        rows = _shown_rows(report, section)
        table = Table(title=TITLES[section], title_justify="left")
        for column in COLUMNS[section]:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(cell(c, row[c]) for c in COLUMNS[section]))
        if not rows:
            console.print(f"{TITLES[section]}: none")
        else:
            console.print(table)


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("callflow.reports", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def recording_link(base: str | None, file: str) -> str | None:
    """The URL of a recording file under *base* (a URL or a directory), or None. A split
    recording's record names its files space-separated: the link is to the first."""
    if not base:
        return None
    first = next(iter(file.split()), file)
    return base.rstrip("/") + "/" + quote(first.lstrip("/"))


def as_html(report: Report, *, recordings_url: str | None = None) -> str:
    """The report as one HTML page with its charts inline."""
    from callflow.reports import charts  # matplotlib: only the HTML page draws charts

    opts = report.opts
    board = report.sections["leaderboard"]
    figures = {
        "heatmap": charts.heatmap_svg(report.heatmap),
        "service_level": charts.service_level_svg(report.service_levels, opts.service_level),
        "tiers": charts.wait_by_tier_svg(report.tiers),
        "leaderboard": charts.leaderboard_svg(board, opts.effective),
        "funnel": charts.funnel_svg(report.campaigns),
        "surveys": charts.survey_svg(report.surveys),
    }
    tables = {}
    for section in SECTIONS:
        rows = _shown_rows(report, section)
        tables[section] = {
            "title": TITLES[section],
            "columns": COLUMNS[section],
            "rows": [[cell(c, r[c]) for c in COLUMNS[section]] for r in rows],
        }
    links = [
        (r.started_at, r.agent or "-", r.queue or "-", r.talk, r.file,
         recording_link(recordings_url, r.file))
        for r in report.recordings
    ]  # fmt: skip
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            meta=report.meta(),
            generated=report.generated_at.isoformat(timespec="seconds"),
            charts={k: Markup(v) for k, v in figures.items()},  # noqa: S704 - matplotlib's SVG
            tables=tables,
            recordings=links,
            totals=rows_of(report, "queue_totals"),
        )
    )


def write_atomic(path: Path, text: str) -> None:
    """Write *text* to a temporary file beside *path*, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
