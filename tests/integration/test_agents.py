"""AgentPool against a real Asterisk: a compiled queue with three Local-channel members
(``Local/<name>@cf-test-agent/n``, which answer, talk and hang up). Every claim is checked
against app_queue itself: who answered (AgentConnect, seen by the test driver's own AMI
session), the pause read back with QueueStatus, and a fresh AMI session's snapshot. The
preview offer's UserEvent is received by a second AMI client, hostile name included."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

import pytest

from callflow import Hangup, Queue, Site, Staff
from callflow.contract import OFFER_EVENT, RESERVE_REASON_PREFIX, entry_context, queue_name
from callflow.dialer.agents import DEVICE_INUSE, AgentPool
from callflow.outbound.preview import Offer, offer_event
from callflow.runtime.ami import AmiAddress, AmiConnection, AmiMessage

from .sites import load

pytestmark = pytest.mark.asterisk

AGENTS = ("ann", "bob", "cat")


def agents_site(name: str) -> Site:
    """Entry 100 -> the 'sales' queue, whose members are three answering test agents."""
    return Site(
        name=name,
        entries={"100": "sales"},
        staff=[
            Staff(a, name=a.title(), device=f"Local/{a}@cf-test-agent/n", groups=("sales",))
            for a in AGENTS
        ],
        nodes=[
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ],
    )


def ami_for(sandbox, events: str = "agent") -> AmiConnection:
    address = AmiAddress(sandbox.ami_host, sandbox.ami_port)
    return AmiConnection(address, sandbox.ami_user, sandbox.ami_secret, events=events)


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def member_rows(driver, queue: str) -> dict[str, AmiMessage]:
    """app_queue's own QueueStatus, by staff id."""
    rows = await driver.action({"Action": "QueueStatus", "Queue": queue})
    out = {}
    for row in rows:
        if row.get("Event") == "QueueMember" and row.get("Queue") == queue:
            location = str(row.get("Location"))
            out[location.split("@")[0].removeprefix("Local/")] = row
    return out


def snapshot(pool: AgentPool) -> dict[str, tuple]:
    return {
        s: (st.status, st.paused, st.in_call, st.reserved_for, st.member, st.free)
        for s, st in pool.states().items()
    }


async def test_agent_pool_follows_app_queue(sandbox, driver):
    site = agents_site("agentpool")
    assert load(sandbox, site) == []
    queue = queue_name(site.name, "sales")
    members = {s.id: s.device for s in site.staff}
    ami = ami_for(sandbox)
    await ami.connect(timeout=5)
    try:
        pool = AgentPool(ami, queue, members)
        await pool.start()
        assert pool.free() == ["ann", "bob", "cat"]  # never called: all idle since 0

        # a call answered by X makes X not free until it ends
        handle = await driver.start_call(entry_context(site.name), "100", hold=30,
                                         agent_talk=3)  # fmt: skip
        await until(lambda: handle.answer is not None, "an agent answered")
        answer = handle.answer
        assert answer is not None
        busy = answer.interface.split("@")[0].removeprefix("Local/")
        await until(lambda: busy not in pool.free(), f"{busy} not free while talking")
        # both signals: app_queue's AgentConnect and the member's device state
        await until(lambda: pool.state(busy).in_call and pool.state(busy).status == DEVICE_INUSE,
                    f"{busy} in a queue call and in use")  # fmt: skip
        assert sorted(pool.free()) == sorted(set(AGENTS) - {busy})
        await handle.wait_end(timeout=30)
        await until(lambda: busy in pool.free(), f"{busy} free again after the call")
        assert pool.state(busy).last_call > 0 and pool.free()[-1] == busy  # idle the least

        # reserve two: app_queue pauses them (read back) and the next call goes to the third
        held = [next(a for a in AGENTS if a != busy), busy]
        other = next(a for a in AGENTS if a not in held)
        for n, staff in enumerate(held):
            assert await pool.reserve(staff, f"att{n}")
        rows = await member_rows(driver, queue)
        for n, staff in enumerate(held):
            assert rows[staff]["Paused"] == "1"
            assert rows[staff]["PausedReason"] == f"{RESERVE_REASON_PREFIX}att{n}"
            assert pool.state(staff).reserved_for == f"att{n}"
        assert rows[other]["Paused"] == "0" and pool.free() == [other]
        assert not await pool.reserve(held[0], "again")  # already held

        # a fresh AMI session's snapshot sees the same (the reservation lives in Asterisk)
        fresh_ami = ami_for(sandbox)
        await fresh_ami.connect(timeout=5)
        try:
            fresh = AgentPool(fresh_ami, queue, members)
            await fresh.start()
            assert snapshot(fresh) == snapshot(pool)
            assert fresh.state(held[1]).reserved_for == "att1"
        finally:
            fresh_ami.close()

        second = await driver.start_call(entry_context(site.name), "100", hold=30,
                                         agent_talk=1)  # fmt: skip
        result = await second.wait_end(timeout=30)
        assert result.agent == other, f"a reserved agent took the call: {result.agent}"

        # release: unpaused in app_queue, free again
        for staff in held:
            await pool.release(staff)
        rows = await member_rows(driver, queue)
        assert [rows[s]["Paused"] for s in held] == ["0", "0"]
        await until(lambda: sorted(pool.free()) == list(AGENTS), "everyone free at the end")

        # resync on the same pool after the fact gives what a brand-new pool reads
        await pool.resync()
        again_ami = ami_for(sandbox)
        await again_ami.connect(timeout=5)
        try:
            again = AgentPool(again_ami, queue, members)
            await again.start()
            assert snapshot(again) == snapshot(pool)
        finally:
            again_ami.close()
    finally:
        ami.close()


HOSTILE = 'Li "Lei"\r\n\r\nAction: Originate\r\nChannel: Local/1@cf-test-agent\n王'


async def test_the_offer_event_reaches_a_second_ami_client(sandbox):
    sender = ami_for(sandbox, events="off")
    listener = ami_for(sandbox, events="user")
    received: list[AmiMessage] = []
    listener.on("UserEvent", received.append)
    await sender.connect(timeout=5)
    await listener.connect(timeout=5)
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        made = Offer(attempt_id="5f0c" * 8, site="agentpool", campaign="recall", agent="ann",
                     number="+8613800138000", name=HOSTILE, customer_id=7, attempt_no=1,
                     offered_at=now)  # fmt: skip
        action = offer_event(made, expires=now + dt.timedelta(seconds=60))
        [reply] = await sender.send_action(action, as_list=False)
        assert reply.success, reply
        await until(lambda: any(e.get("UserEvent") == OFFER_EVENT for e in received),
                    "the offer event arrived")  # fmt: skip
        [event] = [e for e in received if e.get("UserEvent") == OFFER_EVENT]
        assert event["Attempt"] == made.attempt_id and event["Agent"] == "ann"
        assert event["Campaign"] == "recall" and event["Number"] == "+8613800138000"
        assert event["Name"] == 'Li "Lei" Action: Originate Channel: Local/1@cf-test-agent 王'
        assert event["Expires"] == (now + dt.timedelta(seconds=60)).isoformat()
        # nothing the name carried became a header or an action of its own
        assert event.lines("Action") == [] and event.lines("Channel") == []
    finally:
        sender.close()
        listener.close()
