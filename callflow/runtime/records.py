"""Call records from Asterisk's own events: one row per call, keyed by linkedid.

Why AMI events rather than a FastAGI call from the hang-up handler: the figures a record
must agree with are Asterisk's, and Asterisk only hands them out as events: the queue
wait (``HoldTime`` of AgentConnect / QueueCallerAbandon), the talk time (``TalkTime`` of
AgentComplete), the answering member. A hang-up handler cannot read them unless every
queue sets ``setqueueentryvar`` and ``func_cdr`` is loaded, and an AGI call at hang-up
would add a connection to every call's teardown. The compiled hang-up handler's
``CallflowEnd`` user event tells the rest (site, trace, destination, path, priority,
customer). The same AMI connection drives the screen pop.

Events are folded per linkedid; the record is written when ``CallflowEnd`` arrives and
rewritten if AgentComplete comes later (the repository is idempotent on linkedid, so a
call never has two rows). The record's agent is a staff id: the queue member's device is
looked up in ``agents`` (device -> staff id, from the site), then in the store's staff
table; a member known to neither (one added at run time) is recorded by its member name::

    recorder = CallRecorder(make_sessionmaker(engine), agents=agent_ids(site))
    recorder.register(ami)              # an AmiConnection (callflow.runtime.ami)
    ...
    await recorder.flush()              # wait for pending writes (tests, shutdown)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from callflow.contract import END_EVENT, END_FIELDS, parse_answers
from callflow.model.site import Site
from callflow.outbound import dnc
from callflow.runtime.ami import AmiEvents
from callflow.store.call_records import CallRecord
from callflow.store.campaigns import CampaignAttempt
from callflow.store.customers import Customer
from callflow.store.repositories import CallRecordRepository, StaffRepository
from callflow.store.surveys import SurveyResponse

log = logging.getLogger("callflow.records")

#: AMI events the recorder listens to
#: the AMI event classes that carry EVENTS; asking for these only (not "on") keeps
#: Asterisk from streaming every dialplan step and variable set to this process, which
#: at 100 calls/s cost the FastAGI server sharing its event loop tens of milliseconds
AMI_EVENT_CLASSES = "call,agent,user"

EVENTS = (
    "Newchannel",
    "QueueCallerJoin",
    "QueueCallerAbandon",
    "AgentConnect",
    "AgentComplete",
    "DialEnd",
    "UserEvent",
)
#: how long a call's state is kept after its end (late AgentComplete) or without one
KEEP_ENDED = 60.0
KEEP_OPEN = 6 * 3600.0


@dataclass
class CallState:
    """What the events said so far about one call (one linkedid)."""

    linkedid: str
    started_at: datetime
    seen: float  # monotonic, for pruning
    uniqueid: str = ""
    caller: str | None = None
    queue: str | None = None
    wait_seconds: int | None = None
    agent: str | None = None  # the member name, or the manager's staff id
    agent_device: str | None = None  # the answering member's interface
    answered_at: datetime | None = None
    talk_seconds: int | None = None
    ended_at: datetime | None = None
    end: dict[str, str] = field(default_factory=dict)

    @property
    def disposition(self) -> str:
        return "ANSWERED" if self.answered_at is not None else "NO ANSWER"

    def wait(self) -> int:
        """Queue hold time when the call waited in a queue, else time to answer or end."""
        if self.wait_seconds is not None:
            return self.wait_seconds
        until = self.answered_at or self.ended_at or self.started_at
        return max(0, round((until - self.started_at).total_seconds()))

    def talk(self) -> int | None:
        if self.talk_seconds is not None:
            return self.talk_seconds
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0, round((self.ended_at - self.answered_at).total_seconds()))


def agent_ids(site: Site) -> dict[str, str]:
    """Queue member device -> staff id for *site*'s staff (the first id if two people
    share a device), for :class:`CallRecorder`'s ``agents``."""
    found: dict[str, str] = {}
    for person in sorted(site.staff_map.values(), key=lambda p: p.id):
        found.setdefault(person.device, person.id)
    return found


