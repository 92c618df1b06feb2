"""The live ARI runtime against the compiled dialplan and the simulator, on a real Asterisk 22.

Both examples are deployed with ``live=True``: their entries go to ``Stasis(callflow-<site>)``
first, with the same flow compiled in ``cf-<site>-compiled`` as the fallback. Every caller
script is placed twice at the same time, once into the live entry (``cf-<site>-entry``, run
by :class:`~callflow.runtime.server.LiveService`) and once into ``cf-<site>-compiled``, and
walked a third time offline by :func:`callflow.simulate.simulate`. The two real calls
report through the same hang-up handler, so their ``CallflowEnd`` events must agree, and
the simulator must agree with both: same trace, same destination, same path and priority.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import pprint
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from callflow import Branch, Goto, Hangup, Lookup, Queue, Staff
from callflow import simulate as sim
from callflow.compiler import queue_name
from callflow.deploy import CliControl, deploy
from callflow.loader import load_site
from callflow.model.nodes import PriorityRule
from callflow.model.site import LookupSettings, Site
from callflow.runtime.ari import AriSettings
from callflow.runtime.interpreter import app_name
from callflow.runtime.lookup import lookup_key, send
from callflow.runtime.server import LiveService
from callflow.testing import CallDriver, install_placeholder_prompts, without_phones

from .sites import ari_get, free_port

pytestmark = pytest.mark.asterisk

ROOT = Path(__file__).parents[2]
FOUR_S = ROOT / "examples" / "four_s_dealer.py"
SHOP = ROOT / "examples" / "ecommerce_hotline.py"

CUSTOMERS: dict[str, dict[str, str]] = {
    "5550002": {"CF_CUSTOMER_ID": "2", "CF_TIER": "vip"},
    "5550003": {"CF_CUSTOMER_ID": "3", "CF_TIER": "VIP", "CF_MANAGER": "wang"},
    "5550004": {"CF_CUSTOMER_ID": "4", "CF_TIER": "gold", "CF_TAGS": "serviced"},
    "5550005": {"CF_CUSTOMER_ID": "5", "CF_TIER": "gold", "CF_TAGS": "delivered.upgrade_candidate"},
    "5550006": {"CF_CUSTOMER_ID": "6", "CF_TIER": "vip", "CF_MANAGER": "song"},
}
#: CRM values for tier, segment, language and region that Unicode case folding, blanks,
#: length or digits could route differently: Asterisk's TOLOWER lowers A-Z only and
#: FILTER keeps bytes, so none of the non-ASCII letters may match an ASCII case
EDGE_VALUES = [
    "V\u0130P",  # capital I with dot: str.lower() gives 'vi' + combining dot
    "v\u0130p",
    "\u212aey",  # Kelvin sign: str.lower() gives 'k'
    "\u212a",
    "\uff36\uff29\uff30",  # full-width VIP
    "\uff47\uff4f\uff4c\uff44",  # full-width gold
    "vip\u00a0",  # NBSP after
    "\u00a0gold",
    "",
    "g" * 85,
    "12345",
    "GoLd",
    "vIp",
    "stra\u00dfe",  # sharp s
    "\u0131p",  # dotless i
    "v\u0131p",
    "vi\u0307p",  # combining dot above
    "zh_TW",
    "ZH",
    "en\u200b",  # zero-width space
    "caf\u00e9",
    "north",
]
#: caller number -> what the CRM holds (see EDGE_VALUES)
EDGE_CUSTOMERS = {
    f"55510{i:02d}": {
        "CF_CUSTOMER_ID": str(100 + i),
        "CF_TIER": value,
        "CF_SEGMENT": value,
        "CF_LANG": value,
        "CF_REGION": value,
    }
    for i, value in enumerate(EDGE_VALUES)
}
CUSTOMERS.update(EDGE_CUSTOMERS)
#: the CRM's channel variables -> the simulator's customer fields
SIM_FIELDS = {
    "CF_CUSTOMER_ID": "id",
    "CF_TIER": "tier",
    "CF_MANAGER": "manager",
    "CF_TAGS": "tags",
    "CF_SEGMENT": "segment",
    "CF_LANG": "language",
    "CF_REGION": "region",
}

MONDAY_10 = "1763949600"  # 2025-11-24 10:00 Asia/Shanghai: open, the front desk rings
SATURDAY_20 = "1763812800"  # 2025-11-22 (Sat) 20:00 Asia/Shanghai: closed
NOT_HOLIDAY = "1790820000"  # 2026-10-01 (Thu) 10:00 Asia/Shanghai: not a site holiday
NATIONAL_DAY = "1822356000"  # 2027-10-01 10:00 Asia/Shanghai: a 4S holiday
SPRING_FESTIVAL = "1802052000"  # 2027-02-08 10:00 Asia/Shanghai: a shop holiday


async def crm(caller: str) -> Mapping[str, Any] | None:
    return CUSTOMERS.get(caller)


async def agi_lookup(request: Any, agi: Any) -> None:
    """The same CRM behind the compiled Lookup node's FastAGI call."""
    number = lookup_key(request.args)
    found = CUSTOMERS.get(number)
    if not found:
        return
    await send(agi, found.items(), number)


