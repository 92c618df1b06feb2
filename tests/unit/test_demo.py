"""The demo's CRM files import cleanly and say what the demo's calls rely on."""

from __future__ import annotations

from callflow.demo import CALLS, EXAMPLE, demo_site, demo_store
from callflow.loader import load_site
from callflow.runtime.lookup import CustomerLookup


def test_demo_store_answers_lookups_for_the_scripted_callers(tmp_path):
    lines: list[str] = []
    with demo_store(tmp_path, lines.append) as engine:
        lookup = CustomerLookup(engine)
        answers = {call.caller: dict(lookup.answer(call.caller)) for call in CALLS}
    assert lines == [
        "four_s_staff.csv: 8 inserted, 0 updated, 0 unchanged, 0 errors",
        "four_s_customers.csv: 10 inserted, 0 updated, 0 unchanged, 0 errors",
    ]
    vip = answers["13800000001"]
    assert (vip["CF_TIER"], vip["CF_MANAGER"], vip["CF_TAGS"]) == (
        "vip",
        "wang",
        "purchased.serviced",
    )
    assert answers["13800000002"]["CF_TIER"] == "gold"
    landline = answers["02155550103"]  # Zhou Xun's second number
    assert (landline["CF_CUSTOMER_NAME"], landline["CF_MANAGER"]) == ("Zhou Xun", "chen")
    hostile = answers["13800000004"]
    assert hostile["CALLERID(name)"] == "王,)${SHELL(touch /tmp/callflow-demo-pwned)}"
    assert "CF_MANAGER" not in hostile  # nothing to say: nothing sent
    assert answers["13900000010"] == {"CF_LOOKUP": "ok"}  # unknown caller


def test_demo_site_replaces_every_phone_with_a_test_agent():
    site = demo_site(load_site(str(EXAMPLE)), 4599)
    assert site.lookup is not None and site.lookup.url == "agi://127.0.0.1:4599"
    devices = {person.id: person.device for person in site.staff}
    assert devices["lily"] == "Local/lily@cf-test-busy/n"  # the front desk is busy
    assert devices["wang"] == "Local/wang@cf-test-agent/n"
    assert all(device.startswith("Local/") for device in devices.values())


def test_the_demo_report_covers_every_stamp_and_its_summary_says_its_threshold(tmp_path):
    """The survey's attempts carry the dialer's clock (a weekday in November), the call
    records the real time: the report spans both, and the summary names the threshold."""
    import datetime as dt

    from callflow.demo import DEMO_EFFECTIVE, demo_report, summary_lines
    from callflow.store import CallRecord, make_sessionmaker
    from callflow.store.campaigns import CampaignAttempt, CampaignContact

    def call(n: int, agent: str, tier: str, wait: int, talk: int) -> CallRecord:
        return CallRecord(
            uniqueid=f"u{n}", linkedid=f"l{n}", site="star_motors", direction="inbound",
            started_at=dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC),  # 12-02 01:30 local
            agent=agent, tier=tier, path="queue", queue="star_motors-sales",
            destination="queue:sales", disposition="ANSWERED", wait_seconds=wait,
            talk_seconds=talk,
        )  # fmt: skip

    with demo_store(tmp_path, lambda _: None) as engine:
        with make_sessionmaker(engine).begin() as session:
            session.add_all([call(1, "wang", "vip", 2, 40), call(2, "wang", "vip", 4, 3),
                             call(3, "he", "standard", 9, 9)])  # fmt: skip
            contact = CampaignContact(site="star_motors", campaign="satisfaction_survey",
                                      number="+8613800000001")  # fmt: skip
            session.add(contact)
            session.flush()
            session.add(CampaignAttempt(
                id="a1", contact_id=contact.id, site="star_motors",
                campaign="satisfaction_survey", number="+8613800000001", attempt_no=1,
                created_at=dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC),
                dialled_at=dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC), disposition="human",
            ))  # fmt: skip
        report = demo_report(engine)
        strict = demo_report(engine, effective=180)
    assert [c.attempts for c in report.campaigns] == [1]  # the November attempt is in
    path = tmp_path / "r.html"
    lines = summary_lines(report, path)
    assert lines[0] == (
        f"report: {path.resolve()} (star_motors, 2026-11-24 .. 2026-12-03 Asia/Shanghai, per day)"
    )
    assert lines[1] == (
        f"effective calls per agent (talk >= {DEMO_EFFECTIVE} s, the demo's threshold: its "
        "calls talk 4-12 s; the KPI's default is 180 s, `callflow demo --effective 180`): "
        "wang 1 of 2, he 0 of 1"
    )
    assert lines[2] == (
        "average wait of answered calls by tier: vip 3.0 s (2 answered), "
        "standard 9.0 s (1 answered)"
    )
    assert lines[3] == "VIP vs standard average wait: 3.0 s vs 9.0 s"
    assert summary_lines(strict, path)[1] == (
        "effective calls per agent (talk >= 180 s, the KPI's default): wang 0 of 2, he 0 of 1"
    )
