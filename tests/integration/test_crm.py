"""The CRM on real calls: store-backed lookup (FastAGI and classic AGI), account manager
first, call records from Asterisk's own events, screen pop, and every way the CRM can fail.

Customers live in a real SQLite store; the compiled Lookup node asks the FastAGI ``lookup``
route (or the ``callflow-agi`` script) exactly as in production. Call records are written
by a :class:`~callflow.runtime.records.CallRecorder` on its own AMI connection, and are
checked against the AgentConnect/AgentComplete figures Asterisk reports independently.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from site import getsitepackages

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import callflow
from callflow import Dial, Hangup, Lookup, LookupSettings, PriorityRule, Queue, Site, Staff
from callflow.compiler import queue_name
from callflow.compiler.devstate import LOCKED_STATE
from callflow.contract import staff_lock
from callflow.runtime.ami import AmiAddress
from callflow.runtime.fastagi import FastAgiServer
from callflow.runtime.lookup import NAME_LIMIT, CustomerLookup, LookupRoute
from callflow.runtime.records import agent_ids
from callflow.runtime.screenpop import ScreenPop
from callflow.runtime.services import CallRecordWriter, LookupServer, Supervisor
from callflow.sandbox.access import unreachable
from callflow.store import CallRecord, make_engine, make_lookup_engine, make_sessionmaker, upgrade
from callflow.store.inputs import customer_data, staff_data
from callflow.store.repositories import CustomerRepository, StaffRepository
from callflow.testing.driver import CallError
from tests.postgres import PostgresServer, PostgresUnavailable, unavailable

from .sites import NOBODY, free_port, load

pytestmark = pytest.mark.asterisk

ROOT = Path(__file__).parents[2]
VIP, GOLD, VIP_NO_MANAGER, HOSTILE, UNKNOWN = (
    "13800000001",
    "13800000002",
    "13800000003",
    "13800000004",
    "13900000009",
)
MARKER = Path(f"/tmp/callflow-crm-pwned-{uuid.uuid4().hex}")
HOSTILE_NAME = f"Evil,)${{SHELL(touch {MARKER})}}\"'\nline2\\ $[1+1]"


ANN_NAME, ANN_DEVICE = 'Ann "The Closer", Sales', "Local/ann@cf-test-agent/n"


def seed(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        StaffRepository().upsert(
            session, staff_data(id="wang", name="Wang Wei", device="PJSIP/2001", groups=["sales"])
        )
        customers = CustomerRepository()
        for phone, name, tier, manager in (
            (VIP, "Li Lei", "vip", "wang"),
            (GOLD, "Han Meimei", "gold", None),
            (VIP_NO_MANAGER, "Zhou Xun", "vip", None),
            (HOSTILE, HOSTILE_NAME, "vip", None),
        ):
            customers.upsert(
                session,
                customer_data(
                    name=name, phones=[phone], tier=tier, manager=manager, region="east",
                    tags=["suv-owner"],
                ),
            )  # fmt: skip
    engine.dispose()


@pytest.fixture
def crm_url(tmp_path, sandbox):
    # in the sandbox's share dir: the classic AGI script, run by the sandbox's Asterisk
    # (as an unprivileged user when root started it), reads this database too; SQLite
    # gives the -wal/-shm files the database's mode, so group-writable (the runtime group)
    path = sandbox.share_dir / f"crm-{tmp_path.name}.db"
    url = f"sqlite:///{path}"
    seed(url)
    path.chmod(0o660)
    yield url
    for leftover in sandbox.share_dir.glob(f"{path.name}*"):
        leftover.unlink()


@pytest.fixture
async def crm(crm_url, sandbox):
    """FastAGI lookup server + call recorder on its own AMI connection: the services
    `callflow serve` runs."""
    engine = make_engine(crm_url)
    sessions = make_sessionmaker(engine)
    lookup = LookupServer(engine, port=0, budget=0.5)
    records = CallRecordWriter(
        sessions,
        AmiAddress(sandbox.ami_host, sandbox.ami_port),
        sandbox.ami_user,
        sandbox.ami_secret,
        connect_timeout=5,
    )
    figures: dict[str, dict[str, str]] = {}  # Asterisk's own: linkedid -> AgentComplete

    connects: list[str] = []  # linkedids in the order agents answered them

    def on_complete(event):
        figures[str(event.get("Linkedid"))] = dict(event)

    def on_connect(event):
        connects.append(str(event.get("Linkedid")))

    records.ami.on("AgentComplete", on_complete)
    records.ami.on("AgentConnect", on_connect)
    async with Supervisor({"lookup server": lookup, "call records": records}):
        yield {
            "url": f"agi://127.0.0.1:{lookup.port}",
            "server": lookup.server,
            "route": lookup.route,
            "recorder": records.recorder,
            "ami": records.ami,
            "sessions": sessions,
            "figures": figures,
            "connects": connects,
        }
    engine.dispose()


def crm_site(
    name: str,
    url: str,
    *,
    manager: str | None = None,
    script: str = "lookup",
    agent: bool = False,
) -> Site:
    """Entry 100: lookup, then the sales queue (VIP 10, gold 5); with ``manager`` (a test
    behaviour: agent, busy, noanswer, nobody) VIPs ring their account manager 2 s first;
    with ``agent``, the queue's member ann (ANN_DEVICE) answers."""
    device = NOBODY if manager in (None, "nobody") else f"Local/wang@cf-test-{manager}/n"
    return Site(
        name=name,
        entries={"100": "who"},
        staff=[
            Staff("wang", name="Wang Wei", device=device, groups=("managers",)),
            Staff("ann", name=ANN_NAME, device=ANN_DEVICE if agent else NOBODY, groups=("sales",)),
        ],
        priority=PriorityRule({"vip": 10, "gold": 5}, default=0),
        # the classic script is a Python process started per call: on a loaded 2-core
        # machine (the suite's parallel workers) it needs more than FastAGI's 2 s
        lookup=LookupSettings(url=url, script=script, timeout=2 if url.startswith("agi://") else 6),
        nodes=[
            Lookup(id="who", next="sales"),
            Queue(
                id="sales",
                members=["sales"],
                max_wait=120,
                overflow="bye",
                manager_first=2 if manager else None,
            ),
            Hangup(id="bye"),
        ],
    )