def live_site(path: Path, name: str, agi_port: int) -> Site:
    """An example, renamed, every entry live, its lookup on this module's FastAGI port."""
    return dataclasses.replace(
        without_phones(load_site(str(path))),
        name=name,
        live=True,
        lookup=LookupSettings(url=f"agi://127.0.0.1:{agi_port}"),
    )


def install(sandbox: Any, site: Site) -> tuple[str, str]:
    """Deploy ``site``; return (live entry context, compiled context)."""
    install_placeholder_prompts(sandbox, site)
    deploy(site, sandbox.etc_dir, asterisk=CliControl(sandbox.asterisk_command()))
    live, compiled = f"cf-{site.name}-entry", f"cf-{site.name}-compiled"
    assert f"Stasis({app_name(site.name)}," in sandbox.cli(f"dialplan show {live}")
    return live, compiled


@pytest.fixture(scope="module")
def agi_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def live4s(sandbox: Any, agi_port: int) -> tuple[Site, str, str]:
    site = live_site(FOUR_S, "live4s", agi_port)
    live, compiled = install(sandbox, site)
    return site, live, compiled


@pytest.fixture(scope="module")
def liveshop(sandbox: Any, agi_port: int) -> tuple[Site, str, str]:
    site = live_site(SHOP, "liveshop", agi_port)
    live, compiled = install(sandbox, site)
    return site, live, compiled


async def app_channels(sandbox: Any, app: str) -> list[str] | None:
    """Channels in ``app`` (None: no such application)."""
    data = await ari_get(sandbox, f"applications/{app}")
    if data is None:
        return None
    return [str(c).removeprefix("channel:") for c in data.get("channel_ids", [])]


@asynccontextmanager
async def running(
    sandbox: Any,
    site: Site,
    agi_port: int,
    *,
    lookup: Any = crm,
    lookup_timeout: float = 1.0,
    hand_back: bool = True,
) -> AsyncIterator[LiveService]:
    settings = AriSettings(
        sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, app_name(site.name)
    )
    service = LiveService(
        site,
        settings,
        lookup=lookup,
        lookup_timeout=lookup_timeout,
        agi_routes={"lookup": agi_lookup},
        agi_port=agi_port,
        sweep_interval=2.0,
    )
    await service.start()
    try:
        await asyncio.wait_for(service.ari.registered.wait(), 5)
        yield service
    finally:
        await service.stop(hand_back=hand_back)