def _get(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if value is None:  # AmiMessage headers match case-insensitively; plain dicts don't
        value = next((v for k, v in event.items() if k.lower() == key.lower()), "")
    return str(value).strip()


def recording_files(value: str) -> str | None:
    """The record's ``recording_file`` from the end event's ``recording`` field (file
    names relative to Asterisk's monitor directory, space-separated): the names, one
    space between them, as many whole names as the column holds; None without any."""
    out = ""
    for name in value.split():
        joined = f"{out} {name}" if out else name
        if len(joined) > RECORDING_FILE_MAX:
            break
        out = joined
    return out or None


#: the size of ``call_records.recording_file``
RECORDING_FILE_MAX = 255


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


class OutboundStore(Protocol):
    """What the writer needs of the outbound store for a campaign call's end event."""

    def callee(self, session: Session, attempt: str) -> str | None:
        """The number attempt ``attempt`` dialled (None: no such attempt)."""
        ...

    def opt_out(self, session: Session, number: str, campaign: str) -> None:
        """Put ``number`` on the do-not-call list: the callee pressed the opt-out digit."""
        ...


class StoreOutbound:
    """:class:`OutboundStore` on callflow's own store: the number is the attempt row's
    (``campaign_attempts``, written by the dialer before it dialled), an opt-out is a
    do-not-call entry with source ``optout`` (:func:`callflow.outbound.dnc.add`), which
    every claim reads again, so no campaign of any site dials the number again."""

    def callee(self, session: Session, attempt: str) -> str | None:
        row = session.get(CampaignAttempt, attempt)
        return None if row is None else row.number

    def opt_out(self, session: Session, number: str, campaign: str) -> None:
        dnc.add(
            session,
            number,
            source="optout",
            campaign=campaign[:64],
            reason="pressed the opt-out digit",
        )


class CallRecorder:
    """Fold AMI events into call records (see the module docstring).

    A campaign call's end event (``campaign`` set) is recorded as ``outbound``, its
    survey answers carry the campaign id, its ``dialled`` number is the one the attempt
    dialled (``outbound.callee``; the channel's own caller id is the campaign's) and
    ``optout=1`` puts that number on the do-not-call list (``outbound.opt_out``), in the
    same transaction as the record. ``outbound`` defaults to :class:`StoreOutbound`."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        repository: CallRecordRepository | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        agents: Mapping[str, str] | None = None,
        outbound: OutboundStore | None = None,
    ) -> None:
        self.sessions = sessions
        self.outbound: OutboundStore = outbound if outbound is not None else StoreOutbound()
        self.repository = repository or CallRecordRepository()
        self.agents = dict(agents or {})
        self.staff = StaffRepository()
        self.now = now
        self.calls: dict[str, CallState] = {}
        self.written = 0
        self.failed = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="cf-records")  # keeps order
        self._pending: set[asyncio.Future[None]] = set()

    def register(self, ami: AmiEvents) -> None:
        """Listen on an :class:`~callflow.runtime.ami.AmiConnection` (before or after it
        connects)."""
        for name in EVENTS:
            ami.on(name, self.on_event)

    async def flush(self) -> None:
        """Wait until every record write scheduled so far is done."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: Mapping[str, Any]) -> None:
        """Fold one AMI event; never raises (a bad event is logged and dropped)."""
        try:
            self._fold(event)
        except Exception:
            log.exception("call records: could not handle AMI event %r", _get(event, "Event"))

    def _fold(self, event: Mapping[str, Any]) -> None:
        kind = _get(event, "Event")
        linkedid = _get(event, "Linkedid")
        if not linkedid:
            return
        now = self.now()
        if kind == "Newchannel":
            self._prune()
            if _get(event, "Uniqueid") == linkedid:  # the call's first channel
                self.calls.setdefault(linkedid, CallState(linkedid, now, time.monotonic()))
            return
        call = self.calls.get(linkedid)
        if call is None:
            call = self.calls[linkedid] = CallState(linkedid, now, time.monotonic())
        call.seen = time.monotonic()
        if kind == "QueueCallerJoin":
            call.queue = _get(event, "Queue")
        elif kind == "QueueCallerAbandon":
            call.queue = _get(event, "Queue")
            call.wait_seconds = _int(_get(event, "HoldTime"))
        elif kind == "AgentConnect":
            call.queue = _get(event, "Queue")
            call.agent_device = _get(event, "Interface") or None
            call.agent = _get(event, "MemberName") or call.agent_device
            call.wait_seconds = _int(_get(event, "HoldTime"))
            call.answered_at = call.answered_at or now
        elif kind == "AgentComplete":
            call.wait_seconds = _int(_get(event, "HoldTime"))
            call.talk_seconds = _int(_get(event, "TalkTime"))
            if call.ended_at is not None:
                self._schedule(call)  # the end came first: rewrite with the talk time
        elif kind == "DialEnd" and _get(event, "DialStatus") == "ANSWER":
            call.answered_at = call.answered_at or now
        elif kind == "UserEvent" and _get(event, "UserEvent") == END_EVENT:
            call.uniqueid = _get(event, "Uniqueid")
            call.caller = _get(event, "CallerIDNum") or None
            call.ended_at = now
            call.end = {k: _get(event, k) for k in END_FIELDS}
            if call.answered_at is not None and call.agent is None:
                call.agent = call.end["manager"] or None  # answered by the account manager
            self._schedule(call)

    def _prune(self) -> None:
        now = time.monotonic()
        for linkedid, call in list(self.calls.items()):
            keep = KEEP_ENDED if call.ended_at is not None else KEEP_OPEN
            if now - call.seen > keep:
                del self.calls[linkedid]

    # -- writing --------------------------------------------------------------------------
    def _schedule(self, call: CallState) -> None:
        snapshot = CallState(**{**call.__dict__, "end": dict(call.end)})
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._writer, self._write, snapshot)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _agent_id(self, session: Session, call: CallState) -> str | None:
        device = call.agent_device
        if device:
            staff_id = self.agents.get(device) or self.staff.id_by_device(session, device)
            if staff_id:
                return staff_id
        return call.agent[:32] if call.agent else None  # the column holds a staff id

    @staticmethod
    def _write_answers(
        session: Session, record: CallRecord, answers: str, campaign: str = ""
    ) -> None:
        """One SurveyResponse per Ask answered on the call (``CF_ANSWERS``), replacing
        those of an earlier write of the same record (a late AgentComplete rewrites it).
        Inbound questions belong to no campaign: ``campaign`` is empty. A call without
        answers costs no query (and an end event without them keeps earlier rows)."""
        found = parse_answers(answers)
        if not found:
            return
        session.flush()  # the record's id
        session.execute(delete(SurveyResponse).where(SurveyResponse.call_record_id == record.id))
        for question, answer in found:
            session.add(
                SurveyResponse(
                    call_record_id=record.id,
                    campaign=campaign[:64],
                    question=question[:64],
                    answer=answer[:16],
                )
            )

    def _callee(self, session: Session, attempt: str) -> str | None:
        if not attempt:
            return None
        return self.outbound.callee(session, attempt)

    def _write(self, call: CallState) -> None:
        end = call.end
        campaign = end.get("campaign", "")
        try:
            with self.sessions.begin() as session:
                callee = self._callee(session, end.get("attempt", "")) if campaign else None
                record = self.repository.start(
                    session,
                    linkedid=call.linkedid,
                    uniqueid=call.uniqueid or call.linkedid,
                    site=end.get("site") or "?",
                    direction="outbound" if campaign else "inbound",
                    caller=call.caller,
                    dialled=callee,
                    entry=end.get("entry") or None,
                    started_at=call.started_at,
                )
                customer = _int(end.get("customer", ""))
                if customer is not None and session.get(Customer, customer) is not None:
                    record.customer_id = customer
                    record.tier = end.get("tier") or None
                self.repository.finish(
                    session,
                    call.linkedid,
                    disposition=call.disposition,
                    ended_at=call.ended_at,
                    answered_at=call.answered_at,
                    agent=self._agent_id(session, call),
                    wait_seconds=call.wait(),
                    talk_seconds=call.talk(),
                    node_trace=end.get("trace") or None,
                    destination=end.get("dest") or None,
                    queue=call.queue,
                    priority=_int(end.get("prio", "")),
                    path=end.get("path") or None,
                    recording_file=recording_files(end.get("recording", "")),
                )
                self._write_answers(session, record, end.get("answers", ""), campaign)
                if campaign and end.get("optout") == "1":
                    if callee is None:
                        log.warning(
                            "call %s opted out of campaign %s, but attempt %r names no "
                            "number: nothing added to the do-not-call list",
                            call.linkedid,
                            campaign,
                            end.get("attempt", ""),
                        )
                    else:
                        self.outbound.opt_out(session, callee, campaign)
            self.written += 1
        except Exception as exc:  # a record that cannot be written must not stop the others
            self.failed += 1
            log.warning("call record for %s not written: %s", call.linkedid, exc)