async def records_for(crm, linkedid: str, *, talk: bool = False, timeout: float = 5.0):
    """The call records of ``linkedid`` once written (and with a talk time if asked)."""
    deadline = time.monotonic() + timeout
    while True:
        await crm["recorder"].flush()
        with crm["sessions"]() as session:
            rows = session.scalars(select(CallRecord).where(CallRecord.linkedid == linkedid)).all()
        if (rows and (not talk or rows[0].talk_seconds is not None)) or (
            time.monotonic() > deadline
        ):
            return rows
        await asyncio.sleep(0.1)


async def test_queue_orders_store_customers_and_the_vip_is_answered_first(
    sandbox, driver, crm, crm_url
):
    received: list[dict] = []

    async def webhook(request):
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/pop", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pop = ScreenPop(f"http://127.0.0.1:{port}/pop", crm["sessions"], timeout=1.0)
    broken = ScreenPop(f"http://127.0.0.1:{free_port()}/pop", crm["sessions"], timeout=1.0)
    pop.register(crm["ami"])
    broken.register(crm["ami"])
    # a past call of the VIP, for the screen pop's history
    with crm["sessions"].begin() as session:
        session.add(
            CallRecord(
                linkedid="past-1", uniqueid="past-1", site="crmq", direction="inbound",
                caller="+86" + VIP_NO_MANAGER, customer_id=3, disposition="ANSWERED",
                started_at=datetime.now(UTC) - timedelta(days=1), destination="queue:sales",
            )
        )  # fmt: skip
    try:
        site = crm_site("crmq", crm["url"])
        assert load(sandbox, site) == []
        queue = queue_name("crmq", "sales")
        await driver.add_agent(queue, "a1", paused=True)
        handles = []
        for caller in (UNKNOWN, GOLD, VIP_NO_MANAGER):
            handles.append(
                await driver.start_call(
                    "cf-crmq-entry", "100", caller_id=caller, hold=14, agent_talk=2, timeout=30
                )
            )
            await asyncio.sleep(0.5)
        waiting = await driver.wait_for_callers(queue, 3)
        assert [w.caller_id for w in waiting] == [VIP_NO_MANAGER, GOLD, UNKNOWN]
        assert [w.priority for w in waiting] == [10, 5, 0]
        assert await driver.getvar(waiting[0].channel, "CALLERID(name)") == "Zhou Xun"
        assert await driver.getvar(waiting[0].channel, "CF_TAGS") == "suv-owner"
        await driver.pause_agent(queue, "a1", paused=False)
        vip, gold, unknown = handles[2], handles[1], handles[0]
        deadline = time.monotonic() + 8  # the queue retries members every `retry` s
        while not crm["connects"] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert crm["connects"][:1] == [vip.caller_uniqueid]  # the VIP is answered first
        results = [await h.wait_end() for h in handles]
        await driver.remove_agent(queue, "a1")
    finally:
        await pop.flush()
        await broken.flush()
        pop.close()
        broken.close()
        await runner.cleanup()
    assert {r.dest for r in results} == {"queue:sales"}

    # screen pop: the VIP's name, tier and last calls; a dead webhook changed nothing
    vip_pop = next(d for d in received if d["caller"] == VIP_NO_MANAGER)
    assert vip_pop["customer"]["name"] == "Zhou Xun"
    assert vip_pop["customer"]["tier"] == "vip"
    assert [c["call_id"] for c in vip_pop["last_calls"]] == ["past-1"]
    assert broken.failed >= 1 and broken.sent == 0

    # exactly one record per call, agreeing with Asterisk's own figures
    vip_rows = await records_for(crm, vip.caller_uniqueid, talk=True)
    assert len(vip_rows) == 1
    rec = vip_rows[0]
    asterisk = crm["figures"][vip.caller_uniqueid]
    assert rec.uniqueid == vip.site_uniqueid
    assert (rec.disposition, rec.agent, rec.queue, rec.priority) == ("ANSWERED", "a1", queue, 10)
    assert (rec.tier, rec.customer_id, rec.destination) == ("vip", 3, "queue:sales")
    assert (rec.node_trace, rec.path, rec.caller) == ("who sales", "queue", "+86" + VIP_NO_MANAGER)
    assert abs(rec.wait_seconds - int(asterisk["HoldTime"])) <= 1
    assert abs(rec.talk_seconds - int(asterisk["TalkTime"])) <= 1
    assert 1 <= rec.talk_seconds <= 3  # the test agent talks 2 s
    assert rec.answered_at is not None and rec.ended_at is not None
    for handle, prio in ((gold, 5), (unknown, 0)):
        rows = await records_for(crm, handle.caller_uniqueid)
        assert len(rows) == 1
        assert rows[0].priority == prio
        assert rows[0].disposition in ("ANSWERED", "NO ANSWER")


