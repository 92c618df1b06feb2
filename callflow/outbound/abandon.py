"""Abandoned calls of agent-mode campaigns: the measured rate and the lockout.

A call is *abandoned* when a live person answered and no agent was connected within the
campaign's ``abandon.limit_seconds`` (the compiled agent leg then plays the safe-harbour
message and sets ``CF_ABANDONED=1``; the dialer stores ``CampaignAttempt.abandoned``)::

    stats = abandon_stats(session, "star", campaign, now)
    stats.rate, stats.corrected_rate, stats.target, stats.over_target

**The rate** is abandoned calls / live-answered calls over ``abandon.window``:

- ``30d``: answered in the 30 days before ``now`` (US Telemarketing Sales Rule,
  16 CFR 310.4(b)(4)(i): at most 3 % of calls answered by a person, per campaign, per
  30-day period); ``24h``: the last 24 hours (Ofcom, UK); ``campaign``: every call of the
  campaign. An attempt counts in the window its ``answered_at`` falls in (start
  included, ``now`` included).
- *Live-answered* are the answered attempts whose AMD verdict was not ``MACHINE`` (a
  human, not sure, or no AMD at all); *machine-answered* are those AMD called a machine.

**The machine correction** (``abandon.machine_correction``) is the UK regulator's: Ofcom,
*Revised statement of policy on the persistent misuse of an electronic communications
network or service* (2008, kept in the 2010 revision and in Annex 3, "Calculating the
abandoned call rate", of the 20 December 2016 *Persistent Misuse* statement): a caller
using AMD must include in its abandoned call rate a *reasoned estimate of AMD false
positives*, live people AMD mistook for machines and hung up on (to them a silent call).
They are both abandoned and live calls, so with ``FP = machine-answered x
false_positive_rate``::

    corrected rate = (abandoned + FP) / (live-answered + FP)

Ofcom sets no false-positive rate: it must be measured (listen to a sample of calls AMD
called machines and count the people). :data:`AMD_FALSE_POSITIVE_RATE` is a cautious
default for Asterisk's ``AMD()``; pass the measured one. Without AMD (follow-ups dial
with ``amd="off"``) nothing is machine-answered and the correction changes nothing.

**The lockout**: a number whose call was abandoned (by any campaign of the site) is not
called again until ``abandon.lockout_hours`` after that call ended (Ofcom: no repeat
call within 72 hours of an abandoned call without a guaranteed agent); :func:`lockout`
gives the verdict the claim records (rule ``abandon_lockout``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from callflow.model.campaigns import AbandonWindow, Campaign
from callflow.outbound.compliance import Verdict
from callflow.store.campaigns import CampaignAttempt

#: the rule name a number held by the abandon lockout carries in its verdict
ABANDON_LOCKOUT: Final = "abandon_lockout"
#: what AMD's verdict is when it took the callee for a machine (``CampaignAttempt.amd_status``)
MACHINE: Final = "MACHINE"
#: the share of AMD "machine" verdicts that were people, when none was measured: cautious
#: for Asterisk's energy-and-word-count ``AMD()`` (Ofcom leaves the estimate to the caller)
AMD_FALSE_POSITIVE_RATE: Final = 0.05

WINDOWS: Final[dict[AbandonWindow, dt.timedelta | None]] = {
    "30d": dt.timedelta(days=30),
    "24h": dt.timedelta(hours=24),
    "campaign": None,
}


@dataclass(frozen=True)
class AbandonStats:
    """A campaign's abandoned calls over its window, as the pacer and ``campaign status``
    read them. ``window_start`` is None for the whole campaign."""

    campaign: str
    window: AbandonWindow
    window_start: dt.datetime | None
    abandoned: int
    live: int
    machine: int
    rate: float
    #: the estimated AMD false positives (0 without ``machine_correction``)
    false_positives: float
    corrected_rate: float
    target: float

    @property
    def over_target(self) -> bool:
        """Whether the (corrected) rate is above the campaign's target."""
        return self.corrected_rate > self.target

    @property
    def paced(self) -> tuple[float, float]:
        """(abandoned, live) as the pacer counts them: with the machine correction the
        estimated false positives are added to both, so their ratio is
        :attr:`corrected_rate` and the pacer keeps the corrected rate under target."""
        return self.abandoned + self.false_positives, self.live + self.false_positives


def window_start(window: AbandonWindow, now: dt.datetime) -> dt.datetime | None:
    """Where ``window`` begins at ``now`` (None: the whole campaign)."""
    span = WINDOWS[window]
    return None if span is None else now - span


def abandon_stats(
    session: Session,
    site: str,
    campaign: Campaign,
    now: dt.datetime,
    *,
    false_positive_rate: float | None = None,
) -> AbandonStats:
    """The abandon rate of ``campaign`` of ``site`` at ``now`` (aware) over its window.
    ``false_positive_rate``: the AMD false-positive estimate of the Ofcom correction;
    None takes the campaign's ``abandon.false_positive_rate``."""
    if false_positive_rate is None:
        false_positive_rate = campaign.abandon.false_positive_rate
    if now.tzinfo is None:
        raise ValueError("abandon_stats needs an aware datetime for now")
    if not 0 <= false_positive_rate <= 1:
        raise ValueError(f"false_positive_rate {false_positive_rate!r} must be within 0..1")
    control = campaign.abandon
    start = window_start(control.window, now)
    answered = [
        CampaignAttempt.site == site,
        CampaignAttempt.campaign == campaign.id,
        CampaignAttempt.answered_at.is_not(None),
        CampaignAttempt.answered_at <= now,
    ]
    if start is not None:
        answered.append(CampaignAttempt.answered_at >= start)
    machine_answer = func.coalesce(CampaignAttempt.amd_status, "") == MACHINE
    total, machine, abandoned = session.execute(
        select(
            func.count(),
            func.sum(case((machine_answer, 1), else_=0)),
            func.sum(case((CampaignAttempt.abandoned.is_(True) & ~machine_answer, 1), else_=0)),
        ).where(*answered)
    ).one()
    machine, abandoned = int(machine or 0), int(abandoned or 0)
    live = int(total) - machine
    fp = machine * false_positive_rate if control.machine_correction else 0.0
    return AbandonStats(
        campaign=campaign.id,
        window=control.window,
        window_start=start,
        abandoned=abandoned,
        live=live,
        machine=machine,
        rate=abandoned / live if live else 0.0,
        false_positives=fp,
        corrected_rate=(abandoned + fp) / (live + fp) if live + fp else 0.0,
        target=control.target,
    )


def lockout(
    session: Session, site: str, number: str, hours: int, now: dt.datetime
) -> Verdict | None:
    """The verdict holding ``number`` when a call of any campaign of ``site`` to it was
    abandoned and ended less than ``hours`` before ``now``: not before that end plus
    ``hours``. None when it may be called (or ``hours`` is 0)."""
    if hours <= 0:
        return None
    span = dt.timedelta(hours=hours)
    last = session.scalar(
        select(func.max(CampaignAttempt.ended_at)).where(
            CampaignAttempt.site == site,
            CampaignAttempt.number == number,
            CampaignAttempt.abandoned.is_(True),
            CampaignAttempt.ended_at > now - span,
        )
    )
    if last is None:
        return None
    if last.tzinfo is None:  # SQLite hands back naive UTC from an aggregate
        last = last.replace(tzinfo=dt.UTC)
    until = last + span
    return Verdict(
        False,
        ABANDON_LOCKOUT,
        f"a call to {number} was abandoned at {last.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC:"
        f" not called again for {hours} h",
        until,
    )