@dataclasses.dataclass(frozen=True)
class Call:
    """A caller script: what the test caller dials and presses, and when the call happens.

    ``keys`` is what the simulator hears at each prompt that waits for a key; by default
    the digits of ``dtmf`` (``w`` is a half-second pause), one per prompt. A key pressed
    while a prompt that cannot be interrupted plays is lost, and the simulator cannot know:
    after a wrong key, wait out the "invalid" prompt (4 s) before the next one. ``hold``
    must outlast the route, or the caller hangs up before the simulator's destination.
    """

    id: str
    entry: str
    dtmf: str = ""
    hold: float = 3
    caller: str = "5550000"
    now: str | None = None
    variables: Mapping[str, str] = dataclasses.field(default_factory=dict)
    keys: tuple[str | None, ...] | None = None

    def channel_vars(self) -> dict[str, str]:
        return {**self.variables, **({"CF_NOW": self.now} if self.now else {})}

    def script(self) -> sim.Script:
        found = CUSTOMERS.get(self.caller)
        customer = {SIM_FIELDS[k]: v for k, v in found.items()} if found else None
        keys = self.keys if self.keys is not None else tuple(c for c in self.dtmf if c != "w")
        return sim.Script(inputs=keys, customer=customer, caller_id=self.caller)

    def at(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(int(self.now), dt.UTC) if self.now else None


FOUR_S_CALLS = [
    Call("menu-1", "8001", "1"),
    Call("menu-2", "8001", "2"),
    Call("menu-3", "8001", "3"),
    Call("menu-9", "8001", "9"),
    Call("menu-0-operator", "8001", "0"),
    Call("menu-silence", "8001", hold=14),
    Call("menu-invalid-then-2", "8001", "5wwwwwwwwww2"),
    Call("menu-invalid-twice", "8001", "5wwwwwwwwww5", hold=8),
    Call("menu-star-invalid", "8001", "*", hold=13),
    Call("unknown-open", "8000", "wwwwwwwwww3", hold=4, now=MONDAY_10),
    Call("vip-lookup", "8000", hold=3, caller="5550002"),
    Call("vip-with-manager", "8000", hold=3, caller="5550003"),
    Call("gold-open", "8000", "wwwwwwwwww1", hold=4, caller="5550004", now=MONDAY_10),
    Call(
        "tier-var-but-unknown",
        "8000",
        "1",
        caller="5550009",
        now=SATURDAY_20,
        variables={"CF_TIER": "vip"},
    ),
    Call("closed-1", "8000", "1", now=SATURDAY_20),
    Call("closed-operator", "8000", "0", now=SATURDAY_20),
    Call("closed-silence", "8000", hold=20, now=SATURDAY_20),
    Call("holiday-2", "8000", "2", hold=8, now=NATIONAL_DAY),  # a notice and a CRM lookup first
    Call("not-a-holiday", "8000", "wwwwwwwwww2", hold=4, now=NOT_HOLIDAY),
]

SHOP_CALLS = [
    Call("order-status", "9000", "ww1", now=MONDAY_10),
    Call("complaints", "9000", "ww2", now=MONDAY_10),
    Call("returns", "9000", "ww3", now=MONDAY_10),
    Call("operator", "9000", "ww0", now=MONDAY_10),
    Call("silence", "9000", hold=14, now=MONDAY_10),
    Call("invalid-then-1", "9000", "ww9wwwwwwwwww1", now=MONDAY_10),
    Call("invalid-twice", "9000", "ww5wwwwwwwwww5", hold=8, now=MONDAY_10),
    Call("offer-needs-the-tag", "9000", "ww4", hold=12, now=MONDAY_10),
    Call("upgrader-offer", "9000", "ww4", caller="5550005", now=MONDAY_10),
    Call("vip-order-status", "9000", "ww1", caller="5550002", now=MONDAY_10),
    Call("key-account-complaint", "9000", "ww2", caller="5550006", now=MONDAY_10),
    Call("unknown-with-tier-var", "9000", "ww1", now=MONDAY_10, variables={"CF_TIER": "vip"}),
    Call("closed", "9000", hold=3, now=SATURDAY_20),
    Call("holiday", "9000", hold=3, caller="5550002", now=SPRING_FESTIVAL),
    Call("overseas-english", "9001", "2wwwwww1", hold=4, now=MONDAY_10),
    Call("overseas-chinese-vip", "9001", "1wwwwww3", hold=4, caller="5550002", now=MONDAY_10),
    Call(
        "overseas-silent-language", "9001", "wwwwwwwwwwww3", hold=4, now=MONDAY_10, keys=(None, "3")
    ),
    Call("overseas-closed", "9001", "1", hold=6, now=SATURDAY_20),
]


def summary(result: Any) -> tuple[list[str], str, str, str, str]:
    """(trace, dest, path, tier, priority) as a real call's end event reports them."""
    event = result.event
    return (
        result.trace,
        result.dest,
        str(event.get("path", "")).strip(),
        str(event.get("tier", "")).strip(),
        str(event.get("prio", "")).strip(),
    )


def routed(summary: tuple[list[str], str, str, str, str]) -> tuple[list[str], str, str, str]:
    """What the simulator also reports: all but the tier (the event filters it raw, the
    simulator lower-cased)."""
    trace, dest, path, _tier, prio = summary
    return trace, dest, path, prio


def simulated(site: Site, call: Call) -> tuple[list[str], str, str, str]:
    result = sim.simulate(site, call.entry, script=call.script(), at=call.at())
    prio = "" if result.priority is None else str(result.priority)
    return result.trace, result.dest, result.path, prio


async def place(driver: CallDriver, context: str, call: Call) -> Any:
    return await driver.place_call(
        context,
        call.entry,
        caller_id=call.caller,
        dtmf=call.dtmf,
        hold=call.hold,
        timeout=40,
        variables=call.channel_vars(),
    )


async def three_way(
    sandbox: Any,
    driver: CallDriver,
    deployed: tuple[Site, str, str],
    agi_port: int,
    calls: list[Call],
) -> dict[str, Any]:
    """Place every call live and compiled at once, simulate it; return the live results."""
    site, live, compiled = deployed
    async with running(sandbox, site, agi_port) as service:
        pairs = await asyncio.gather(
            *(asyncio.gather(place(driver, live, c), place(driver, compiled, c)) for c in calls)
        )
        assert service.runtime.started == len(calls)
    mismatches = {}
    for call, (live_result, compiled_result) in zip(calls, pairs, strict=True):
        assert compiled_result.trace, f"{call.id}: the compiled call reported nothing"
        seen = summary(live_result), summary(compiled_result)
        offline = simulated(site, call)
        if seen[0] != seen[1] or routed(seen[0]) != offline:
            mismatches[call.id] = {"live": seen[0], "compiled": seen[1], "simulated": offline}
    assert not mismatches, pprint.pformat(mismatches, width=100)
    return {c.id: pair[0] for c, pair in zip(calls, pairs, strict=True)}


async def test_four_s_live_compiled_and_simulated_agree(sandbox, driver, live4s, agi_port):
    by_id = await three_way(sandbox, driver, live4s, agi_port, FOUR_S_CALLS)
    # a few anchors, so that "all wrong the same way" is not a pass
    assert (by_id["menu-1"].trace, by_id["menu-1"].dest) == (["main", "sales"], "queue:sales")
    assert by_id["vip-lookup"].trace == ["identify", "vip_check", "vip_sales"]
    assert by_id["vip-with-manager"].event.get("path", "").strip() == "manager-then-queue"
    assert by_id["holiday-2"].trace == [
        "identify",
        "vip_check",
        "hours",
        "holiday_notice",
        "after_hours",
        "service_voicemail",
    ]
    assert by_id["closed-silence"].dest == "hangup"


async def test_shop_live_compiled_and_simulated_agree(sandbox, driver, liveshop, agi_port):
    by_id = await three_way(sandbox, driver, liveshop, agi_port, SHOP_CALLS)
    main = ["identify", "hours", "offer_check", "main"]
    assert (by_id["order-status"].trace, by_id["order-status"].dest) == (
        [*main, "order_status"],
        "queue:order_status",
    )
    assert by_id["upgrader-offer"].trace[-2:] == ["main_with_offer", "sales_offer"]
    assert by_id["silence"].dest == "queue:operator"
    assert by_id["key-account-complaint"].event.get("path", "").strip() == "manager-then-queue"
    assert by_id["holiday"].dest == "voicemail:6000"
    assert by_id["overseas-english"].trace[:2] == ["language", "identify"]


async def test_calls_fall_back_to_the_compiled_flow_while_the_app_is_down(sandbox, driver, live4s):
    site, live, _compiled = live4s
    assert await app_channels(sandbox, app_name(site.name)) is None
    result = await driver.place_call(live, "8001", dtmf="2", hold=2)
    assert (result.trace, result.dest) == (["main", "service"], "queue:service")


async def test_restarting_the_runtime_mid_call_reclaims_the_calls(
    sandbox, driver, live4s, agi_port
):
    site, live, _compiled = live4s
    app = app_name(site.name)
    # the caller presses 2 after ~6 s: by then a new runtime owns the call
    async with running(sandbox, site, agi_port, hand_back=False) as first:
        handles = [
            await driver.start_call(live, "8001", dtmf="wwwwwwwwwwww2", hold=3, timeout=40)
            for _ in range(3)
        ]
        await wait_until(lambda: first.runtime.started == 3, 5)
    # "crashed": the calls are still parked in the application
    parked = await app_channels(sandbox, app)
    assert parked is not None and len(parked) == 3
    async with running(sandbox, site, agi_port) as second:
        await wait_until(lambda: second.runtime.reclaimed == 3, 5)
        results = [await h.wait_end() for h in handles]
    assert {(tuple(r.trace), r.dest) for r in results} == {(("main", "service"), "queue:service")}
    assert not await app_channels(sandbox, app)


async def test_stopping_hands_calls_back_to_the_compiled_dialplan(
    sandbox, driver, live4s, agi_port
):
    site, live, _compiled = live4s
    async with running(sandbox, site, agi_port) as service:
        handle = await driver.start_call(live, "8001", dtmf="wwwwwwwwww3", hold=3, timeout=30)
        await wait_until(lambda: service.runtime.started == 1 and service.runtime.sessions, 5)
        await asyncio.sleep(1.0)
    result = await handle.wait_end()  # the compiled menu took over and heard the 3
    assert (result.trace, result.dest) == (["main", "care"], "queue:care")


async def test_the_adapter_hands_a_call_back_to_where_it_left_dialplan(sandbox, driver, live4s):
    # What CallSession.leave() does for a call that has no node yet (it arrived while the
    # runtime was stopping): continue with no explicit place, i.e. right after Stasis()
    # in the entry, which is the compiled flow of the same number.
    from callflow.runtime.ari import AriClient

    site, live, _compiled = live4s
    arrived: asyncio.Queue[str] = asyncio.Queue()

    def on_event(event: Any) -> None:
        if event.type == "StasisStart":
            arrived.put_nowait(event.channel)

    settings = AriSettings(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password)
    client = AriClient(dataclasses.replace(settings, app=app_name(site.name)), on_event)
    runner = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.registered.wait(), 5)
        handle = await driver.start_call(live, "8001", dtmf="wwwwww3", hold=3, timeout=30)
        channel = await asyncio.wait_for(arrived.get(), 5)
        await client.continue_in_dialplan(channel, None, None, None)
        result = await handle.wait_end()
    finally:
        await client.stop()
        runner.cancel()
    assert (result.trace, result.dest) == (["main", "care"], "queue:care")