@pytest.mark.parametrize(
    ("behaviour", "path"),
    [
        ("agent", "manager"),
        ("busy", "manager-then-queue"),
        ("noanswer", "manager-then-queue"),
        ("nobody", "manager-then-queue"),  # device unavailable: not rung at all
    ],
)
async def test_vip_rings_the_account_manager_first(sandbox, driver, crm, behaviour, path):
    name = f"crmm{behaviour}"
    site = crm_site(name, crm["url"], manager=behaviour)
    assert load(sandbox, site) == []
    queue = queue_name(name, "sales")
    started = time.monotonic()
    handle = await driver.start_call(
        f"cf-{name}-entry", "100", caller_id=VIP, hold=10, agent_talk=2, timeout=30
    )
    if path == "manager":
        result = await handle.wait_end()
    else:
        waiting = await driver.wait_for_callers(queue, 1, timeout=6)
        assert [w.priority for w in waiting] == [10]
        rang = time.monotonic() - started
        if behaviour == "noanswer":
            assert rang >= 2.0  # rang the manager for the declared 2 s
        if behaviour == "nobody":
            assert rang < 2.0
        await handle.hangup()
        result = await handle.wait_end()
    assert result.dest == "queue:sales"
    assert result.event["path"] == path
    rows = await records_for(crm, handle.caller_uniqueid, talk=path == "manager")
    assert len(rows) == 1
    assert rows[0].path == path
    assert rows[0].customer_id == 1
    if path == "manager":
        assert (rows[0].disposition, rows[0].agent) == ("ANSWERED", "wang")
        assert 1 <= rows[0].talk_seconds <= 3
    else:
        assert rows[0].disposition == "NO ANSWER"
        assert rows[0].priority == 10


