"""The live ARI runtime against the compiled dialplan, on a real Asterisk 22.

Every caller script is placed twice at the same time: once into the site's live entry
(``Stasis(callflow-<site>,<entry>)``, run by :class:`~callflow.runtime.server.LiveService`)
and once into the compiled entry. Both report through the same hang-up handler, so the
``CallflowEnd`` events must agree: same trace, same destination.

Until the compiler emits live entries itself (see the live-mode patch), the live entry is
written here by hand, exactly as the patch compiles it: ``Stasis()`` first, the compiled
flow as the fallback when the application is not there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callflow.compiler import queue_name
from callflow.deploy import CliControl, deploy
from callflow.loader import load_site
from callflow.model.site import LookupSettings, Site
from callflow.runtime.ari import AriSettings
from callflow.runtime.interpreter import app_name
from callflow.runtime.server import LiveService
from callflow.testing import CallDriver, install_placeholder_prompts

pytestmark = pytest.mark.asterisk

ROOT = Path(__file__).parents[2]
FOUR_S = ROOT / "examples" / "four_s_dealer.py"

CUSTOMERS: dict[str, dict[str, str]] = {
    "5550002": {"CF_CUSTOMER_ID": "2", "CF_TIER": "vip"},
    "5550003": {"CF_CUSTOMER_ID": "3", "CF_TIER": "VIP", "CF_MANAGER": "wang"},
    "5550004": {"CF_CUSTOMER_ID": "4", "CF_TIER": "gold", "CF_TAGS": "serviced"},
}

MONDAY_10 = "1763949600"  # 2025-11-24 10:00 Asia/Shanghai: open, the front desk rings
SATURDAY_20 = "1763812800"  # 2025-11-22 (Sat) 20:00 Asia/Shanghai: closed
NOT_HOLIDAY = "1790820000"  # 2026-10-01 (Thu) 10:00 Asia/Shanghai: not a site holiday
NATIONAL_DAY = "1822356000"  # 2027-10-01 10:00 Asia/Shanghai: a site holiday


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def crm(caller: str) -> Mapping[str, Any] | None:
    return CUSTOMERS.get(caller)


async def agi_lookup(request: Any, agi: Any) -> None:
    """The same CRM behind the compiled Lookup node's FastAGI call."""
    found = CUSTOMERS.get(request.caller)
    if not found:
        return
    for name, value in found.items():
        await agi.set_variable(name, value)
    await agi.set_variable("CF_LOOKUP", "ok")


def live_entry_conf(site: Site) -> str:
    """``[cf-<site>-live]``: each entry tries the Stasis app, else runs compiled."""
    lines = [f"[cf-{site.name}-live]"]
    for number in sorted(site.entries):
        lines.append(f"exten => {number},1,Stasis({app_name(site.name)},{number})")
        lines.append(f" same => n,Goto(cf-{site.name}-entry,{number},1)")
    return "\n".join(lines) + "\n"


def install(sandbox: Any, site: Site) -> tuple[str, str]:
    """Deploy ``site`` and its live entry; return (live context, compiled context)."""
    install_placeholder_prompts(sandbox, site)
    deploy(site, sandbox.etc_dir, asterisk=CliControl(sandbox.asterisk_command()))
    conf = sandbox.etc_dir / f"callflow-live-{site.name}.conf"
    conf.write_text(live_entry_conf(site))
    main = sandbox.etc_dir / "extensions.conf"
    line = f'#include "{conf.name}"'
    if line not in main.read_text().splitlines():
        main.write_text(main.read_text() + line + "\n")
    sandbox.cli("dialplan reload")
    assert "Stasis" in sandbox.cli(f"dialplan show cf-{site.name}-live")
    return f"cf-{site.name}-live", f"cf-{site.name}-entry"


@pytest.fixture(scope="module")
def agi_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def live4s(sandbox: Any, agi_port: int) -> tuple[Site, str, str]:
    site = dataclasses.replace(
        load_site(str(FOUR_S)),
        name="live4s",
        lookup=LookupSettings(url=f"agi://127.0.0.1:{agi_port}"),
    )
    live, compiled = install(sandbox, site)
    return site, live, compiled


async def app_channels(sandbox: Any, app: str) -> list[str] | None:
    """Channels in ``app`` (None: no such application)."""
    auth = {"Authorization": aiohttp.encode_basic_auth(sandbox.ari_user, sandbox.ari_password)}
    async with (
        aiohttp.ClientSession(headers=auth) as http,
        http.get(f"{sandbox.ari_url}/applications/{app}") as response,
    ):
        if response.status == 404:
            return None
        response.raise_for_status()
        data = await response.json()
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
class Script:
    id: str
    entry: str
    dtmf: str = ""
    hold: float = 3
    caller: str = "5550000"
    variables: Mapping[str, str] = dataclasses.field(default_factory=dict)


