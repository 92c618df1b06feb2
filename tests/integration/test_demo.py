"""``callflow demo`` end to end: a real store, real lookups, real calls, real records."""

from __future__ import annotations

from pathlib import Path

import pytest

from callflow.demo import CALLS, run_demo

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


def test_demo_routes_every_call_from_the_store(asterisk_root):
    MARKER.unlink(missing_ok=True)
    lines: list[str] = []
    outcome = run_demo(lines.append)

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