@pytest.fixture
def own_sandbox(asterisk_root: Path) -> Any:
    """A sandbox of this test's own: restarting the shared one would break other tests."""
    from callflow.sandbox import Sandbox

    pbx = Sandbox(asterisk_root, keep=True)
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.keep = False
        stop_and_reap(pbx)


def stop_and_reap(pbx: Any) -> None:
    # Sandbox.stop() may skip waiting for an Asterisk that is already a zombie; reap it
    # here, or Popen warns "still running" when it is collected.
    proc = pbx._state.get("proc")
    pbx.stop()
    if proc is not None:
        proc.wait(timeout=10)


async def test_asterisk_restart_reregisters_and_leaves_nothing_in_stasis(own_sandbox, agi_port):
    pbx = own_sandbox
    site = live_site(FOUR_S, "restart4s", agi_port)
    live, _compiled = install(pbx, site)
    app = app_name(site.name)
    async with running(pbx, site, agi_port) as service:
        async with CallDriver.from_sandbox(pbx) as before:
            for _ in range(3):
                await before.start_call(
                    live, "8001", dtmf="wwwwwwwwwwwwwwwwwwww1", hold=5, timeout=60
                )
            await wait_until(lambda: len(service.runtime.sessions) == 3, 5)
            registrations = service.ari.registrations
            # a fixed 3 s before reconnecting (the default backs off from 0.1 s): Asterisk
            # is back in about a second, so calls can arrive while the app is not there
            service.ari.backoff = (3.0, 3.0)
            await asyncio.to_thread(pbx.cli, "core restart now")  # returns once booted
        back = time.monotonic()
        async with CallDriver.from_sandbox(pbx) as after:
            assert await app_channels(pbx, app) is None  # not registered yet
            started = service.runtime.started
            early = await after.place_call(live, "8001", dtmf="2", hold=2)
            assert (early.trace, early.dest) == (["main", "service"], "queue:service")
            assert service.runtime.started == started  # the compiled fallback took it

            await wait_until(lambda: service.ari.registrations > registrations, 10)
            assert service.ari.registered_at is not None
            assert service.ari.registered_at - back < 5.0
            await wait_until(lambda: not service.runtime.sessions, 10)
            assert await app_channels(pbx, app) == []  # nothing stuck in Stasis

            result = await after.place_call(live, "8001", dtmf="1", hold=2)
            assert (result.trace, result.dest) == (["main", "sales"], "queue:sales")
            assert service.runtime.started == started + 1
        assert await app_channels(pbx, app) == []