async def test_a_manager_another_call_holds_is_not_rung_and_is_rung_once_it_is_free(
    sandbox, driver, crm
):
    """The ring lock, deterministically: a channel holding wang's lock (a call between
    its own device-state check and its ring) sends the VIP to the queue although wang's
    device is free; once that channel ends, Asterisk frees the lock and wang is rung."""
    name = "crmmlock"
    assert load(sandbox, crm_site(name, crm["url"], manager="agent")) == []
    holder = await hold_ring_lock(driver, name, "wang")
    queue = queue_name(name, "sales")
    first = await driver.start_call(f"cf-{name}-entry", "100", caller_id=VIP, hold=10, timeout=30)
    (waiting,) = await driver.wait_for_callers(queue, 1, timeout=6)
    assert waiting.priority == 10
    assert await driver.getvar(waiting.channel, "CF_DEVSTATE") == LOCKED_STATE
    free = await driver.getvar(waiting.channel, "DEVICE_STATE(Local/wang@cf-test-agent)")
    assert free == "NOT_INUSE"  # the state alone would have rung wang
    await first.hangup()
    assert (await first.wait_end()).event["path"] == "manager-then-queue"
    await release_ring_lock(holder)
    second = await driver.start_call(
        f"cf-{name}-entry", "100", caller_id=VIP, hold=10, agent_talk=1, timeout=30
    )
    assert (await second.wait_end()).event["path"] == "manager"


async def test_a_desk_phone_another_call_holds_is_left_out_of_the_ring(sandbox, driver):
    """A Dial (human first, a desk) rings only phones whose person's ring lock it took:
    with ann's lock held elsewhere the call goes to no_answer at once (DIALSTATUS BUSY),
    ann's free phone unrung; once the holder is gone ann answers."""
    name = "crmdlock"
    site = Site(
        name=name,
        entries={"101": "desk"},
        staff=[Staff("ann", name="Ann", device="Local/ann@cf-test-agent/n")],
        nodes=[Dial(id="desk", target="ann", ring=5, no_answer="bye"), Hangup(id="bye")],
    )
    assert load(sandbox, site) == []
    holder = await hold_ring_lock(driver, name, "ann")
    started = time.monotonic()
    first = await driver.start_call(f"cf-{name}-entry", "101", hold=10, timeout=30)
    result = await first.wait_end()
    assert result.trace == ["desk", "bye"]
    # ann's phone answers at once when rung (cf-test-agent): it was not rung at all
    assert time.monotonic() - started < 5
    await release_ring_lock(holder)
    second = await driver.start_call(f"cf-{name}-entry", "101", hold=10, agent_talk=1)
    assert (await second.wait_end()).dest == "dial:ann"


async def hold_ring_lock(driver, site: str, person: str):
    """A test channel that holds ``person``'s ring lock (as a call between its check and
    its ring would) until :func:`release_ring_lock`."""
    context = "cf-test-holdlock"
    lock = staff_lock(site, person)
    for step in (f"s,1,Set(CF_HELD=${{TRYLOCK({lock})}})", "s,2,Wait(30)"):
        await driver.command(f"dialplan add extension {step} into {context} replace")
    holder = await driver.start_call(context, "s", hold=30, timeout=40)
    deadline = time.monotonic() + 5
    while True:  # the originate is asynchronous: the channel may not exist yet
        with contextlib.suppress(CallError):
            if await driver.getvar(holder.site_uniqueid, "CF_HELD") == "1":
                return holder
        assert time.monotonic() < deadline, "the test channel did not take the lock"
        await asyncio.sleep(0.1)


async def release_ring_lock(holder) -> None:
    """Hang the holder up: Asterisk frees its lock when the channel is destroyed."""
    await holder.hangup()
    with pytest.raises(CallError, match="no CallflowEnd"):  # gone (not a site's call)
        await holder.wait_end()


