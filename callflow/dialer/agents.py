"""Which agents of a campaign queue are free, from Asterisk's own view of them.

app_queue knows each member's device state, pause and whether a queue call is bridged to
it; :class:`AgentPool` mirrors that for one queue: a ``QueueStatus`` snapshot, then the
member events (``QueueMemberStatus``, ``QueueMemberPause``, ``QueueMemberAdded``,
``QueueMemberRemoved``, ``AgentConnect``, ``AgentComplete``). Asterisk does not buffer
events for a client that was away, so after an AMI gap :meth:`AgentPool.resync` reads the
snapshot again::

    pool = AgentPool(ami, campaign_queue("acme", "recall"), {"ann": "PJSIP/1001"})
    await pool.start()
    for staff in pool.free():              # longest idle first
        if await pool.reserve(staff, attempt_id):   # paused "callflow:<attempt>"
            ...dial for them...
            await pool.release(staff)

A reservation is a pause in the queue with the reason ``callflow:<attempt id>``: it lives
in Asterisk, so another dialer, ``queue show`` and a resync all see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from callflow.contract import RESERVE_REASON_PREFIX
from callflow.runtime.ami import AmiActions, AmiError, AmiMessage

log = logging.getLogger("callflow.dialer.agents")

# app_queue's member Status: Asterisk's device states (enum ast_device_state)
DEVICE_UNKNOWN: Final = 0
DEVICE_NOT_INUSE: Final = 1
DEVICE_INUSE: Final = 2
DEVICE_BUSY: Final = 3
DEVICE_INVALID: Final = 4
DEVICE_UNAVAILABLE: Final = 5
DEVICE_RINGING: Final = 6
DEVICE_RINGINUSE: Final = 7
DEVICE_ONHOLD: Final = 8
#: the states app_queue itself offers a call in (it treats "unknown" as available)
AVAILABLE: Final = frozenset({DEVICE_UNKNOWN, DEVICE_NOT_INUSE})
#: the pause reason of a reservation: ``callflow:<attempt id>``
RESERVE_PREFIX: Final = RESERVE_REASON_PREFIX
#: the member events the pool follows
EVENTS: Final = (
    "QueueMemberStatus",
    "QueueMemberPause",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "AgentConnect",
    "AgentComplete",
)


class AgentError(RuntimeError):
    """The pool was asked about a staff id it does not follow, or AMI refused an action."""


@dataclass(frozen=True)
class AgentState:
    """One member of the queue as app_queue last reported it.

    ``status`` is the member's device state (``DEVICE_*``), ``in_call`` app_queue's
    "InCall" (a queue call is bridged to them), ``reserved_for`` the attempt id of a
    callflow reservation (a pause with reason ``callflow:<id>``), ``last_call`` the epoch
    seconds of the end of their last queue call (0: none yet). A staff id that is not a
    member of the queue reads as ``member=False`` with status ``DEVICE_INVALID``.
    """

    staff: str
    interface: str
    status: int
    paused: bool
    in_call: bool
    reserved_for: str | None
    last_call: float
    reason: str = ""
    member: bool = True

    @property
    def free(self) -> bool:
        """Can take a call now: a member, device not in use, ringing, unavailable or
        invalid, not paused (nor reserved), not in a queue call."""
        return (
            self.member
            and self.status in AVAILABLE
            and not self.paused
            and not self.in_call
            and self.reserved_for is None
        )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _number(value: str | None, default: float = 0) -> float:
    try:
        return float(value or default)
    except ValueError:
        return default


def _reserved(paused: bool, reason: str) -> str | None:
    if paused and reason.startswith(RESERVE_PREFIX):
        return reason[len(RESERVE_PREFIX) :] or None
    return None


class AgentPool:
    """The members of ``queue`` named in ``members`` (staff id -> interface, as the
    compiled queue lists them), kept up to date from AMI (see the module doc)."""

    #: seconds reserve/release wait for Asterisk's confirmation before reading it back
    confirm_timeout = 2.0

    def __init__(
        self, ami: AmiActions, queue: str, members: Mapping[str, str], *, wrapup: float = 0.0
    ) -> None:
        """``wrapup``: the queue's wrap-up seconds; a member whose last queue call ended
        less than that ago is not offered (app_queue would not ring them either)."""
        self.ami = ami
        self.queue = queue
        self.members = dict(members)
        self.wrapup = wrapup
        self._by_interface = {iface.lower(): staff for staff, iface in self.members.items()}
        self._states: dict[str, AgentState] = {s: self._absent(s) for s in self.members}
        #: set on every state change (the dialer waits on it, then clears it)
        self.changed = asyncio.Event()
        self._tick = asyncio.Event()  # the same, for reserve/release's own waits
        self._buffer: list[AmiMessage] | None = None  # events seen during a resync
        #: True until the first snapshot, and while AMI is away (:meth:`keep_synced`)
        self.stale = True
        self._subscribed = False
        self._resyncing = asyncio.Lock()
        self._claiming: set[str] = set()  # reserve() under way, not yet confirmed

    # ---- reading ----------------------------------------------------------------------------
    def state(self, staff: str) -> AgentState:
        """What Asterisk last said about ``staff``; ``AgentError`` for an unknown id."""
        try:
            return self._states[staff]
        except KeyError:
            known = ", ".join(sorted(self.members)) or "none"
            raise AgentError(f"{staff!r} is not an agent of queue {self.queue} ({known})") from None

    def free(self) -> list[str]:
        """The free staff ids, longest idle first (then by staff id); none while the pool
        is :attr:`stale` (a dialer must not dial for agents it cannot see)."""
        if self.stale:
            return []
        now = time.time()
        ready = [
            s
            for s in self._states.values()
            if s.free and (not self.wrapup or now - s.last_call >= self.wrapup)
        ]
        return [s.staff for s in sorted(ready, key=lambda s: (s.last_call, s.staff))]

    def states(self) -> dict[str, AgentState]:
        """Every followed agent's state, by staff id."""
        return dict(self._states)

    # ---- following Asterisk -----------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe to the member events, then read the QueueStatus snapshot."""
        if not self._subscribed:
            for name in EVENTS:
                self.ami.on(name, self._on_event)
            self._subscribed = True
        await self.resync()

    async def resync(self) -> None:
        """Replace every state with a fresh QueueStatus snapshot (events that arrive
        meanwhile are applied after it, in order)."""
        async with self._resyncing:
            await self._resync()

    async def _resync(self) -> None:
        self._buffer = []
        try:
            messages = await self.ami.send_action(
                {"Action": "QueueStatus", "Queue": self.queue}, as_list=True
            )
        except BaseException:
            pending, self._buffer = self._buffer, None
            for event in pending:
                self._apply(event)
            raise
        fresh = {s: self._absent(s) for s in self.members}
        for message in messages:
            if message.name == "QueueMember" and message.get("Queue") == self.queue:
                staff = self._staff(message)
                if staff is not None:
                    fresh[staff] = self._parse(staff, message)
        pending, self._buffer = self._buffer, None
        changed = fresh != self._states or self.stale
        self._states = fresh
        self.stale = False
        for event in pending:
            self._apply(event)
        if changed:
            self._notify()

    async def keep_synced(self, connected: asyncio.Event, *, poll: float = 0.5) -> None:
        """Run as a task beside the dialer (cancel it to stop): while ``connected`` (the
        AMI connection's :attr:`~callflow.runtime.ami.AmiConnection.connected`) is clear
        the pool is :attr:`stale` and offers nobody; each time it is set again the pool
        reads a fresh snapshot, since Asterisk kept no events for us meanwhile."""
        while True:
            await connected.wait()
            if self.stale:
                try:
                    await self.resync()
                except (AmiError, TimeoutError, OSError) as exc:
                    log.warning("agents of %s: QueueStatus failed (%s); retrying", self.queue,
                                exc or type(exc).__name__)  # fmt: skip
                    await asyncio.sleep(poll)
                    continue
            while connected.is_set():
                await asyncio.sleep(poll)
            log.warning("agents of %s: AMI lost; nobody is offered until it is back", self.queue)
            self.stale = True
            self._notify()

    def _notify(self) -> None:
        self.changed.set()
        self._tick.set()

    def _absent(self, staff: str) -> AgentState:
        return AgentState(staff, self.members[staff], DEVICE_INVALID, False, False, None, 0.0,
                          member=False)  # fmt: skip

    def _staff(self, message: AmiMessage) -> str | None:
        for key in ("Interface", "Location", "StateInterface"):
            value = message.get(key)
            if value and value.lower() in self._by_interface:
                return self._by_interface[value.lower()]
        return None

    def _parse(self, staff: str, message: AmiMessage) -> AgentState:
        """A QueueMember entry or a member event carrying the whole member."""
        paused = _flag(message.get("Paused"))
        reason = message.get("PausedReason", message.get("Reason", "")) if paused else ""
        return AgentState(
            staff=staff,
            interface=self.members[staff],
            status=int(_number(message.get("Status"), DEVICE_INVALID)),
            paused=paused,
            in_call=_flag(message.get("InCall")),
            reserved_for=_reserved(paused, reason),
            last_call=_number(message.get("LastCall")),
            reason=reason,
        )

    def _on_event(self, event: AmiMessage) -> None:
        if event.get("Queue") != self.queue:
            return
        if self._buffer is not None:
            self._buffer.append(event)
            return
        self._apply(event)

    def _apply(self, event: AmiMessage) -> None:
        staff = self._staff(event)
        if staff is None:
            return
        before = self._states[staff]
        name = event.name
        if name in ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause"):
            after = self._parse(staff, event)
            if name == "QueueMemberPause" and "Status" not in event:
                after = replace(after, status=before.status, in_call=before.in_call,
                                last_call=before.last_call)  # fmt: skip
        elif name == "QueueMemberRemoved":
            after = self._absent(staff)
        elif name == "AgentConnect":
            after = replace(before, in_call=True)
        elif name == "AgentComplete":
            after = replace(before, in_call=False, last_call=max(before.last_call, time.time()))
        else:
            return
        if after != before:
            self._states[staff] = after
            log.debug("agent %s of %s: %s", staff, self.queue, after)
            self._notify()

    # ---- reserving --------------------------------------------------------------------------
    async def reserve(self, staff: str, attempt_id: str) -> bool:
        """Pause a free ``staff`` in the queue with reason ``callflow:<attempt_id>`` so the
        queue gives them no other call; True once Asterisk confirms it (an event, else a
        QueueStatus read-back), False when they were not free or Asterisk said no."""
        state = self.state(staff)
        if not state.free or self.stale or staff in self._claiming:
            return False
        self._claiming.add(staff)
        try:
            if not await self._pause(staff, True, RESERVE_PREFIX + attempt_id):
                return False
            return await self._confirmed(staff, lambda s: s.reserved_for == attempt_id)
        finally:
            self._claiming.discard(staff)

    async def release(self, staff: str) -> None:
        """Unpause ``staff`` if a callflow reservation holds them (a pause of their own, or
        by a supervisor, is left alone); returns once Asterisk confirms it."""
        state = self.state(staff)
        if state.reserved_for is None:
            return
        if await self._pause(staff, False, ""):
            await self._confirmed(staff, lambda s: not s.paused)

    async def _pause(self, staff: str, paused: bool, reason: str) -> bool:
        action = {
            "Action": "QueuePause",
            "Queue": self.queue,
            "Interface": self.members[staff],
            "Paused": "true" if paused else "false",
        }
        if reason:
            action["Reason"] = reason
        [reply, *_] = await self.ami.send_action(action, as_list=False)
        if not reply.success:
            log.warning("QueuePause %s in %s refused: %s", staff, self.queue,
                        reply.get("Message", "no reason given"))  # fmt: skip
            return False
        return True

    async def _confirmed(self, staff: str, done: Callable[[AgentState], bool]) -> bool:
        deadline = time.monotonic() + self.confirm_timeout
        while not done(self._states[staff]):
            left = deadline - time.monotonic()
            if left <= 0:
                await self.resync()  # the events may have been lost: read it back
                return done(self._states[staff])
            self._tick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick.wait(), left)
        return True
