"""AgentPool over a fake AMI that answers QueueStatus/QueuePause the way app_queue does
and replays member events shaped like Asterisk 22's (tests/integration/test_agents.py
proves the same against a real Asterisk)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from callflow.dialer.agents import (
    DEVICE_INUSE,
    DEVICE_NOT_INUSE,
    DEVICE_RINGING,
    DEVICE_UNAVAILABLE,
    AgentError,
    AgentPool,
)
from callflow.runtime.ami import AmiMessage

QUEUE = "acme-campaign-recall"
MEMBERS = {"ann": "Local/ann@cf-test-agent/n", "bob": "PJSIP/1002", "cat": "PJSIP/1003"}


def member(staff: str, **fields: Any) -> dict[str, str]:
    """A QueueMember entry / member event's fields for ``staff`` (not in use, unpaused)."""
    base = {
        "Queue": QUEUE,
        "MemberName": staff.title(),
        "Interface": MEMBERS[staff],
        "StateInterface": MEMBERS[staff],
        "Membership": "static",
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "1764640000",
        "InCall": "0",
        "Status": str(DEVICE_NOT_INUSE),
        "Paused": "0",
        "PausedReason": "",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    base.update({k: str(v) for k, v in fields.items()})
    return base


class FakeAmi:
    """app_queue's members of QUEUE: QueueStatus lists them (``Location`` as in a
    QueueStatus reply), QueuePause changes them and emits QueueMemberPause unless
    ``silent`` (an event lost on the way)."""

    def __init__(self, members: dict[str, dict[str, str]]) -> None:
        self.members = members
        self.handlers: dict[str, list[Any]] = {}
        self.actions: list[dict[str, str]] = []
        self.silent = False
        self.refuse = False

    def on(self, event: str, handler: Any) -> None:
        self.handlers.setdefault(event, []).append(handler)

    def emit(self, name: str, fields: Mapping[str, str]) -> None:
        for handler in self.handlers.get(name, []):
            handler(AmiMessage({"Event": name, **fields}))

    async def send_action(self, action: Mapping[str, Any], *, timeout: Any = 10.0,
                          as_list: Any = None) -> list[AmiMessage]:  # fmt: skip
        self.actions.append(dict(action))
        await asyncio.sleep(0)
        if action["Action"] == "QueueStatus":
            entries = []
            for fields in self.members.values():
                entry = {k: v for k, v in fields.items() if k not in ("Interface", "MemberName")}
                entry.update(Location=fields["Interface"], Name=fields["MemberName"])
                entries.append(AmiMessage({"Event": "QueueMember", **entry}))
            return [AmiMessage({"Response": "Success"}), *entries,
                    AmiMessage({"Event": "QueueStatusComplete"})]  # fmt: skip
        if action["Action"] == "QueuePause":
            if self.refuse:
                return [AmiMessage({"Response": "Error", "Message": "Interface not found"})]
            staff = next(s for s, i in MEMBERS.items() if i == action["Interface"])
            paused = action["Paused"] == "true"
            fields = self.members[staff]
            fields.update(Paused="1" if paused else "0",
                          PausedReason=action.get("Reason", "") if paused else "")  # fmt: skip
            if not self.silent:
                asyncio.get_running_loop().call_soon(self.emit, "QueueMemberPause", dict(fields))
            return [AmiMessage({"Response": "Success", "Message": "Interface paused"})]
        raise AssertionError(f"unexpected action {action}")

    def change(self, staff: str, event: str = "QueueMemberStatus", **fields: Any) -> None:
        self.members[staff].update({k: str(v) for k, v in fields.items()})
        self.emit(event, self.members[staff])


async def started(**overrides: dict[str, Any]) -> tuple[FakeAmi, AgentPool]:
    ami = FakeAmi({s: member(s, **overrides.get(s, {})) for s in MEMBERS})
    pool = AgentPool(ami, QUEUE, MEMBERS)
    await pool.start()
    return ami, pool


async def test_snapshot_orders_free_agents_longest_idle_first():
    _, pool = await started(ann={"LastCall": 300}, bob={"LastCall": 100}, cat={"LastCall": 200})
    assert pool.free() == ["bob", "cat", "ann"]
    assert pool.state("ann").last_call == 300.0 and pool.state("ann").free


async def test_an_agent_in_use_or_ringing_or_unavailable_is_not_free_until_idle_again():
    ami, pool = await started()
    pool.changed.clear()
    ami.change("ann", Status=DEVICE_INUSE)
    assert pool.changed.is_set()
    assert "ann" not in pool.free() and pool.state("ann").status == DEVICE_INUSE
    ami.change("bob", Status=DEVICE_RINGING)
    ami.change("cat", Status=DEVICE_UNAVAILABLE)
    assert pool.free() == []
    ami.change("ann", Status=DEVICE_NOT_INUSE)
    assert pool.free() == ["ann"]


async def test_a_queue_call_makes_the_agent_busy_until_agent_complete():
    ami, pool = await started()
    fields = dict(ami.members["bob"], Channel="Local/bob@cf-test-agent-00000001;1")
    ami.emit("AgentConnect", fields)
    assert pool.state("bob").in_call and "bob" not in pool.free()
    ami.emit("AgentComplete", fields)
    state = pool.state("bob")
    assert not state.in_call and state.free and state.last_call > 0
    assert pool.free()[-1] == "bob"  # just finished: idle the shortest


async def test_a_paused_agent_is_not_free_and_is_not_reserved():
    ami, pool = await started()
    ami.change("cat", "QueueMemberPause", Paused=1, PausedReason="lunch")
    state = pool.state("cat")
    assert state.paused and not state.free and state.reserved_for is None
    assert state.reason == "lunch"
    assert not await pool.reserve("cat", "a1")  # not free: not touched
    assert not any(a["Action"] == "QueuePause" for a in ami.actions)
    await pool.release("cat")  # not ours: stays paused
    assert pool.state("cat").paused and not any(a["Action"] == "QueuePause" for a in ami.actions)


async def test_reserve_pauses_with_the_attempt_as_reason_and_release_unpauses():
    ami, pool = await started()
    assert await pool.reserve("ann", "att1")
    pause = [a for a in ami.actions if a["Action"] == "QueuePause"][-1]
    assert pause == {"Action": "QueuePause", "Queue": QUEUE, "Interface": MEMBERS["ann"],
                     "Paused": "true", "Reason": "callflow:att1"}  # fmt: skip
    state = pool.state("ann")
    assert state.reserved_for == "att1" and state.paused and not state.free
    assert pool.free() == ["bob", "cat"]
    assert not await pool.reserve("ann", "att2")  # already held
    await pool.release("ann")
    assert pool.state("ann").free and pool.state("ann").reserved_for is None
    assert [a["Paused"] for a in ami.actions if a["Action"] == "QueuePause"] == ["true", "false"]


async def test_reserve_reads_back_when_the_event_is_lost_and_fails_when_refused():
    ami, pool = await started()
    pool.confirm_timeout = 0.05
    ami.silent = True
    assert await pool.reserve("bob", "att9")  # confirmed by the QueueStatus read-back
    assert pool.state("bob").reserved_for == "att9"
    assert ami.actions[-1]["Action"] == "QueueStatus"
    ami.refuse = True
    assert not await pool.reserve("cat", "att10")
    assert pool.state("cat").free


async def test_resync_replaces_stale_state():
    ami, pool = await started()
    # events lost while AMI was away: ann went in use and paused, bob left the queue
    ami.members["ann"].update(Status=str(DEVICE_INUSE), Paused="1",
                              PausedReason="callflow:old")  # fmt: skip
    del ami.members["bob"]
    assert set(pool.free()) == {"ann", "bob", "cat"}  # stale
    pool.changed.clear()
    await pool.resync()
    assert pool.changed.is_set()
    assert pool.free() == ["cat"]
    assert pool.state("ann").reserved_for == "old"  # a reservation lives in Asterisk
    assert not pool.state("bob").member and not pool.state("bob").free


async def test_events_during_a_resync_are_applied_after_the_snapshot():
    ami, pool = await started()
    real = ami.send_action

    async def slow(action, **kw):
        reply = await real(action, **kw)  # the snapshot says ann is free...
        ami.change("ann", Status=DEVICE_INUSE)  # ...then she answers a call
        return reply

    ami.send_action = slow  # type: ignore[method-assign]
    await pool.resync()
    assert pool.state("ann").status == DEVICE_INUSE and "ann" not in pool.free()


async def test_members_added_and_removed_and_other_queues_ignored():
    ami, pool = await started()
    ami.emit("QueueMemberRemoved", ami.members["cat"])
    assert not pool.state("cat").member and "cat" not in pool.free()
    ami.emit("QueueMemberAdded", ami.members["cat"])
    assert pool.state("cat").free
    ami.emit("QueueMemberStatus", dict(ami.members["ann"], Queue="other", Status="2"))
    assert pool.state("ann").free


async def test_wrapup_keeps_a_just_finished_agent_out():
    ami = FakeAmi({s: member(s) for s in MEMBERS})
    pool = AgentPool(ami, QUEUE, MEMBERS, wrapup=30)
    await pool.start()
    ami.emit("AgentConnect", ami.members["ann"])
    ami.emit("AgentComplete", ami.members["ann"])
    assert pool.free() == ["bob", "cat"]


async def test_unknown_staff_is_one_clear_error():
    _, pool = await started()
    with pytest.raises(AgentError, match=r"'zed' is not an agent of queue acme-campaign-recall"):
        pool.state("zed")


async def test_the_pool_offers_nobody_while_ami_is_away_and_resyncs_when_back():
    ami = FakeAmi({s: member(s) for s in MEMBERS})
    pool = AgentPool(ami, QUEUE, MEMBERS)
    assert pool.stale and pool.free() == []  # nothing read yet
    connected = asyncio.Event()
    task = asyncio.create_task(pool.keep_synced(connected, poll=0.01))
    try:
        connected.set()
        for _ in range(100):
            if not pool.stale:
                break
            await asyncio.sleep(0.01)
        assert pool.free() == ["ann", "bob", "cat"]
        connected.clear()  # AMI lost: ann's call starts while nobody listens
        ami.members["ann"]["Status"] = str(DEVICE_INUSE)
        for _ in range(100):
            if pool.stale:
                break
            await asyncio.sleep(0.01)
        assert pool.free() == []
        statuses = sum(a["Action"] == "QueueStatus" for a in ami.actions)
        connected.set()
        for _ in range(100):
            if not pool.stale:
                break
            await asyncio.sleep(0.01)
        assert sum(a["Action"] == "QueueStatus" for a in ami.actions) == statuses + 1
        assert pool.free() == ["bob", "cat"]
    finally:
        task.cancel()


async def test_two_reservations_of_one_agent_at_once_give_one_true():
    ami, pool = await started()
    results = await asyncio.gather(pool.reserve("ann", "a1"), pool.reserve("ann", "a2"))
    assert sorted(results) == [False, True]
    assert pool.state("ann").reserved_for == "a1"
    assert sum(a["Action"] == "QueuePause" for a in ami.actions) == 1
