"""``callflow demo`` end to end: a real store, real lookups, real calls, real records."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from callflow.demo import CALLS, DEMO_EFFECTIVE, SURVEY, SURVEY_CALLS, run_demo
from callflow.reports import Period, ReportOptions, zone
from callflow.reports.kpis import agent_kpis, leaderboard, tier_kpis
from callflow.store import CallRecord, make_engine, make_sessionmaker
from callflow.store.campaigns import CampaignAttempt, CampaignContact, DncNumber
from callflow.store.surveys import SurveyResponse

pytestmark = pytest.mark.asterisk

MARKER = Path("/tmp/callflow-demo-pwned")  # what the hostile customer name would create

ROUTE = "identify vip_check hours greeting main"  # in hours, front desk busy: the menu
# caller -> (trace, destination, path, agents that may answer, tier, customer id)
EXPECTED = {
    "13800000001": ("identify vip_check vip_sales", "queue:vip_sales", "manager", {"wang"},
                    "vip", "1"),
    "13800000002": (f"{ROUTE} service", "queue:service", "queue", {"zhao", "sun"}, "gold", "2"),
    "02155550103": (f"{ROUTE} sales", "queue:sales", "manager", {"chen"}, "silver", "3"),
    "13800000004": (f"{ROUTE} care", "queue:care", "queue", {"liu", "he"}, "standard", "4"),
    "13900000010": ("identify vip_check hours after_hours sales_voicemail", "voicemail:2000",
                    "", {None}, "", ""),
    "13900000011": ("identify vip_check hours holiday_notice after_hours service_voicemail",
                    "voicemail:3000", "", {None}, "", ""),
}  # fmt: skip


#: what each survey callee did -> the disposition and contact status the store must hold
SURVEY_EXPECTED = {
    "answers": ("human", "done"),
    "optout": ("optout", "optout"),
    "busy": ("busy", "pending"),  # retried later: not due within the demo's run
    "no_answer": ("no_answer", "pending"),
}
QUESTIONS = ("overall", "recommend")


def test_demo_routes_every_call_from_the_store(asterisk_root, tmp_path):
    MARKER.unlink(missing_ok=True)
    lines: list[str] = []
    report = tmp_path / "demo-report.html"
    outcome = run_demo(lines.append, store_dir=tmp_path, report=report)

    assert [call for call, _ in outcome] == list(CALLS)
    assert set(EXPECTED) == {call.caller for call in CALLS}
    for call, result in outcome:
        trace, dest, path, agents, tier, customer = EXPECTED[call.caller]
        where = f"{call.title}: {result.event}"
        assert " ".join(result.trace) == trace, where
        assert result.dest == dest, where
        assert result.event.get("path", "") == path, where
        assert result.agent in agents, where
        assert result.event.get("tier", "") == tier, where
        assert result.event.get("customer", "") == customer, where
        assert result.event.get("lookup") == "ok", where  # looked up, never a fallback

    assert "four_s_customers.csv: 10 inserted, 0 updated, 0 unchanged, 0 errors" in lines
    assert "four_s_staff.csv: 8 inserted, 0 updated, 0 unchanged, 0 errors" in lines
    assert f"CRM lookups: {len(CALLS)} answered from the store, 0 fell back" in lines
    assert f"call records in the store ({len(CALLS)}):" in lines
    vip = next(line for line in lines if line.startswith("  +8613800000001 "))
    assert "'Li Lei' tier=vip prio=10 queue:vip_sales path=manager ANSWERED agent=wang" in vip
    hostile = next(line for line in lines if line.startswith("  +8613800000004 "))
    assert "'王,)${SHELL(touch /tmp/callflow-demo-pwned)}' tier=standard" in hostile
    assert not MARKER.exists()  # the name was data all the way through

    survey_matches_the_store(lines, tmp_path)
    report_and_summary_match_the_kpis(lines, tmp_path, report)


#: the HTML report's charts (callflow/reports/templates/report.html.j2)
CHARTS = ("heatmap", "service-level", "tiers", "leaderboard", "funnel", "surveys")


def report_and_summary_match_the_kpis(lines: list[str], store: Path, report: Path) -> None:
    """The demo ends with the report's path and a summary; the report is the HTML page
    with every chart, and the summary says what the KPI functions say of the store."""
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    for chart in CHARTS:
        figure = page.split(f'<figure id="chart-{chart}">', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in figure and "<path" in figure, chart  # drawn, not a placeholder
    assert "satisfaction_survey" in page  # the campaign funnel and survey have its data
    assert lines[-4].startswith(f"report: {report.resolve()} (star_motors, ")

    # the KPI functions on the demo's store, over a period wider than the demo's own
    engine = make_engine(f"sqlite:///{store / 'crm.db'}")
    tz = zone("Asia/Shanghai")
    opts = ReportOptions(
        site="star_motors",
        period=Period.parse("2026-01-01", "2030-01-01", tz, "week"),
        effective=DEMO_EFFECTIVE,
    )
    try:
        with make_sessionmaker(engine)() as session:
            board = leaderboard(agent_kpis(session, opts))
            tiers = {row.tier: row for row in tier_kpis(session, opts)}
            talks = sorted(
                session.scalars(
                    select(CallRecord.talk_seconds).where(CallRecord.agent.is_not(None))
                )
            )
    finally:
        engine.dispose()
    counts = ", ".join(f"{r.agent} {r.effective} of {r.handled}" for r in board)
    assert lines[-3] == (
        f"effective calls per agent (talk >= {DEMO_EFFECTIVE} s, the demo's threshold: its "
        f"calls talk 4-12 s; the KPI's default is 180 s, `callflow demo --effective 180`): "
        f"{counts}"
    )
    # the demo's calls straddle the threshold: some agents have effective calls, some not
    effective = sum(r.effective for r in board)
    assert effective == sum(1 for t in talks if t >= DEMO_EFFECTIVE)
    assert 0 < effective < sum(r.handled for r in board), talks
    assert {"vip", "gold", "silver", "standard"} <= set(tiers)
    by_tier = ", ".join(
        f"{t.tier} {t.avg_wait:.1f} s ({t.answered} answered)" for t in tiers.values()
    )
    assert lines[-2] == f"average wait of answered calls by tier: {by_tier}"
    assert lines[-1] == (
        f"VIP vs standard average wait: {tiers['vip'].avg_wait:.1f} s vs "
        f"{tiers['standard'].avg_wait:.1f} s"
    )


def survey_matches_the_store(lines: list[str], store: Path) -> None:
    """The survey part's printed results are what the store holds, and the store holds
    what each sandbox callee did (pressed digits, opted out, busy, no answer)."""
    engine = make_engine(f"sqlite:///{store / 'crm.db'}")
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            contacts = {
                c.number: c
                for c in session.scalars(
                    select(CampaignContact).where(CampaignContact.campaign == SURVEY)
                )
            }
            attempts = {
                a.number: a.disposition
                for a in session.scalars(
                    select(CampaignAttempt).where(CampaignAttempt.campaign == SURVEY)
                )
            }
            answers: dict[str, list[tuple[str, str]]] = {}
            for number, question, answer in session.execute(
                select(CallRecord.dialled, SurveyResponse.question, SurveyResponse.answer)
                .join(CallRecord, CallRecord.id == SurveyResponse.call_record_id)
                .where(SurveyResponse.campaign == SURVEY)
                .order_by(SurveyResponse.id)
            ):
                answers.setdefault(number, []).append((question, answer))
            dnc = sorted(session.scalars(select(DncNumber.number)))
    finally:
        engine.dispose()

    # the store against what each callee did
    assert sorted(contacts) == sorted(c.number for c in SURVEY_CALLS)
    for callee in SURVEY_CALLS:
        disposition, status = SURVEY_EXPECTED[callee.does]
        assert attempts[callee.number] == disposition, callee
        assert contacts[callee.number].status == status, callee
        if callee.does == "answers":
            assert answers[callee.number] == list(zip(QUESTIONS, callee.digits, strict=True))
        else:
            assert callee.number not in answers, callee
    assert dnc == [c.number for c in SURVEY_CALLS if c.does == "optout"]

    # the printed lines against the store
    assert f"survey {SURVEY}: {len(contacts)} contacts" in lines
    for number, contact in contacts.items():
        said = " ".join(f"{q}={a}" for q, a in answers.get(number, [])) or "-"
        line = (
            f"  {number} {contact.name!r} status={contact.status} "
            f"dispositions={attempts[number]} answers={said}"
        )
        assert line in lines, (line, lines)
    counts: dict[str, int] = {}
    for disposition in attempts.values():
        counts[disposition] = counts.get(disposition, 0) + 1
    printed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    assert f"survey dispositions: {printed}" in lines
    for index, question in enumerate(QUESTIONS):
        given: dict[str, int] = {}
        for pairs in answers.values():
            given[pairs[index][1]] = given.get(pairs[index][1], 0) + 1
        spread = ", ".join(f"{a}: {n}" for a, n in sorted(given.items()))
        assert f"survey answers to {question}: {spread}" in lines
    assert f"survey opt-outs (do-not-call list): {', '.join(dnc)}" in lines
    assert "survey call records: 3 of 3 answered calls stored" in lines
    # busy and no answer are retried later (retry_after_minutes): not within the demo
    took = next(line for line in lines if line.startswith("survey dialled in "))
    assert took.endswith("s (the rest are retries due later)"), took
    assert float(took.split()[3].removesuffix("s")) < 30, took
