"""KPI reports: defined once as SQL the database aggregates (``kpis``), assembled into a
report (``build``), rendered as a terminal table, CSV, JSON or a self-contained HTML page
with charts (``render``, ``charts``); Asterisk's own queue_log can stand in for call
records callflow did not write (``queue_log``). Reads the store only::

    opts = ReportOptions(site="star", period=Period.parse("2026-11-01", "2026-11-02",
                         zone("Asia/Shanghai"), "hour"))
    report = build_report(session, opts)
"""

from callflow.reports.build import SECTIONS, Report, build_report
from callflow.reports.errors import ReportError
from callflow.reports.kpis import ReportOptions
from callflow.reports.period import INTERVALS, Period, zone

__all__ = [
    "INTERVALS",
    "SECTIONS",
    "Period",
    "Report",
    "ReportError",
    "ReportOptions",
    "build_report",
    "zone",
]
