"""KPI functions against hand-computed fixtures, on SQLite and PostgreSQL.

The site's clock is America/Chicago, so the fixture day 2026-11-01 has 25 hours (01:00
comes twice: CDT -05:00, then CST -06:00). Every expected figure below is worked out
by hand from the calls listed in ``CALLS``; docs/reports.md defines each KPI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from callflow.reports import Period, ReportOptions, build_report, zone
from callflow.reports.errors import ReportError
from callflow.reports.kpis import (
    agent_kpis,
    campaign_kpis,
    check_filters,
    hourly_heatmap,
    language_kpis,
    leaderboard,
    queue_kpis,
    queue_totals,
    region_kpis,
    survey_kpis,
    tier_kpis,
)
from callflow.store import (
    CallRecord,
    CampaignAttempt,
    CampaignContact,
    Customer,
    DncNumber,
    Staff,
    SurveyResponse,
    make_sessionmaker,
)

CHICAGO = zone("America/Chicago")
Q = "dealer-sales"
QD, MTQ, IN, OUT = "queue:sales", "manager-then-queue", "inbound", "outbound"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (linkedid, UTC start, direction, queue, tier, wait, answered, talk, agent, destination, path)
CALLS = [
    # 23:59:30 CDT on Oct 31, talks past midnight: counts on Oct 31 (calls belong to the
    # interval they started in); answered within SL 20
    ("c1", utc(2026, 11, 1, 4, 59, 30), IN, Q, "vip", 15, True, 200, "ann", QD, "queue"),
    # 01:30 CDT (the first 01:00): answered after 25 s, outside SL
    ("c2", utc(2026, 11, 1, 6, 30), IN, Q, "gold", 25, True, 100, "bob", QD, None),
    # 01:30 CST (the repeated 01:00): abandoned after 10 s, within SL (counts for SL2)
    ("c3", utc(2026, 11, 1, 7, 30), IN, Q, "standard", 10, False, None, None, QD, None),
    # 01:45 CST: abandoned after 40 s, outside SL
    ("c4", utc(2026, 11, 1, 7, 45), IN, Q, "vip", 40, False, None, None, QD, MTQ),
    # 09:00 CST: the queue gave up after 120 s, the call went on to voicemail
    ("c5", utc(2026, 11, 1, 15, 0), IN, Q, None, 120, False, None, None, "voicemail:100", None),
    # 10:00 CST: answered at exactly the SL threshold (<= counts), then transferred by ann
    # to bob: one call, one record, ann's
    ("c6", utc(2026, 11, 1, 16, 0), IN, Q, None, 20, True, 400, "ann", QD, None),
    # 11:00 CST: the VIP's account manager took it before the queue
    ("c7", utc(2026, 11, 1, 17, 0), IN, None, "vip", 3, True, 190, "wang", "dial:wang", "manager"),
    # outbound calls bob made: one connected, one not
    ("c8", utc(2026, 11, 1, 18, 0), OUT, None, None, 0, True, 30, "bob", None, None),
    ("c9", utc(2026, 11, 1, 18, 5), OUT, None, None, 0, False, None, "bob", None, None),
    # a campaign call no agent took (a survey)
    ("c10", utc(2026, 11, 1, 19, 0), OUT, None, None, 0, True, 60, None, None, None),
    # another site's call and a call after the period: never counted
    ("x1", utc(2026, 11, 1, 12, 0), IN, "other-sales", None, 1, True, 50, "ann", QD, None),
    ("late", utc(2026, 11, 2, 6, 0), IN, Q, None, 1, True, 50, "ann", QD, None),
]  # fmt: skip
CALLERS = {"c2": "+13125550123", "c3": "+8675512345678", "c5": "anonymous"}


@pytest.fixture
def sessions(engine: Engine):
    maker = make_sessionmaker(engine)
    with maker.begin() as s:
        s.add(Staff(id="wang", name="Wang Wei", device="PJSIP/2001"))
        s.flush()
        vip = Customer(name="Li Lei", tier="vip", account_manager_id="wang", region="east",
                       language="zh")  # fmt: skip
        s.add(vip)
        s.flush()
        records = {}
        for (
            linkedid,
            start,
            direction,
            queue,
            tier,
            wait,
            answered,
            talk,
            agent,
            dest,
            path,
        ) in CALLS:
            rec = CallRecord(
                uniqueid=linkedid,
                linkedid=linkedid,
                site="other" if linkedid == "x1" else "dealer",
                direction=direction,
                caller=CALLERS.get(linkedid),
                queue=queue,
                tier=tier,
                customer_id=vip.id if linkedid in ("c1", "c4", "c7") else None,
                started_at=start,
                wait_seconds=wait,
                answered_at=start + timedelta(seconds=wait) if answered else None,
                ended_at=start + timedelta(seconds=wait + (talk or 0)),
                talk_seconds=talk,
                disposition="ANSWERED" if answered else "NO ANSWER",
                agent=agent,
                destination=dest,
                path=path,
            )
            if linkedid == "c6":
                rec.recording_file = "dealer/c6 ann.wav"
            s.add(rec)
            records[linkedid] = rec
        s.flush()
        for linkedid, question, answer in (
            ("c8", "q1", "5"),
            ("c8", "q2", "2"),
            ("c10", "q1", "4"),
        ):
            s.add(SurveyResponse(call_record_id=records[linkedid].id, campaign="survey",
                                 question=question, answer=answer))  # fmt: skip
        contacts = {}
        for number in ("+8613800000001", "+8613800000002", "+8613800000003"):
            contacts[number] = CampaignContact(site="dealer", campaign="survey", number=number)
            s.add(contacts[number])
        s.flush()
        for i, (number, disposition) in enumerate(
            (
                ("+8613800000001", "busy"),
                ("+8613800000001", "human"),
                ("+8613800000002", "optout"),
                ("+8613800000003", "abandoned"),
            )
        ):
            s.add(
                CampaignAttempt(
                    id=f"a{i}", contact_id=contacts[number].id, site="dealer", campaign="survey",
                    number=number, attempt_no=1 + (i == 1), state="ended", disposition=disposition,
                    dialled_at=utc(2026, 11, 1, 18, i),
                )
            )  # fmt: skip
        s.add(DncNumber(number="+8613800000002", source="optout", campaign="survey",
                        created_at=utc(2026, 11, 1, 18, 3)))  # fmt: skip
    return maker


def opts(interval: str = "hour", **kw) -> ReportOptions:
    period = Period.parse("2026-10-31", "2026-11-02", CHICAGO, interval)
    return ReportOptions(site="dealer", period=period, service_level=20, **kw)


def test_queue_intervals_follow_the_local_clock_across_dst_and_midnight(sessions):
    with sessions() as s:
        rows = queue_kpis(s, opts())
    assert len(rows) == 24 + 25  # one row per local hour, the repeated 01:00 twice
    by = {r.interval: r for r in rows}
    assert (by["2026-10-31T23:00-05:00"].offered, by["2026-10-31T23:00-05:00"].answered) == (1, 1)
    first, second = by["2026-11-01T01:00-05:00"], by["2026-11-01T01:00-06:00"]
    assert (first.offered, first.answered, first.answered_in_sl, first.asa) == (1, 1, 0, 25)
    assert (second.offered, second.abandoned, second.abandoned_in_sl) == (2, 2, 1)
    assert second.sl is None and second.sl2 == 0.5  # nothing answered; 1 of 2 abandoned in SL
    zero = by["2026-11-01T00:00-05:00"]  # a zero-call interval is still a row
    assert (zero.offered, zero.sl, zero.sl2, zero.asa) == (0, None, None, None)
    assert by["2026-11-01T09:00-06:00"].timed_out == 1


def test_queue_totals_sl_sl2_asa_as_queues_conf_counts_them(sessions):
    with sessions() as s:
        (total,) = queue_totals(queue_kpis(s, opts()))
    assert (total.queue, total.offered, total.answered, total.abandoned, total.timed_out) == (
        Q, 6, 3, 2, 1,
    )  # fmt: skip
    assert total.answered_in_sl == 2  # c1 (15 s) and c6 (exactly 20 s)
    assert total.sl == pytest.approx(2 / 3)
    assert total.sl2 == pytest.approx((2 + 1) / (3 + 2))  # timed-out calls are in neither
    assert total.asa == pytest.approx((15 + 25 + 20) / 3)
    assert total.longest_wait == 120


def test_days_have_25_and_23_hours_and_calls_count_on_the_day_they_started(sessions):
    with sessions() as s:
        days = queue_kpis(s, opts("day"))
        spring = Period.parse("2026-03-08", "2026-03-09", CHICAGO, "hour").intervals()
    assert [(r.interval, r.offered) for r in days] == [("2026-10-31", 1), ("2026-11-01", 5)]
    assert len(spring) == 23


def test_agents_per_day_effective_calls_and_manager_first(sessions):
    with sessions() as s:
        rows = {(r.period, r.agent): r for r in agent_kpis(s, opts("day"))}
        board = leaderboard(list(rows.values()))
    ann31, ann1 = rows[("2026-10-31", "ann")], rows[("2026-11-01", "ann")]
    assert (ann31.answered_inbound, ann31.talk, ann31.effective) == (1, 200, 1)
    assert (ann1.answered_inbound, ann1.talk, ann1.effective) == (1, 400, 1)
    bob = rows[("2026-11-01", "bob")]
    assert (bob.answered_inbound, bob.outbound_made, bob.outbound_connected) == (1, 2, 1)
    assert (bob.talk, bob.handled, bob.effective, bob.aht) == (130, 2, 0, 65)
    wang = rows[("2026-11-01", "wang")]
    assert (wang.manager_first, wang.effective) == (1, 1)
    assert [(r.agent, r.effective) for r in board] == [("ann", 2), ("wang", 1), ("bob", 0)]


def test_effective_threshold_is_configurable(sessions):
    with sessions() as s:
        board = leaderboard(agent_kpis(s, opts("day", effective=100)))
    assert {r.agent: r.effective for r in board} == {"ann": 2, "bob": 1, "wang": 1}


def test_wait_and_abandon_by_tier_and_vips_reaching_their_manager(sessions):
    with sessions() as s:
        tiers = {t.tier: t for t in tier_kpis(s, opts())}
    vip = tiers["vip"]  # c1 answered (15 s), c4 abandoned (40 s), c7 the manager (3 s)
    assert (vip.offered, vip.answered, vip.abandoned, vip.longest_wait) == (3, 2, 1, 40)
    assert vip.avg_wait == 9 and vip.manager_share == pytest.approx(1 / 3)
    assert (tiers["standard"].abandoned, tiers["gold"].avg_wait) == (1, 25)
    assert tiers["unknown"].offered == 2  # c5 and c6
    assert list(tiers) == ["vip", "gold", "standard", "unknown"]


def test_regions_from_the_customer_else_the_number(sessions):
    with sessions() as s:
        regions = {r.name: (r.calls, r.talk) for r in region_kpis(s, opts())}
        languages = {r.name: r.calls for r in language_kpis(s, opts(default_language="en"))}
    assert regions["east"] == (3, 390)  # the VIP's c1, c4, c7
    assert regions["Chicago, IL"] == (1, 100)
    assert regions["Shenzhen, Guangdong"] == (1, 0)
    assert regions["unknown"][0] == 5  # no caller number (c5: "anonymous")
    assert languages == {"zh": 3, "en": 7}


def test_campaign_contact_and_abandon_rate_against_the_cap(sessions):
    with sessions() as s:
        (row,) = campaign_kpis(s, opts())
    assert (row.attempts, row.contacts, row.contacted, row.abandoned, row.optouts) == (
        4, 3, 3, 1, 1,
    )  # fmt: skip
    assert row.contact_rate == 0.75 and row.abandon_rate == pytest.approx(1 / 3)
    assert row.over_cap and row.dispositions == {
        "abandoned": 1, "busy": 1, "human": 1, "optout": 1,
    }  # fmt: skip


def test_survey_distribution_average_and_csat(sessions):
    with sessions() as s:
        rows = {r.question: r for r in survey_kpis(s, opts())}
    assert rows["q1"].distribution == {"4": 1, "5": 1}
    assert (rows["q1"].average, rows["q1"].csat) == (4.5, 1.0)
    assert (rows["q2"].average, rows["q2"].csat) == (2, 0)


def test_filters_narrow_every_section(sessions):
    with sessions() as s:
        vip_only = queue_totals(queue_kpis(s, opts(tiers=("vip",))))
        ann_only = agent_kpis(s, opts("day", agents=("ann",)))
        heat = hourly_heatmap(s, opts())
    assert [(t.offered, t.answered) for t in vip_only] == [(2, 1)]
    assert {r.agent for r in ann_only} == {"ann"}
    assert sum(map(sum, heat)) == 10
    assert heat[5][23] == 1  # c1: Saturday 23:59 local


def test_unknown_filters_are_one_clear_error(sessions):
    with sessions() as s:
        with pytest.raises(ReportError, match="unknown queue 'dealer-sles'; known: dealer-sales"):
            check_filters(s, opts(queues=("dealer-sles",)))
        with pytest.raises(ReportError, match="unknown agent 'zed'"):
            check_filters(s, opts(agents=("zed",)))
        check_filters(s, opts(queues=(Q,), agents=("ann",), campaigns=("survey",)))


def test_the_whole_report_serialises(sessions):
    with sessions() as s:
        report = build_report(s, opts())
    data = report.as_dict()
    assert data["report"]["timezone"] == "America/Chicago"
    assert [r["file"] for r in data["recordings"]] == ["dealer/c6 ann.wav"]
    assert data["queue_totals"][0]["sl2"] == pytest.approx(0.6)
