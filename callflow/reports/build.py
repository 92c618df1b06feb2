"""One report: every KPI section for one site and period, computed by the database::

report = build_report(session, opts)
report.sections["queues"][0].sl        # SL of the first queue interval
report.as_dict()                        # what --format json prints
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from callflow.reports.kpis import (
    AgentRow,
    CampaignRow,
    GroupRow,
    QueueRow,
    RecordingRow,
    ReportOptions,
    SurveyRow,
    TierRow,
    agent_kpis,
    campaign_kpis,
    hourly_heatmap,
    language_kpis,
    leaderboard,
    people_scan,
    queue_kpis,
    queue_scan,
    queue_totals,
    recordings,
    region_kpis,
    service_level_series,
    survey_kpis,
    tier_kpis,
)

#: the sections a report has, in the order they are shown
SECTIONS = (
    "queues",
    "queue_totals",
    "agents",
    "leaderboard",
    "tiers",
    "regions",
    "languages",
    "campaigns",
    "surveys",
    "recordings",
)


@dataclass
class Report:
    """The KPI sections of one report, plus the chart series derived from them."""

    opts: ReportOptions
    queues: list[QueueRow]
    agents: list[AgentRow]
    tiers: list[TierRow]
    regions: list[GroupRow]
    languages: list[GroupRow]
    campaigns: list[CampaignRow]
    surveys: list[SurveyRow]
    recordings: list[RecordingRow]
    heatmap: list[list[int]]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def sections(self) -> dict[str, list[Any]]:
        return {
            "queues": self.queues,
            "queue_totals": queue_totals(self.queues),
            "agents": self.agents,
            "leaderboard": leaderboard(self.agents),
            "tiers": self.tiers,
            "regions": self.regions,
            "languages": self.languages,
            "campaigns": self.campaigns,
            "surveys": self.surveys,
            "recordings": self.recordings,
        }

    @property
    def service_levels(self) -> list[tuple[str, float | None, float | None]]:
        return service_level_series(self.queues)

    def meta(self) -> dict[str, Any]:
        p = self.opts.period
        return {
            "site": self.opts.site,
            "from": p.start.astimezone(p.tz).isoformat(),
            "until": p.end.astimezone(p.tz).isoformat(),
            "timezone": p.tz.key,
            "interval": p.interval,
            "service_level_seconds": self.opts.service_level,
            "effective_seconds": self.opts.effective,
            "abandon_cap": self.opts.abandon_cap,
            "filters": {
                "queue": list(self.opts.queues),
                "agent": list(self.opts.agents),
                "campaign": list(self.opts.campaigns),
                "tier": list(self.opts.tiers),
            },
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": self.meta(),
            **{name: [r.as_dict() for r in rows] for name, rows in self.sections.items()},
            "heatmap": self.heatmap,
        }


def build_report(session: Session, opts: ReportOptions) -> Report:
    """Every section of the report for *opts*."""
    queues = queue_scan(session, opts)  # one pass for the queues and the heat map
    people = people_scan(session, opts)  # one for regions and languages
    return Report(
        opts=opts,
        queues=queue_kpis(session, opts, scan=queues),
        agents=agent_kpis(session, opts),
        tiers=tier_kpis(session, opts),
        regions=region_kpis(session, opts, people),
        languages=language_kpis(session, opts, people),
        campaigns=campaign_kpis(session, opts),
        surveys=survey_kpis(session, opts),
        recordings=recordings(session, opts),
        heatmap=hourly_heatmap(session, opts, queues),
    )