SCRIPTS = [
    Script("menu-1", "8001", "1"),
    Script("menu-2", "8001", "2"),
    Script("menu-3", "8001", "3"),
    Script("menu-9", "8001", "9"),
    Script("menu-0-operator", "8001", "0"),
    Script("menu-silence", "8001", hold=14),
    Script("menu-invalid-then-2", "8001", "5wwwwww2"),
    Script("menu-invalid-twice", "8001", "5wwwwww5"),
    Script("menu-star-invalid", "8001", "*", hold=9),
    Script("unknown-open", "8000", "wwwwwwwwww3", hold=4, variables={"CF_NOW": MONDAY_10}),
    Script("vip-lookup", "8000", hold=3, caller="5550002"),
    Script("vip-with-manager", "8000", hold=3, caller="5550003"),
    Script(
        "gold-open",
        "8000",
        "wwwwwwwwww1",
        hold=4,
        caller="5550004",
        variables={"CF_NOW": MONDAY_10},
    ),
    Script(
        "tier-var-but-unknown",
        "8000",
        "1",
        caller="5550009",
        variables={"CF_TIER": "vip", "CF_NOW": SATURDAY_20},
    ),
    Script("closed-1", "8000", "1", variables={"CF_NOW": SATURDAY_20}),
    Script("closed-operator", "8000", "0", variables={"CF_NOW": SATURDAY_20}),
    Script("closed-silence", "8000", hold=20, variables={"CF_NOW": SATURDAY_20}),
    Script("holiday-2", "8000", "2", variables={"CF_NOW": NATIONAL_DAY}),
    Script("not-a-holiday", "8000", "wwwwwwwwww2", hold=4, variables={"CF_NOW": NOT_HOLIDAY}),
]


def summary(result: Any) -> tuple[list[str], str, str, str, str]:
    event = result.event
    return (
        result.trace,
        result.dest,
        str(event.get("path", "")).strip(),
        str(event.get("tier", "")).strip(),
        str(event.get("prio", "")).strip(),
    )


async def place(driver: CallDriver, context: str, script: Script) -> Any:
    return await driver.place_call(
        context,
        script.entry,
        caller_id=script.caller,
        dtmf=script.dtmf,
        hold=script.hold,
        timeout=40,
        variables=dict(script.variables),
    )


async def test_live_and_compiled_agree_on_every_script(sandbox, driver, live4s, agi_port):
    site, live, compiled = live4s
    async with running(sandbox, site, agi_port) as service:
        pairs = await asyncio.gather(
            *(asyncio.gather(place(driver, live, s), place(driver, compiled, s)) for s in SCRIPTS)
        )
        assert service.runtime.started == len(SCRIPTS)
    mismatches = {}
    for script, (live_result, compiled_result) in zip(SCRIPTS, pairs, strict=True):
        assert compiled_result.trace, f"{script.id}: the compiled call reported nothing"
        if summary(live_result) != summary(compiled_result):
            mismatches[script.id] = (summary(live_result), summary(compiled_result))
    assert mismatches == {}
    # a few anchors, so that "both wrong the same way" is not a pass
    by_id = {s.id: pair[0] for s, pair in zip(SCRIPTS, pairs, strict=True)}
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


def restart_asterisk(pbx: Any, site: Site) -> None:
    """Stop Asterisk and boot it again from the same directory (``core restart now`` cannot
    re-exec the sandbox's binary: it is started through the root's own dynamic loader)."""
    stop_and_reap(pbx)  # keep=True: the work directory, deployed versions included, stays
    pbx.start()  # rewrites the sandbox's own files, so the site's includes go back in
    install(pbx, site)


async def test_asterisk_restart_reregisters_and_leaves_nothing_in_stasis(own_sandbox, agi_port):
    pbx = own_sandbox
    site = dataclasses.replace(
        load_site(str(FOUR_S)),
        name="restart4s",
        lookup=LookupSettings(url=f"agi://127.0.0.1:{agi_port}"),
    )
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
            await asyncio.to_thread(restart_asterisk, pbx, site)
        back = time.monotonic()
        await wait_until(lambda: service.ari.registrations > registrations, 10)
        assert service.ari.registered_at is not None
        assert service.ari.registered_at - back < 5.0
        await wait_until(lambda: not service.runtime.sessions, 10)
        assert await app_channels(pbx, app) == []
        async with CallDriver.from_sandbox(pbx) as after:
            result = await after.place_call(live, "8001", dtmf="1", hold=2)
            assert (result.trace, result.dest) == (["main", "sales"], "queue:sales")
        assert service.runtime.started == 4


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
        first = await wait_for_queue(driver, queue, 1, 3)
        fast_at = time.monotonic() - started
        assert [w.caller_id for w in first] == ["5550002"], first
        both = await wait_for_queue(driver, queue, 2, 8)
        slow_at = time.monotonic() - started
        assert sorted(w.caller_id for w in both) == ["5550002", "5550003"]
        assert fast_at < 2.5 < 3.0 <= slow_at, (fast_at, slow_at)
        for handle in (slow, fast):
            await handle.hangup()
            assert (await handle.wait_end()).dest == "queue:vip_sales"


# ---- helpers ---------------------------------------------------------------------------


async def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


async def wait_for_queue(driver: CallDriver, queue: str, count: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        waiting = await driver.queue_waiting(queue)
        if len(waiting) >= count or time.monotonic() > deadline:
            return waiting
        await asyncio.sleep(0.1)


def wait_booted(sandbox: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sandbox.cli("core waitfullybooted", timeout=5)
            return
        except Exception:
            time.sleep(0.1)
    raise AssertionError("Asterisk did not come back")