async def test_a_slow_lookup_delays_only_its_own_call(sandbox, driver, live4s, agi_port):
    site, live, _compiled = live4s
    asked: dict[str, float] = {}

    async def slow_crm(caller: str) -> Mapping[str, Any] | None:
        asked[caller] = time.monotonic()
        if caller == "5550003":
            await asyncio.sleep(3)
        return CUSTOMERS.get(caller)

    queue = queue_name(site.name, "vip_sales")
    async with running(sandbox, site, agi_port, lookup=slow_crm, lookup_timeout=5) as _service:
        started = time.monotonic()
        slow = await driver.start_call(live, "8000", caller_id="5550003", hold=8, timeout=30)
        fast = await driver.start_call(live, "8000", caller_id="5550002", hold=8, timeout=30)
        first = await driver.wait_for_callers(queue, 1, 3)
        fast_at = time.monotonic() - started
        assert [w.caller_id for w in first] == ["5550002"], first
        both = await driver.wait_for_callers(queue, 2, 8)
        slow_at = time.monotonic() - started
        assert sorted(w.caller_id for w in both) == ["5550002", "5550003"]
        assert fast_at < 2.5 < 3.0 <= slow_at, (fast_at, slow_at)
        for handle in (slow, fast):
            await handle.hangup()
            assert (await handle.wait_end()).dest == "queue:vip_sales"


