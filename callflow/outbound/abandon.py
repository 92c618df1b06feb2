"""A campaign's abandoned-call rate, measured the way the regulators define it.

A call is **abandoned** when a person answered and no agent was connected within the
campaign's ``abandon.limit_seconds`` (the compiled campaign context then plays the
safe-harbour message and sets ``CF_ABANDONED``; the dialer stores it on the attempt).
The rate is abandoned / live-answered calls, a machine answer (AMD ``MACHINE``) not being
a live one, over the campaign's ``abandon.window``:

- ``30d``: the last 30 days (US Telemarketing Sales Rule, 16 CFR 310.4(b)(4)(i): "no more
  than three percent of all calls answered by a person, measured over the duration of a
  single calling campaign, if less than 30 days, or separately over each successive
  30-day period");
- ``24h``: the last 24 hours (Ofcom, *Persistent misuse statement* 2016, §A1.65: 3 % "of
  live calls per campaign or call centre over any 24 hour period");
- ``campaign``: every call of the campaign.

With ``abandon.machine_correction`` the UK rule's correction for answering-machine
detection is applied (Ofcom 2016, §A1.66-A1.67): calls AMD took for a machine include
some live people ("false positives") who were hung up on, so a reasoned estimate of them
counts both as abandoned and as live::

    corrected = (abandoned + fp * machine) / (live + fp * machine)

where ``fp`` is the campaign's ``abandon.false_positive_rate``, the share of AMD
"machine" verdicts that were people (measure it on your own calls; Ofcom asks for the
estimate to be reasoned and documented).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callflow.model.campaigns import Campaign
from callflow.outbound.dispositions import MACHINE_STATUSES
from callflow.store.campaigns import CampaignAttempt

#: how far back each window reaches
WINDOWS: dict[str, dt.timedelta | None] = {
    "30d": dt.timedelta(days=30),
    "24h": dt.timedelta(hours=24),
    "campaign": None,
}


@dataclass(frozen=True)
class AbandonStats:
    """A campaign's abandon counts over its window (``since`` None: the whole campaign)."""

    abandoned: int
    live: int
    machine: int
    rate: float | None  # abandoned / live; None before any live answer
    corrected_rate: float | None  # with the AMD false-positive estimate (Ofcom)
    since: dt.datetime | None
    target: float

    @property
    def over_target(self) -> bool:
        return self.rate is not None and self.rate > self.target


def abandon_stats(
    session: Session, site: str, campaign: Campaign, now: dt.datetime
) -> AbandonStats:
    """The abandon counts of ``campaign`` of ``site`` over its window ending at ``now``."""
    span = WINDOWS[campaign.abandon.window]
    since = None if span is None else now - span
    answered = [
        CampaignAttempt.site == site,
        CampaignAttempt.campaign == campaign.id,
        CampaignAttempt.answered_at.is_not(None),
        CampaignAttempt.answered_at <= now,
    ]
    if since is not None:
        answered.append(CampaignAttempt.answered_at > since)
    machine_verdict = CampaignAttempt.amd_status.in_(tuple(MACHINE_STATUSES))
    count = select(func.count()).select_from(CampaignAttempt)
    live = int(
        session.scalar(
            count.where(*answered, or_(CampaignAttempt.amd_status.is_(None), ~machine_verdict))
        )
        or 0
    )
    machine = int(session.scalar(count.where(*answered, machine_verdict)) or 0)
    abandoned = int(
        session.scalar(count.where(*answered, CampaignAttempt.abandoned.is_(True))) or 0
    )
    rate = abandoned / live if live else None
    fp = campaign.abandon.false_positive_rate * machine
    corrected = (abandoned + fp) / (live + fp) if live + fp > 0 else None
    return AbandonStats(
        abandoned=abandoned,
        live=live,
        machine=machine,
        rate=rate,
        corrected_rate=corrected,
        since=since,
        target=campaign.abandon.target,
    )