@pytest.mark.parametrize("known_by", ["site", "store"])
async def test_record_names_the_answering_member_by_staff_id(sandbox, driver, crm, known_by):
    """Queue members carry display names in queues.conf; the record wants the staff id,
    found from the member's device in the served site or in the store's staff table."""
    name = f"crmagent{known_by}"
    site = crm_site(name, crm["url"], agent=True)
    if known_by == "site":
        crm["recorder"].agents.update(agent_ids(site))
    else:
        with crm["sessions"].begin() as session:
            StaffRepository().upsert(
                session, staff_data(id="ann", name=ANN_NAME, device=ANN_DEVICE)
            )
    assert load(sandbox, site) == []
    handle = await driver.start_call(
        f"cf-{name}-entry", "100", caller_id=GOLD, hold=10, agent_talk=1, timeout=30
    )
    assert (await handle.wait_end()).dest == "queue:sales"
    rows = await records_for(crm, handle.caller_uniqueid, talk=True)
    assert len(rows) == 1
    assert (rows[0].disposition, rows[0].agent, rows[0].tier) == ("ANSWERED", "ann", "gold")


def lock_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("UPDATE customers SET name = name")
    return conn


@pytest.mark.parametrize("failure", ["db missing", "db locked", "server down"])
async def test_crm_outages_queue_the_caller_at_default_priority_within_2s(
    sandbox, driver, crm, crm_url, caplog, failure
):
    db_path = Path(crm_url.removeprefix("sqlite:///"))
    lock = None
    url = crm["url"]
    if failure == "db missing":
        db_path.rename(db_path.with_suffix(".gone"))
    elif failure == "db locked":
        lock = lock_database(db_path)
    else:
        url = f"agi://127.0.0.1:{free_port()}"
    name = "crmo" + failure.replace(" ", "")[:6]
    site = crm_site(name, url)
    assert load(sandbox, site) == []
    caplog.set_level(logging.WARNING, logger="callflow.lookup")
    try:
        started = time.monotonic()
        handle = await driver.start_call(f"cf-{name}-entry", "100", caller_id=VIP, hold=10)
        waiting = await driver.wait_for_callers(queue_name(name, "sales"), 1, timeout=2.0)
        elapsed = time.monotonic() - started
        assert len(waiting) == 1, f"caller not in the queue after {elapsed:.2f}s"
        assert waiting[0].priority == 0
        assert elapsed < 2.0
        assert await driver.getvar(waiting[0].channel, "CF_LOOKUP") == "failed"
        if failure == "db missing":
            # checked before the call ends: the call recorder writes its record then
            assert not db_path.exists()  # the lookup did not create an empty database
        await handle.hangup()
        result = await handle.wait_end()
    finally:
        if lock is not None:
            lock.close()
    assert result.dest == "queue:sales"
    if failure == "db missing":
        assert "does not exist" in caplog.text
    elif failure == "db locked":
        assert "no answer within 0.5s" in caplog.text
    if failure != "db missing":  # records need the database
        rows = await records_for(crm, handle.caller_uniqueid)
        assert len(rows) == 1 and rows[0].priority == 0 and rows[0].tier is None


