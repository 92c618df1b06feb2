"""The abandon rate over each window, counted from attempt rows by hand: live answers
exclude machines, the window edges are (since, now], the Ofcom correction adds the
estimated AMD false positives to both sides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from callflow.model.campaigns import AbandonControl, Campaign
from callflow.outbound.abandon import abandon_stats
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def sessions(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def campaign(**abandon: Any) -> Campaign:
    return Campaign(id="recall", kind="followup", abandon=AbandonControl(**abandon))


def add(sessions: Any, age: dt.timedelta, *, amd: str | None = None, abandoned: bool = False,
        answered: bool = True, campaign_id: str = "recall") -> None:  # fmt: skip
    number = f"+86138{uuid4().int % 10**8:08d}"
    with sessions.begin() as session:
        contact = CampaignContact(site="star", campaign=campaign_id, number=number, source="csv")
        session.add(contact)
        session.flush()
        at = NOW - age
        session.add(
            CampaignAttempt(
                id=uuid4().hex, contact_id=contact.id, site="star", campaign=campaign_id,
                number=number, attempt_no=1, state="ended", live_number=None,
                created_at=at, dialled_at=at, answered_at=at if answered else None,
                ended_at=at, amd_status=amd, abandoned=abandoned,
            )
        )  # fmt: skip


def test_rates_over_each_window(sessions: Any) -> None:
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    for _ in range(8):
        add(sessions, hour)  # live, connected
    add(sessions, hour, abandoned=True)
    add(sessions, hour, amd="NOTSURE", abandoned=True)  # not sure is live
    add(sessions, hour, amd="MACHINE")  # not live
    add(sessions, hour, answered=False)  # no answer: not counted
    add(sessions, 2 * day, abandoned=True)  # outside 24 h, inside 30 d
    add(sessions, 2 * day)
    add(sessions, 31 * day, abandoned=True)  # outside 30 d
    add(sessions, dt.timedelta(hours=24))  # exactly 24 h old: outside (since, now]
    add(sessions, hour, abandoned=True, campaign_id="other")  # another campaign
    with sessions() as session:
        day_stats = abandon_stats(session, "star", campaign(window="24h"), NOW)
        month = abandon_stats(session, "star", campaign(window="30d"), NOW)
        whole = abandon_stats(session, "star", campaign(window="campaign"), NOW)
    assert (day_stats.abandoned, day_stats.live, day_stats.machine) == (2, 10, 1)
    assert day_stats.rate == pytest.approx(0.2) and day_stats.over_target
    assert (month.abandoned, month.live) == (3, 13)
    assert (whole.abandoned, whole.live) == (4, 14)
    assert whole.since is None and month.since == NOW - dt.timedelta(days=30)


def test_the_ofcom_correction_counts_estimated_false_positives(sessions: Any) -> None:
    hour = dt.timedelta(hours=1)
    for _ in range(96):
        add(sessions, hour)
    add(sessions, hour, abandoned=True)
    for _ in range(20):
        add(sessions, hour, amd="MACHINE")
    with sessions() as session:
        stats = abandon_stats(
            session, "star", campaign(machine_correction=True, false_positive_rate=0.1), NOW
        )
    # 1 of 97 live; 10 % of 20 machine verdicts were people: (1 + 2) / (97 + 2)
    assert stats.rate == pytest.approx(1 / 97)
    assert stats.corrected_rate == pytest.approx(3 / 99)


def test_no_live_answer_yet_has_no_rate(sessions: Any) -> None:
    with sessions() as session:
        stats = abandon_stats(session, "star", campaign(), NOW)
    assert (stats.rate, stats.corrected_rate, stats.over_target) == (None, None, False)
