"""The testing API as an integrator uses it, against the real Asterisk 22 sandbox.

Everything under test is imported from ``callflow.testing`` only: caller identity that
arrives byte for byte (or is refused), queue joins and answers as app_queue reports
them, members found by interface, the ARI application signal, a closed driver, and one
call time that the simulator and a real call agree on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import zoneinfo
from pathlib import Path

import aiohttp
import pytest

from callflow import Hangup, Queue, Site, Staff
from callflow.loader import load_site
from callflow.testing import (
    CallDriver,
    CallError,
    CallTimeout,
    caller,
    simulate,
)

from .sites import NOBODY, ari_get, load

pytestmark = pytest.mark.asterisk

FOUR_S = Path(__file__).parents[2] / "examples" / "four_s_dealer.py"


def waiting_site(name: str, prefix: str = "") -> Site:
    """Entry 100 puts the caller in a queue nobody answers (members come from the test)."""
    return Site(
        name=name,
        entries={"100": "q"},
        staff=[Staff("ann", name="Ann", device=NOBODY, groups=("g",))],
        nodes=[
            Queue(id="q", members=["g"], max_wait=60, overflow="bye", cid_prefix=prefix),
            Hangup(id="bye"),
        ],
    )


BLANKS = "".join(map(chr, range(33)))  # what Asterisk's ast_strip() drops: bytes below 33
NAMES = [
    'a,b"c\\d',
    "x(y)[z]{w} ;|&'$",
    "${SHELL(touch /tmp/cf-never)}",
    "王伟 ☎ \U0001f600",
    "tab\there \\\\ end\\",
    ",",
    "  lead and trail\t ",  # Asterisk keeps a caller name stripped at both ends
    "",
    "a=b=c ; ${EXTEN}",
    "\u2028\u0085 separators",
]


async def test_caller_id_and_name_arrive_byte_exact(sandbox, driver):
    """Names that AMI's argument splitter would cut reach the site leg exactly, and the
    simulator predicts the name the agent sees behind the queue's prefix (Asterisk drops
    blanks at both ends of a caller name whenever it is set: the simulator does too)."""
    site = waiting_site("cidexact", prefix="Q, ")
    assert load(sandbox, site) == []
    queue = f"{site.name}-q"
    handles = []
    for i, name in enumerate(NAMES):
        number = f"55,5\\{i}"
        handles.append(
            await driver.start_call(
                f"cf-{site.name}-entry", "100", caller_id=number, caller_name=name, hold=20
            )
        )
    waiting = await driver.wait_for_callers(queue, len(NAMES))
    assert len(waiting) == len(NAMES)
    by_call = {w.call_id: w for w in waiting}
    for i, (handle, name) in enumerate(zip(handles, NAMES, strict=True)):
        uniqueid = by_call[handle.call_id].uniqueid
        got = {
            what: (await ari_get(sandbox, f"channels/{uniqueid}/variable", variable=what))["value"]
            for what in ("CALLERID(name)", "CALLERID(num)")
        }
        expected = simulate(site, "100", script=caller(caller_name=name)).caller_name
        assert expected == ("Q, " + name.strip(BLANKS)).strip(BLANKS)
        assert got == {"CALLERID(name)": expected, "CALLERID(num)": f"55,5\\{i}"}
    for handle in handles:
        await handle.hangup()
    assert {(await h.wait_end()).dest for h in handles} == {f"queue:{'q'}"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("caller_name", "Eve\r\nVariable: CF_TIER=vip"),
        ("caller_name", "line\nbreak"),
        ("caller_id", "555\r1234"),
        ("caller_name", "nul\x00byte"),
        ("variables", "x\ny"),
    ],
)
async def test_text_ami_cannot_carry_is_refused_before_anything_is_sent(driver, field, value):
    kwargs: dict[str, object] = {"hold": 1}
    kwargs[field] = {"CF_X": value} if field == "variables" else value
    before = await driver.command("core show channels count")
    with pytest.raises(ValueError, match=r"control character .* cannot travel in an AMI"):
        await driver.start_call("cf-test-nowhere", "s", **kwargs)
    assert (
        before.split("active call")[0]
        == (await driver.command("core show channels count")).split("active call")[0]
    )


async def test_queue_joins_and_answer_order_are_reported(sandbox, driver):
    site = waiting_site("qorder")
    assert load(sandbox, site) == []
    queue = f"{site.name}-q"
    interface = await driver.add_agent(queue, "a1", paused=True, member_name="Ann Lee")
    handles = []
    for number in ("5550001", "5550002", "5550003"):
        handles.append(
            await driver.start_call(
                f"cf-{site.name}-entry", "100", caller_id=number, hold=25, agent_talk=0.5
            )
        )
        await driver.wait_for_callers(queue, len(handles))
    before = time.time()
    assert [[(j.queue, j.position, j.count) for j in h.joins] for h in handles] == [
        [(queue, 1, 1)],
        [(queue, 2, 2)],
        [(queue, 3, 3)],
    ]
    assert handles[0].joins[0].at <= handles[1].joins[0].at <= handles[2].joins[0].at <= before
    # members are found by interface or test-agent id; the display name needs by_name
    with pytest.raises(CallError, match="no member with interface, test-agent id 'Ann Lee'"):
        await driver.pause_agent(queue, "Ann Lee", paused=False)
    assert await driver.queue_members(queue) == {
        "PJSIP/callflow-nobody": "Ann",
        interface: "Ann Lee",
    }
    await driver.pause_agent(queue, interface, paused=False)
    results = [await h.wait_end(timeout=30) for h in handles]
    assert [r.agent for r in results] == ["a1", "a1", "a1"]
    assert driver.answer_order(queue) == [h.call_id for h in handles]
    answers = [h.answer for h in handles]
    assert [(a.interface, a.member, a.order) for a in answers if a] == [
        (interface, "Ann Lee", 1),
        (interface, "Ann Lee", 2),
        (interface, "Ann Lee", 3),
    ]
    await driver.pause_agent(queue, "Ann Lee", paused=True, by_name=True)
    # a site's staff id finds that person's device (Ann, the site's own member)
    await driver.pause_agent(queue, "ann", site=site)
    status = await driver.command(f"queue show {queue}")
    assert "callflow-nobody" in status
    assert "paused" in next(line for line in status.splitlines() if "callflow-nobody" in line)
    with pytest.raises(CallError, match="no member with interface, test-agent id 'ann'"):
        await driver.pause_agent(queue, "ann")  # without the site "ann" is no test agent
    await driver.remove_agent(queue, "a1")
    assert interface not in await driver.queue_members(queue)


async def test_wait_for_app_sees_a_live_ari_application(sandbox, driver):
    app = "cf-api-probe"
    with pytest.raises(CallTimeout, match=f"ARI application '{app}' not registered within"):
        await driver.wait_for_app(app, timeout=0.3)
    url = sandbox.ari_url.replace("http://", "ws://") + "/events"
    auth = {"Authorization": aiohttp.encode_basic_auth(sandbox.ari_user, sandbox.ari_password)}
    async with (
        aiohttp.ClientSession(headers=auth) as http,
        http.ws_connect(url, params={"app": app}),
    ):
        await driver.wait_for_app(app, timeout=5)
        assert app in await driver.ari_apps()
    deadline = time.monotonic() + 5
    while app in await driver.ari_apps() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert app not in await driver.ari_apps()


async def test_wait_end_on_a_closed_driver_raises_at_once(sandbox):
    site = waiting_site("closed")
    assert load(sandbox, site) == []
    async with CallDriver.from_sandbox(sandbox) as own:
        handle = await own.start_call(f"cf-{site.name}-entry", "100", hold=3, timeout=30)
        await own.wait_for_callers(f"{site.name}-q", 1)
    started = time.monotonic()
    with pytest.raises(CallError, match="the CallDriver is closed"):
        await handle.wait_end()
    assert time.monotonic() - started < 0.5


async def test_one_call_time_for_the_simulator_and_a_real_call(sandbox, driver):
    """The same ``at`` makes the real call and the simulator take the same way."""
    site = load_site(str(FOUR_S))
    assert load(sandbox, site) == []
    shanghai = zoneinfo.ZoneInfo(site.timezone)
    for at in (
        dt.datetime(2026, 11, 22, 20, 0, tzinfo=shanghai),  # Sunday night: closed
        dt.datetime(2027, 10, 1, 10, 0, tzinfo=shanghai),  # National Day
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=shanghai),  # Tuesday morning: open
    ):
        expected = simulate(site, "8000", script=caller("1", lookup_fails=True), at=at)
        real = await driver.place_call(
            f"cf-{site.name}-entry", "8000", caller_id="13900000010", dtmf="1", hold=4, at=at
        )
        assert (real.trace, real.dest) == (expected.trace, expected.dest), at
    with pytest.raises(ValueError, match="timezone-aware"):
        await driver.start_call("cf-x", "s", at=dt.datetime(2027, 1, 1))