@pytest.fixture
def postgres():
    """A PostgreSQL server of this test's own, so that it can be stopped mid-test."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


@pytest.mark.postgres
async def test_postgres_stopped_queues_at_default_priority_and_recovers(
    sandbox, driver, postgres, caplog
):
    url = postgres.create_database("crm")
    seed(url)
    engine = make_lookup_engine(url)  # as callflow serve: no pre-ping, one retry
    route = LookupRoute(CustomerLookup(engine), budget=0.5)
    caplog.set_level(logging.WARNING, logger="callflow.lookup")

    async def vip_call() -> tuple[int, str, float]:
        """(queue priority, CF_LOOKUP, seconds to reach the queue) of one VIP call."""
        started = time.monotonic()
        handle = await driver.start_call("cf-crmpg-entry", "100", caller_id=VIP, hold=10)
        waiting = await driver.wait_for_callers(queue_name("crmpg", "sales"), 1, timeout=3)
        elapsed = time.monotonic() - started
        assert len(waiting) == 1, f"caller not in the queue after {elapsed:.2f}s"
        lookup = await driver.getvar(waiting[0].channel, "CF_LOOKUP")
        await handle.hangup()
        assert (await handle.wait_end()).dest == "queue:sales"
        return waiting[0].priority, lookup, elapsed

    try:
        async with FastAgiServer({"lookup": route}, port=0, budget=1.0) as server:
            assert load(sandbox, crm_site("crmpg", f"agi://127.0.0.1:{server.port}")) == []
            assert (await vip_call())[:2] == (10, "ok")  # PostgreSQL up: the VIP is known
            postgres.halt()
            priority, lookup, elapsed = await vip_call()
            assert (priority, lookup) == (0, "failed")
            assert elapsed < 2.0
            assert "OperationalError" in caplog.text  # the cause, logged
            assert "caller continues at default priority" in caplog.text
            postgres.resume()
            # back: the finder drops the pool's dead connection and retries on a new one
            assert (await vip_call())[:2] == (10, "ok")
            assert (route.answered, route.fallbacks) == (2, 1)
    finally:
        route.close()
        engine.dispose()


@pytest.mark.parametrize("backend", ["fastagi", "classic"])
@pytest.mark.parametrize("caller", ["500&PJSIP/x", "1234)", HOSTILE])
async def test_hostile_crm_data_and_caller_ids_stay_data(
    sandbox, driver, crm, classic_agi, caller, backend
):
    name = f"crmh{backend[:4]}"
    url = crm["url"] if backend == "fastagi" else classic_agi[0]
    site = crm_site(name, url)
    assert load(sandbox, site) == []
    handle = await driver.start_call(f"cf-{name}-entry", "100", caller_id=caller, hold=10)
    waiting = await driver.wait_for_callers(queue_name(name, "sales"), 1, timeout=3)
    assert len(waiting) == 1
    channel = waiting[0].channel
    if caller == HOSTILE:
        flat = " ".join(HOSTILE_NAME.split())[:NAME_LIMIT]  # one line, screen-sized
        assert await driver.getvar(channel, "CF_CUSTOMER_NAME") == flat
        assert await driver.getvar(channel, "CALLERID(name)") == flat
        assert waiting[0].priority == 10
    else:
        assert waiting[0].priority == 0
        assert await driver.getvar(channel, "CF_LOOKUP") == "ok"  # looked up: unknown
    await handle.hangup()
    assert (await handle.wait_end()).dest == "queue:sales"
    assert not MARKER.exists()
    rows = await records_for(crm, handle.caller_uniqueid)
    assert len(rows) == 1
    assert crm["server"].served == (1 if backend == "fastagi" else 0)


async def test_agi_quoting_round_trips_through_asterisk(sandbox, driver):
    """Hypothesis drives SET VARIABLE/GET VARIABLE on one live FastAGI conversation."""
    requests: asyncio.Queue = asyncio.Queue()

    async def echo(request, agi):
        while (item := await requests.get()) is not None:
            value, future = item
            try:
                await agi.set_variable("CF_ECHO", value)
                future.set_result(await agi.get_variable("CF_ECHO"))
            except Exception as exc:
                future.set_exception(exc)

    loop = asyncio.get_running_loop()

    async def round_trip(value: str) -> str | None:
        future = loop.create_future()
        await requests.put((value, future))
        return await future

    async with FastAgiServer({"echo": echo}, port=0, budget=120) as server:
        site = crm_site("crmecho", f"agi://127.0.0.1:{server.port}", script="echo")
        assert load(sandbox, site) == []
        handle = await driver.start_call("cf-crmecho-entry", "100", caller_id=UNKNOWN, hold=90)

        @settings(
            max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(st.text(st.characters(exclude_categories=("Cs",)), max_size=200))
        def prop(value: str) -> None:
            got = asyncio.run_coroutine_threadsafe(round_trip(value), loop).result(10)
            assert (got or "") == re.sub(r"[\x00-\x1f\x7f]", " ", value)

        try:
            await asyncio.to_thread(prop)
        finally:
            await requests.put(None)
            await handle.hangup()
            await handle.wait_end()


def agi_python(sandbox) -> tuple[str, str]:
    """(interpreter, PYTHONPATH) the sandbox's Asterisk can run callflow with: this
    Python, or, when its user cannot enter where this one lives (a pyenv under /root),
    the system's python3 of the same version with this environment's packages."""
    if (
        sandbox.run_as is None
        or unreachable(Path(sys.executable).resolve(), sandbox.run_as) is None
    ):
        return sys.executable, ""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")
    paths = [str(Path(callflow.__file__).parent.parent), *getsitepackages()]
    blocked = [p for p in [system or "/usr/bin", *paths] if unreachable(Path(p), sandbox.run_as)]
    if system is None or blocked:
        pytest.fail(
            f"the sandbox's Asterisk runs as {sandbox.run_as.user} and cannot run callflow "
            f"for a classic AGI script: no {version} it may run, or {blocked} closed to it"
        )
    return system, ":".join(paths)


@pytest.fixture
def classic_agi(tmp_path, crm_url, sandbox):
    """A callflow-agi wrapper (as a site would install it) and the url that calls it; in
    the sandbox's share dir, where the Asterisk user may run it."""
    log = sandbox.share_dir / f"agi-{tmp_path.name}.log"
    script = sandbox.share_dir / f"callflow-agi-{tmp_path.name}"
    python, pythonpath = agi_python(sandbox)
    extra = f"PYTHONPATH='{pythonpath}' " if pythonpath else ""
    script.write_text(
        "#!/bin/sh\n"
        f"CALLFLOW_DB='{crm_url}' CALLFLOW_AGI_LOG='{log}' {extra}"
        f"exec '{python}' -m callflow.agi_script \"$@\"\n"
    )
    script.chmod(0o750)
    yield f"agi:{script}", log
    script.unlink(missing_ok=True)
    log.unlink(missing_ok=True)


