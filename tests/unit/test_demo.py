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