# ---- `callflow serve SITE`, as a process -----------------------------------------------

SERVED_SITE = """
import dataclasses
import runpy

from callflow import LookupSettings
from callflow.testing import without_phones

site = dataclasses.replace(
    without_phones(runpy.run_path({example!r})["site"]),
    name="serve4s",
    live=True,
    lookup=LookupSettings(url="agi://127.0.0.1:{port}"),
)
"""
VIP_PHONE = "13800000009"
CUSTOMERS_CSV = f"phone,name,tier,manager\n{VIP_PHONE},Vera Vip,vip,\n"


def callflow_cli(*args: str, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "callflow"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def registered_apps(sandbox: Any) -> list[str]:
    """``GET /applications``: the Stasis applications ARI has registered."""
    return [str(app["name"]) for app in await ari_get(sandbox, "applications")]


async def test_callflow_serve_runs_the_site_live_and_stops_cleanly_on_sigterm(
    sandbox, driver, tmp_path
):
    port = free_port()
    site_file = tmp_path / "serve4s.py"
    site_file.write_text(SERVED_SITE.format(example=str(FOUR_S), port=port))
    site = load_site(str(site_file))
    live, _compiled = install(sandbox, site)
    db = f"sqlite:///{tmp_path / 'crm.db'}"
    callflow_cli("db", "upgrade", "--db", db)
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV)
    callflow_cli("db", "import", "customers", str(tmp_path / "customers.csv"), "--db", db)

    env = {
        **os.environ,
        "CALLFLOW_ARI_URL": sandbox.ari_url,
        "CALLFLOW_ARI_USER": sandbox.ari_user,
        "CALLFLOW_ARI_PASSWORD": sandbox.ari_password,
    }
    logs = tmp_path / "serve.log"
    with logs.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "callflow"),
                "serve",
                str(site_file),
                "--db",
                db,
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        app = app_name(site.name)
        deadline = time.monotonic() + 15
        while app not in await registered_apps(sandbox):
            assert proc.poll() is None, logs.read_text()
            assert time.monotonic() < deadline, logs.read_text()
            await asyncio.sleep(0.1)

        # the store's VIP goes straight to the VIP queue: the live lookup read the store
        vip = await driver.place_call(live, "8000", caller_id=VIP_PHONE, hold=2)
        assert (vip.trace, vip.dest) == (["identify", "vip_check", "vip_sales"], "queue:vip_sales")
        assert vip.event.get("tier", "").strip() == "vip"
        # a call in progress when SIGTERM comes is handed back and still heard its key
        handle = await driver.start_call(live, "8001", dtmf="wwwwwwwwww3", hold=3, timeout=30)
        await wait_until_async(lambda: app_channels(sandbox, app), 5)
        await asyncio.sleep(1.0)  # set up and in the menu (a call still being set up is
        # let go with continueInDialplan without a target, which the adapter cannot send yet)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 5) == 0, logs.read_text()
        handed_back = await handle.wait_end()
        assert (handed_back.trace, handed_back.dest) == (["main", "care"], "queue:care")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = [json.loads(line) for line in logs.read_text().splitlines() if line.startswith("{")]
    starts = [r for r in records if r["msg"] == "call starts"]
    assert [r["entry"] for r in starts] == ["8000", "8001"]  # both served live
    assert any(r["msg"] == "runtime stopped" and r["calls"] == 1 for r in records)
    assert sandbox.ari_password not in logs.read_text()
    assert app not in await registered_apps(sandbox)