async def test_classic_agi_script_answers_like_the_server(sandbox, driver, crm, classic_agi):
    url, _log = classic_agi
    site = crm_site("crmclassic", url)
    assert load(sandbox, site) == []
    handles = []
    for caller in (UNKNOWN, GOLD, VIP_NO_MANAGER):
        handles.append(
            await driver.start_call("cf-crmclassic-entry", "100", caller_id=caller, hold=15)
        )
        await asyncio.sleep(1.0)
    waiting = await driver.wait_for_callers(queue_name("crmclassic", "sales"), 3, timeout=6)
    assert [w.caller_id for w in waiting] == [VIP_NO_MANAGER, GOLD, UNKNOWN]
    assert [w.priority for w in waiting] == [10, 5, 0]
    assert await driver.getvar(waiting[0].channel, "CALLERID(name)") == "Zhou Xun"
    for h in handles:
        await h.hangup()
        await h.wait_end()
    assert crm["server"].served == 0  # the script answered, not the server


@pytest.fixture
def stopped_server(crm_url):
    """``callflow serve`` in its own process, then SIGSTOPped: it accepts connections (the
    kernel completes them) and never answers, like a hung CRM server."""
    port = free_port()
    proc = subprocess.Popen(
        [Path(sys.executable).with_name("callflow"), "serve", "--db", crm_url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGSTOP)
        yield f"agi://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


async def test_a_hung_lookup_server_queues_20_callers_at_default_priority_within_3s(
    sandbox, driver, crm, stopped_server
):
    site = crm_site("crmhung", stopped_server)
    assert load(sandbox, site) == []
    started = time.monotonic()
    handles = [
        await driver.start_call("cf-crmhung-entry", "100", caller_id=VIP, prewait=0.2, hold=8)
        for _ in range(20)
    ]
    waiting = await driver.wait_for_callers(queue_name("crmhung", "sales"), 20, timeout=3.0)
    elapsed = time.monotonic() - started
    assert len(waiting) == 20, f"{len(waiting)} of 20 callers in the queue after {elapsed:.2f}s"
    assert elapsed <= 3.0
    assert {w.priority for w in waiting} == {0}  # VIPs, but the CRM never answered
    assert await driver.getvar(waiting[0].channel, "CF_LOOKUP") == "failed"
    for handle in handles:
        await handle.hangup()
    results = [await h.wait_end() for h in handles]
    assert {r.dest for r in results} == {"queue:sales"}
    rows = await records_for(crm, handles[-1].caller_uniqueid)
    assert len(rows) == 1 and rows[0].priority == 0


async def test_a_caller_who_hangs_up_during_a_hung_lookup_leaves_a_record(
    sandbox, driver, crm, stopped_server
):
    site = crm_site("crmhungup", stopped_server)
    assert load(sandbox, site) == []
    started = time.monotonic()
    # the caller answers, waits 0.5 s, holds 0.3 s and hangs up, inside the lookup's 2 s
    handle = await driver.start_call(
        "cf-crmhungup-entry", "100", caller_id=VIP, prewait=0.5, hold=0.3
    )
    result = await handle.wait_end(timeout=10)
    elapsed = time.monotonic() - started
    # AGI() returned on the hang-up itself (AGIEXITONHANGUP), not at the lookup's bound
    assert elapsed < 1.8, f"call ended after {elapsed:.2f}s"
    assert result.trace == ["who"] and result.dest == "", result.event
    rows = await records_for(crm, handle.caller_uniqueid)
    assert len(rows) == 1 and rows[0].tier is None


#: a context that copies hostile text (base64 in CF_HB64) into one channel field
#: (CF_HFIELD) before entering a site: res_agi writes such fields raw into the AGI
#: environment, so a line break in them adds lines of the caller's choosing
HOSTILE_CONTEXT = "cf-test-hostile"


def forged_env(number: str) -> str:
    """A complete AGI environment tail naming ``number``, ended by a blank line."""
    lines = [
        "agi_callingpres: 0", "agi_callingani2: 0", "agi_callington: 0", "agi_callingtns: 0",
        "agi_dnid: 100", "agi_rdnis: unknown", "agi_context: x", "agi_extension: s",
        "agi_priority: 1", "agi_enhanced: 0.0", "agi_accountcode: ", "agi_threadid: 1",
        "agi_arg_1: x", f"agi_arg_2: {number}",
    ]  # fmt: skip
    return "x\n" + "\n".join(lines) + "\n\n"


async def add_hostile_context(driver) -> None:
    """Add HOSTILE_CONTEXT to the running dialplan (a reload, as a deploy does, drops it)."""
    for step in (
        "s,1,Set(${CF_HFIELD}=${BASE64_DECODE(${CF_HB64})})",
        "s,2,Goto(${CF_HTARGET},100,1)",
    ):
        await driver.command(f"dialplan add extension {step} into {HOSTILE_CONTEXT} replace")
    shown = await driver.command(f"dialplan show {HOSTILE_CONTEXT}")
    assert "BASE64_DECODE" in shown and "CF_HTARGET" in shown, shown


#: every channel text res_agi writes into the environment; the classic script reads the
#: same environment, so the caller's name proves it there
HOSTILE_CASES = [
    *(
        ("fastagi", payload, field)
        for field in ("CALLERID(name)", "CALLERID(num)", "CALLERID(dnid)", "CALLERID(rdnis)",
                      "CHANNEL(accountcode)")
        for payload in ("repeat", "forge")
    ),
    ("classic", "repeat", "CALLERID(name)"),
    ("classic", "forge", "CALLERID(name)"),
]  # fmt: skip


@pytest.mark.parametrize(("backend", "payload", "field"), HOSTILE_CASES)
async def test_a_line_break_in_channel_text_cannot_borrow_a_vips_identity(
    sandbox, driver, crm, classic_agi, backend, payload, field
):
    name = f"crmx{backend[:4]}"
    url = crm["url"] if backend == "fastagi" else classic_agi[0]
    assert load(sandbox, crm_site(name, url)) == []
    await add_hostile_context(driver)
    text = f"x\nagi_callerid: {VIP}" if payload == "repeat" else forged_env(VIP)
    if field == "CALLERID(num)":
        text = UNKNOWN + text
    served = crm["server"].served
    handle = await driver.start_call(
        HOSTILE_CONTEXT,
        "s",
        caller_id=UNKNOWN,
        hold=10,
        variables={
            "CF_HFIELD": field,
            "CF_HB64": base64.b64encode(text.encode()).decode(),
            "CF_HTARGET": f"cf-{name}-entry",
        },
    )
    waiting = await driver.wait_for_callers(queue_name(name, "sales"), 1, timeout=4)
    assert len(waiting) == 1
    channel = waiting[0].channel
    got = await driver.getvar(channel, field)
    assert got is not None and "\n" in got  # the hostile text did reach the channel
    assert waiting[0].priority == 0  # not the VIP's 10
    assert await driver.getvar(channel, "CF_TIER") is None
    assert await driver.getvar(channel, "CF_CUSTOMER_ID") is None
    await handle.hangup()
    assert (await handle.wait_end()).dest == "queue:sales"
    if backend == "fastagi" and payload == "repeat":
        assert crm["server"].served == served  # refused before any answer
