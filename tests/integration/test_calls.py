"""Real calls through compiled sites on a real Asterisk 22 (the sandbox).

Each call is placed by :class:`callflow.testing.CallDriver`: a Local channel whose site
leg dials the entry number with the chosen caller id, while the caller leg sends DTMF.
Where a call went is what the compiled hang-up handler reports (trace and destination).
Customer tiers reach the dialplan the production way: through the compiled Lookup node's
FastAGI call, answered here by a :class:`~callflow.runtime.fastagi.FastAgiServer` that
maps caller ids to tiers.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import pytest

from callflow import CallflowError, validate
from callflow.compiler import queue_name
from callflow.loader import load_site
from callflow.runtime.fastagi import FastAgiServer
from callflow.runtime.lookup import lookup_key, send

from .sites import ari_get, free_port, hostile_site, load, menu_site, priority_site

pytestmark = pytest.mark.asterisk

ROOT = Path(__file__).parents[2]
FOUR_S = ROOT / "examples" / "four_s_dealer.py"


@pytest.fixture(scope="module")
def four_s(sandbox):
    site = load_site(str(FOUR_S))
    assert load(sandbox, site) == []
    return site


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.stem)
def test_every_example_loads_without_warnings(sandbox, example):
    site = load_site(str(example))
    assert load(sandbox, site) == []
    shown = sandbox.cli(f"dialplan show cf-{site.name}-entry")
    for number in site.entries:
        assert f"'{number}' =>" in shown


MENU_DIGITS = [
    ("1", ["main", "sales"], "queue:sales"),
    ("2", ["main", "service"], "queue:service"),
    ("3", ["main", "care"], "queue:care"),
    ("9", ["main", "front_desk_queue"], "queue:front_desk_queue"),
    ("0", ["main", "front_desk_queue"], "queue:front_desk_queue"),
]


@pytest.mark.parametrize(("digit", "trace", "dest"), MENU_DIGITS, ids=[d[0] for d in MENU_DIGITS])
async def test_each_menu_digit_reaches_its_destination(four_s, driver, digit, trace, dest):
    result = await driver.place_call("cf-star_motors-entry", "8001", dtmf=digit, hold=2)
    assert (result.trace, result.dest) == (trace, dest)


async def test_silence_times_out_twice_then_follows_failure(four_s, driver):
    # tries=2, timeout=5: two prompts, two 5 s waits, then the failure target
    result = await driver.place_call("cf-star_motors-entry", "8001", hold=14, timeout=40)
    assert (result.trace, result.dest) == (["main", "front_desk_queue"], "queue:front_desk_queue")


# After an invalid digit the menu plays "invalid" (4.1 s, not interruptible) and prompts
# again; each "w" is a 0.5 s pause, so the second digit lands in the new WaitExten.
AFTER_REPLAY = "w" * 11


async def test_invalid_digit_replays_then_a_valid_digit_still_works(four_s, driver):
    dtmf = f"5{AFTER_REPLAY}2"
    result = await driver.place_call("cf-star_motors-entry", "8001", dtmf=dtmf, hold=3)
    assert (result.trace, result.dest) == (["main", "service"], "queue:service")


async def test_invalid_digits_exhaust_tries_and_follow_failure(sandbox, driver):
    assert load(sandbox, menu_site("menus")) == []
    # beep (~0.4 s) replays between tries; the second 5 lands in the second prompt's wait
    result = await driver.place_call("cf-menus-entry", "100", dtmf="5www5", hold=3)
    assert (result.trace, result.dest) == (["menu", "gave_up"], "hangup")
    silent = await driver.place_call("cf-menus-entry", "100", hold=5)
    assert (silent.trace, silent.dest) == (["menu", "silent"], "hangup")
    pressed = await driver.place_call("cf-menus-entry", "100", dtmf="5www1", hold=2)
    assert (pressed.trace, pressed.dest) == (["menu", "sales"], "queue:sales")


async def test_after_hours_menu_and_holiday_by_clock(four_s, driver, sandbox):
    # Saturday 2025-11-22 20:00 in Shanghai is after hours (weekends close at 17:00).
    # CF_NOW is the test clock the compiled time condition honours.
    saturday_night = 1763812800  # 2025-11-22T12:00:00Z = 20:00 Asia/Shanghai
    result = await driver.place_call(
        "cf-star_motors-entry", "8000", dtmf="1", hold=2, variables={"CF_NOW": str(saturday_night)}
    )
    assert result.trace == ["identify", "vip_check", "hours", "after_hours", "sales_voicemail"]
    assert result.dest == "voicemail:2000"


async def test_queue_order_follows_customer_tier_not_join_order(sandbox, driver):
    tiers = {"5550001": "gold", "5550002": "vip"}

    async def lookup(request, agi):
        number = lookup_key(request.args)
        tier = tiers.get(number)
        if tier:
            await send(agi, [("CF_TIER", tier)], number)

    async with FastAgiServer({"lookup": lookup}, port=0) as server:
        site = priority_site("prio", f"agi://127.0.0.1:{server.port}")
        assert load(sandbox, site) == []
        queue = queue_name("prio", "sales")
        for order in (["5550000", "5550001", "5550002"], ["5550002", "5550000", "5550001"]):
            handles = []
            for caller in order:  # unknown, gold, vip (then another order)
                handles.append(
                    await driver.start_call("cf-prio-entry", "100", caller_id=caller, hold=30)
                )
                await asyncio.sleep(0.7)
            waiting = await driver.wait_for_callers(queue, 3)
            assert [w.caller_id for w in waiting] == ["5550002", "5550001", "5550000"]
            assert [w.priority for w in waiting] == [10, 5, 0]
            for h in handles:
                await h.hangup()
            ended = [await h.wait_end() for h in handles]
            assert {r.dest for r in ended} == {"queue:sales"}
        assert server.served == 6


async def test_lookup_answer_sets_every_field_but_keeps_language_and_name(sandbox, driver):
    """A found customer's empty fields are cleared; no language or name keeps the caller's."""

    async def lookup(request, agi):
        await send(agi, [("CF_TIER", "gold"), ("CF_CUSTOMER_ID", "7")], lookup_key(request.args))

    async with FastAgiServer({"lookup": lookup}, port=0) as server:
        assert load(sandbox, priority_site("unpack", f"agi://127.0.0.1:{server.port}")) == []
        handle = await driver.start_call(
            "cf-unpack-entry", "100", caller_id="5550009", caller_name="Orig Name", hold=10,
            variables={"CF_LANG": "fr", "CF_REGION": "stale", "CF_TAGS": "old"},
        )  # fmt: skip
        waiting = await driver.wait_for_callers(queue_name("unpack", "sales"), 1)
        assert [w.priority for w in waiting] == [5]
        channel = waiting[0].channel
        got = {
            name: await driver.getvar(channel, name)
            for name in ("CF_TIER", "CF_CUSTOMER_ID", "CF_LANG", "CF_REGION", "CF_TAGS",
                         "CALLERID(name)", "CF_LOOKUP", "CF_CRM")
        }  # fmt: skip
        await handle.hangup()
        await handle.wait_end()
    assert got == {  # None: Set(X=) removed the variable
        "CF_TIER": "gold", "CF_CUSTOMER_ID": "7", "CF_LANG": "fr", "CF_REGION": None,
        "CF_TAGS": None, "CALLERID(name)": "Orig Name", "CF_LOOKUP": "ok", "CF_CRM": None,
    }  # fmt: skip


@pytest.mark.parametrize("failure", ["server down", "server too slow"])
async def test_lookup_failure_still_queues_at_default_priority_within_2s(sandbox, driver, failure):
    async def slow(request, agi):
        await asyncio.sleep(5)
        await send(agi, [("CF_TIER", "vip")], lookup_key(request.args))

    name = "down" if failure == "server down" else "slow"
    if failure == "server down":
        server = None
        url = f"agi://127.0.0.1:{free_port()}"  # nothing listens there
    else:
        server = FastAgiServer({"lookup": slow}, port=0, budget=0.5)
        await server.start()
        url = f"agi://127.0.0.1:{server.port}"
    try:
        site = priority_site(name, url)
        assert load(sandbox, site) == []
        started = time.monotonic()
        handle = await driver.start_call(f"cf-{name}-entry", "100", caller_id="5550002", hold=30)
        waiting = await driver.wait_for_callers(queue_name(name, "sales"), 1, timeout=2.0)
        elapsed = time.monotonic() - started
        assert len(waiting) == 1, f"caller not in the queue after {elapsed:.2f}s"
        assert waiting[0].priority == 0
        assert elapsed < 2.0
        await handle.hangup()
        result = await handle.wait_end()
        assert result.dest == "queue:sales"
        assert result.event.get("tier", "") == ""
    finally:
        if server is not None:
            await server.stop()


PAYLOADS = [
    "${SHELL(touch {marker})}",
    '$[1+1],)";\\ ${SHELL(touch {marker})}',
    "line\n${SHELL(touch {marker})}\r\n;exten => s,1,System(touch {marker})",
]


@pytest.mark.parametrize("template", PAYLOADS, ids=["shell", "separators", "newlines"])
async def test_hostile_names_load_cleanly_and_never_run(sandbox, driver, template):
    # short enough that the payload fits a member name (79 bytes, CF135)
    marker = Path(f"/tmp/callflow-pwned-{uuid.uuid4().hex[:12]}")
    payload = template.replace("{marker}", str(marker))
    name = f"hostile{PAYLOADS.index(template)}"
    site = hostile_site(name, payload)
    if "\n" in payload:
        # labels, names and caller-ID prefixes are one line (CF133): refused before any
        # file is written; line breaks in prompt texts: tests/integration/test_text_fields.py
        assert {d.code for d in validate(site)} == {"CF133"}
        with pytest.raises(CallflowError, match="CF133"):
            load(sandbox, site)
        return
    assert load(sandbox, site) == []
    # the queue member's name reads back exactly as written (newlines flattened)
    shown = sandbox.cli(f"queue show {queue_name(name, 'sales')}")
    assert " ".join(payload.split("\n")).replace("\r", " ").strip()[:20] in shown
    # The queue's caller-id prefix carries the whole payload (newlines included) through
    # base64; the caller's own name goes through AMI, which cuts at commas and newlines,
    # so it carries the payload's AMI-safe part.
    caller_name = "${SHELL(touch " + str(marker) + ")}"
    handle = await driver.start_call(
        f"cf-{name}-entry", "100", caller_id="5551234", caller_name=caller_name, hold=30
    )
    waiting = await driver.wait_for_callers(queue_name(name, "sales"), 1)
    assert waiting, "caller never reached the queue"
    # read over ARI (JSON): AMI's line protocol would cut the value at a line break
    found = await ari_get(
        sandbox, f"channels/{waiting[0].uniqueid}/variable", variable="CALLERID(name)"
    )
    cid_name = found["value"]
    assert cid_name == payload + caller_name
    await handle.hangup()
    assert (await handle.wait_end()).dest == "queue:sales"
    # through the Dial node's prefix and the menu too
    result = await driver.place_call(f"cf-{name}-entry", "101", caller_name=caller_name, hold=4)
    assert result.trace == ["desk", "menu", "bye"]
    assert not marker.exists()
    assert not os.path.exists(str(marker))