# ---- helpers ---------------------------------------------------------------------------


async def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


async def wait_until_async(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


def edge_site(agi_port: int) -> Site:
    """A lookup, then one branch each on tier, segment, language and region whose cases
    are the keys a wrong lowering would produce ('vip', 'key', 'gold', 'ip'...), each
    case naming itself in the trace, then a queue whose priority comes from the tier."""
    chain = [
        ("tier", ["vip", "vp", "key", "ey", "k", "gold", "ip", "strae", "p", "gggg"]),
        ("segment", ["vip", "vp", "key", "ey", "gold", "cafe", "caf"]),
        ("language", ["zh", "zh_tw", "en", "ey", "vp", "vip"]),
        ("region", ["vip", "vp", "key", "ey", "gold", "north", "p", "ip"]),
    ]
    nodes: list[Any] = [Lookup(id="identify", next="by_tier")]
    for i, (attribute, cases) in enumerate(chain):
        after = f"by_{chain[i + 1][0]}" if i + 1 < len(chain) else "sales"
        nodes.append(
            Branch(
                id=f"by_{attribute}",
                attribute=attribute,  # type: ignore[arg-type]
                cases={case: f"{attribute}_{case}" for case in cases},
                default=f"{attribute}_other",
            )
        )
        nodes += [Goto(id=f"{attribute}_{case}", target=after) for case in [*cases, "other"]]
    nodes += [
        Queue(id="sales", members=["ann"], max_wait=60, overflow="bye"),
        Hangup(id="bye"),
    ]
    return Site(
        name="liveedge",
        entries={"7000": "identify"},
        nodes=nodes,
        staff=[Staff("ann", name="Ann", device="PJSIP/1001", groups=("sales",))],
        priority=PriorityRule({"vip": 10, "gold": 5, "key": 4, "ey": 3, "vp": 2}, default=1),
        lookup=LookupSettings(url=f"agi://127.0.0.1:{agi_port}"),
        live=True,
    )


EDGE_CALLS = [
    Call(f"edge-{i:02d}", "7000", caller=number) for i, number in enumerate(EDGE_CUSTOMERS)
]


def edge_call(value: str) -> str:
    return f"edge-{EDGE_VALUES.index(value):02d}"


async def test_non_ascii_crm_values_route_alike_live_compiled_and_simulated(
    sandbox, driver, agi_port
):
    """Asterisk lowers only A-Z (TOLOWER) and filters bytes (FILTER): 'VİP' is no 'vip'
    and the Kelvin sign no 'k', in the dialplan, the live runtime and the simulator."""
    site = edge_site(agi_port)
    live, compiled = install(sandbox, site)
    by_id = await three_way(sandbox, driver, (site, live, compiled), agi_port, EDGE_CALLS)
    assert len(EDGE_CALLS) >= 20
    vip_dot = by_id[edge_call("V\u0130P")]
    assert vip_dot.trace[:2] == ["identify", "by_tier"]
    assert vip_dot.trace[2] == "tier_vp"  # TOLOWER keeps the İ, FILTER drops its bytes
    kelvin = by_id[edge_call("\u212aey")]
    assert kelvin.trace[2] == "tier_ey"
    assert kelvin.event.get("prio", "").strip() == "3"
    plain = by_id[edge_call("GoLd")]
    assert plain.trace[2] == "tier_gold" and plain.dest == "queue:sales"
