"""What integrators import to test their own sites offline (callflow.testing)."""

from pathlib import Path

import pytest

from callflow.loader import load_site
from callflow.testing import SILENCE, RouteMismatch, assert_route, caller, simulate

SITE = load_site(str(Path(__file__).parents[2] / "examples" / "four_s_dealer.py"))


def test_a_scripted_caller_is_routed_and_checked():
    result = simulate(SITE, "8001", script=caller("3"))
    assert_route(result, ["main", "care"], "queue:care")


def test_a_wrong_expectation_fails_with_the_walk_shown():
    result = simulate(SITE, "8001", script=caller(SILENCE, SILENCE))
    with pytest.raises(RouteMismatch) as info:
        assert_route(result, ["main", "sales"], "queue:sales")
    assert "front_desk_queue" in str(info.value)


# ---- the fake channel on the live runtime, and what the driver refuses before AMI


def _menu_site():
    from callflow import Hangup, Menu, Queue, Site, Staff

    return Site(
        name="t",
        entries={"100": "menu"},
        staff=[Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))],
        nodes=[
            Menu(id="menu", prompt="p", options={"1": "sales"}, operator="sales", timeout=0.05,
                 tries=2, failure="bye"),
            Queue(id="sales", members=["desk"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ],
    )  # fmt: skip


async def test_the_public_fake_channel_runs_a_live_call():
    from callflow.testing import FakeChannel, run_live_call

    fake = FakeChannel("1", press_during={"sound:p"})
    session = await run_live_call(_menu_site(), "100", fake, caller="555")
    assert session.finished
    assert fake.vars["CF_TRACE"] == " menu"
    assert fake.ops[0] == ("answer",)
    assert fake.ops[-1] == ("continue", "cf-t-sales")
    silent = FakeChannel()  # no keys: two timeouts, then the failure exit
    await run_live_call(_menu_site(), "100", silent)
    assert (silent.vars["CF_TRACE"], silent.vars["CF_DEST"]) == (" menu bye", "hangup")
    with pytest.raises(ValueError, match="'999' is not an entry point"):
        await run_live_call(_menu_site(), "999", FakeChannel())


def test_ami_values_are_escaped_or_refused():
    from callflow.testing import ami_value

    assert ami_value("name", 'a,b"c\\d(e)[f]') == 'a\\,b\\"c\\\\d\\(e\\)\\[f\\]'
    assert ami_value("name", "王伟 tab\there") == "王伟 tab\there"
    for bad in ("a\r\nVariable: X=1", "a\nb", "a\x00b", "a\x1bb", "a\x7f"):
        with pytest.raises(ValueError, match=r"name .*control character"):
            ami_value("name", bad)


async def test_the_driver_refuses_bad_calls_before_connecting():
    import datetime as dt

    from callflow.testing import CallDriver, CallError

    driver = CallDriver("127.0.0.1", 1, "u", "p")
    with pytest.raises(ValueError, match=r"caller_name .*control character"):
        await driver.start_call("c", caller_name="x\r\nVariable: CF_TIER=vip")
    with pytest.raises(ValueError, match=r"CF_TEST_CNAME: .* bytes as an AMI header line"):
        await driver.start_call("c", caller_name="é" * 600)
    with pytest.raises(ValueError, match="timezone-aware"):
        await driver.start_call("c", at=dt.datetime(2027, 1, 1))
    with pytest.raises(CallError, match="not connected"):
        await driver.start_call("c", caller_name='a,"b"')
    with pytest.raises(ValueError, match=r"setvar value .*control character"):
        await driver.setvar("chan", "CF_X", "1\r\nAction: Hangup")
    with pytest.raises(ValueError, match=r"command .*control character"):
        await driver.command("core show channels\r\nAction: Hangup")
