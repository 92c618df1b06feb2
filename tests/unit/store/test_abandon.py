"""Abandon statistics over a campaign's window (hand-computed, with the window's edges)
with and without the UK machine correction, and the abandon lockout at claim time, on
SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from uuid import uuid4

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from callflow.dialer.predictive import Pacer, Snapshot
from callflow.model.campaigns import AbandonControl, CallingWindow, Campaign
from callflow.model.schedule import Hours
from callflow.model.site import Site
from callflow.outbound import attempts as api
from callflow.outbound.abandon import ABANDON_LOCKOUT, abandon_stats, lockout
from callflow.store import make_sessionmaker
from callflow.store.campaigns import CampaignAttempt, CampaignContact

NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)  # 14:00 in Shanghai
US = dt.timedelta(microseconds=1)


def campaign(cid: str = "fu", **abandon: object) -> Campaign:
    return Campaign(
        id=cid,
        kind="followup",
        connect_to="care",
        caller_id="+8602112345678",
        window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),)),
        dial_mode="predictive",
        abandon=AbandonControl(**abandon),  # type: ignore[arg-type]
        abandon_message="custom/sorry",
    )


def add(
    session: Session,
    *,
    answered: dt.datetime | None,
    amd: str | None = None,
    abandoned: bool = False,
    cid: str = "fu",
    number: str | None = None,
    site: str = "star",
    ended: dt.datetime | None = None,
) -> None:
    number = number or f"+86138{uuid4().int % 10**8:08d}"
    contact = CampaignContact(site=site, campaign=cid, number=number, source="csv")
    session.add(contact)
    session.flush()
    session.add(
        CampaignAttempt(
            id=uuid4().hex,
            contact_id=contact.id,
            site=site,
            campaign=cid,
            number=number,
            attempt_no=1,
            state="ended",
            live_number=None,
            created_at=(answered or NOW) - dt.timedelta(seconds=20),
            answered_at=answered,
            ended_at=ended or (answered or NOW) + dt.timedelta(seconds=30),
            amd_status=amd,
            abandoned=abandoned,
        )
    )


def fixture_calls(session: Session) -> None:
    """Hand-made history of campaign fu (site star), by when it was answered:

    - inside 24 h: 40 live (2 abandoned), 10 machine-answered, 5 unanswered;
    - exactly 24 h before NOW: 1 live abandoned (inside: the start is included);
    - 24 h + 1 us before: 1 live (outside 24 h, inside 30 d);
    - 10 days before: 57 live (1 abandoned), 30 machine-answered;
    - exactly 30 d before: 1 live abandoned (inside 30 d);
    - 30 d + 1 us before: 1 live abandoned (only in the campaign's total);
    - after NOW: 1 live abandoned (not yet: never counted);
    - noise: another campaign's and another site's abandoned calls.
    """
    day = NOW - dt.timedelta(hours=1)
    for i in range(40):
        add(session, answered=day, amd="HUMAN" if i % 2 else None, abandoned=i < 2)
    for _ in range(10):
        add(session, answered=day, amd="MACHINE")
    for _ in range(5):
        add(session, answered=None)
    add(session, answered=NOW - dt.timedelta(hours=24), abandoned=True)
    add(session, answered=NOW - dt.timedelta(hours=24) - US)
    ten = NOW - dt.timedelta(days=10)
    for i in range(57):
        add(session, answered=ten, amd="NOTSURE", abandoned=i == 0)
    for _ in range(30):
        add(session, answered=ten, amd="MACHINE")
    add(session, answered=NOW - dt.timedelta(days=30), abandoned=True)
    add(session, answered=NOW - dt.timedelta(days=30) - US, abandoned=True)
    add(session, answered=NOW + dt.timedelta(seconds=1), abandoned=True)
    add(session, answered=day, abandoned=True, cid="other")
    add(session, answered=day, abandoned=True, site="elsewhere")


@pytest.mark.parametrize(
    ("window", "abandoned", "live", "machine", "start"),
    [
        # 2 + the one at exactly 24 h; 40 + 1 live; 10 machines
        ("24h", 3, 41, 10, NOW - dt.timedelta(hours=24)),
        # + the one just outside 24 h, the 10-day-old calls, the one at exactly 30 d
        ("30d", 3 + 1 + 1, 41 + 1 + 57 + 1, 10 + 30, NOW - dt.timedelta(days=30)),
        # + the one just outside 30 d
        ("campaign", 6, 101, 40, None),
    ],
)
def test_the_rate_over_each_window(engine: Engine, window, abandoned, live, machine, start):
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        fixture_calls(session)
    with Session() as session:
        stats = abandon_stats(session, "star", campaign(window=window), NOW)
    assert (stats.abandoned, stats.live, stats.machine) == (abandoned, live, machine)
    assert stats.window_start == start
    assert stats.rate == pytest.approx(abandoned / live)
    assert stats.corrected_rate == stats.rate and stats.false_positives == 0
    assert stats.paced == (abandoned, live)
    assert stats.target == 0.03


def test_the_uk_machine_correction_adds_the_estimated_false_positives(engine: Engine):
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        fixture_calls(session)
    with Session() as session:
        uk = campaign(window="24h", machine_correction=True)
        default = abandon_stats(session, "star", uk, NOW)  # 5 % of 10 machines: 0.5
        measured = abandon_stats(session, "star", uk, NOW, false_positive_rate=0.2)
    # 3 abandoned of 41 live (7.3 %); corrected (3 + 0.5) / (41 + 0.5) = 8.43 %
    assert default.false_positives == pytest.approx(0.5)
    assert default.rate == pytest.approx(3 / 41)
    assert default.corrected_rate == pytest.approx(3.5 / 41.5)
    # a measured 20 %: (3 + 2) / (41 + 2)
    assert measured.corrected_rate == pytest.approx(5 / 43)
    assert default.over_target and measured.over_target
    # the pacer is fed the corrected counts: the false positives are on both sides
    assert default.paced == pytest.approx((3.5, 41.5))
    assert measured.paced == pytest.approx((5.0, 43.0))


def test_the_pacer_holds_on_the_corrected_rate_where_the_plain_one_is_under_target(
    engine: Engine,
):
    """With the correction on, a campaign whose plain abandon rate is under its target
    but whose corrected rate is over it is held to progressive dialling."""
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        fixture_calls(session)
    with Session() as session:
        uk = campaign(window="24h", machine_correction=True, target=0.08)
        stats = abandon_stats(session, "star", uk, NOW, false_positive_rate=0.2)
    assert stats.rate < 0.08 < stats.corrected_rate  # 7.3 % plain, 11.6 % corrected
    abandoned, live = stats.paced
    pacer = Pacer("predictive", 0.08)
    d = pacer.decide(Snapshot(3, 1, 0, 1000, 350, abandoned, live))
    assert d.dials == 2  # progressive: 3 free agents, 1 call in flight
    assert "held to progressive: abandon 11.63% over 8.00%" in d.reason


def test_no_calls_is_a_zero_rate_not_an_error(engine: Engine):
    with make_sessionmaker(engine)() as session:
        stats = abandon_stats(session, "star", campaign(machine_correction=True), NOW)
    assert (stats.abandoned, stats.live, stats.rate, stats.corrected_rate) == (0, 0, 0.0, 0.0)
    assert not stats.over_target


def test_bad_arguments_are_refused(engine: Engine):
    with make_sessionmaker(engine)() as session:
        with pytest.raises(ValueError, match="aware"):
            abandon_stats(session, "star", campaign(), NOW.replace(tzinfo=None))
        with pytest.raises(ValueError, match="false_positive_rate 2"):
            abandon_stats(session, "star", campaign(), NOW, false_positive_rate=2)


def site_with(*campaigns: Campaign) -> Site:
    return Site(name="star", entries={}, nodes=(), campaigns=campaigns, timezone="Asia/Shanghai")


def test_an_abandoned_number_is_held_for_the_lockout_across_campaigns(engine: Engine):
    """The survey campaign abandoned +8613800000001 (ended 71 h ago) and +...02 (ended
    72 h ago exactly, so free again); the follow-up, with the default 72 h, skips the
    first until 72 h after that call ended and dials the second and a fresh number."""
    Session = make_sessionmaker(engine)
    held, free, fresh = "+8613800000001", "+8613800000002", "+8613800000003"
    ended_held = NOW - dt.timedelta(hours=71)
    with Session.begin() as session:
        add(session, answered=ended_held, abandoned=True, cid="survey", number=held,
            ended=ended_held)  # fmt: skip
        add(session, answered=NOW, abandoned=True, cid="survey", number=free,
            ended=NOW - dt.timedelta(hours=72))  # fmt: skip
        add(session, answered=NOW, abandoned=False, cid="survey", number=fresh,
            ended=NOW - dt.timedelta(hours=1))  # fmt: skip
        # the same number abandoned on another site does not count here
        add(session, answered=NOW, abandoned=True, site="other", number=fresh,
            ended=NOW - dt.timedelta(hours=1))  # fmt: skip
        for number in (held, free, fresh):
            session.add(CampaignContact(site="star", campaign="fu", number=number, source="csv"))
    fu = campaign()
    claims = api.claim(Session, site_with(fu), fu, now=NOW, dialer_id="d", limit=5)
    assert sorted(c.number for c in claims) == [free, fresh]
    with Session() as session:
        contact = session.query(CampaignContact).filter_by(campaign="fu", number=held).one()
        assert contact.status == "pending" and contact.attempts == 0
        assert contact.next_attempt_at == ended_held + dt.timedelta(hours=72)
        verdict = json.loads(contact.verdict)
        assert verdict["rule"] == ABANDON_LOCKOUT == "abandon_lockout"
        assert "abandoned" in verdict["reason"] and "72 h" in verdict["reason"]
    # a campaign with a shorter lockout (24 h) dials it at once; 0 means no lockout
    short = dataclasses.replace(fu, id="fu2", abandon=AbandonControl(lockout_hours=24))
    with Session.begin() as session:
        session.add(CampaignContact(site="star", campaign="fu2", number=held, source="csv"))
    claims = api.claim(Session, site_with(short), short, now=NOW, dialer_id="d", limit=5)
    assert [c.number for c in claims] == [held]
    with Session() as session:
        assert lockout(session, "star", held, 0, NOW) is None
        one_more = lockout(session, "star", held, 72, NOW)
        assert one_more is not None and one_more.not_before == ended_held + dt.timedelta(hours=72)
