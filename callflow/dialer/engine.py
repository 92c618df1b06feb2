"""The dialer: claim due contacts, originate each over ARI, follow it to its end.

One :class:`Dialer` runs one campaign. Its loop, in order, each turn:

1. after (re)connecting to ARI, **reconcile** before anything is dialled: every live
   attempt of ours (and, on PostgreSQL, every one whose lease expired) is compared with
   ``GET /channels``; a channel that still lives is re-adopted, one that is gone is
   finished with what the dialer saw of it (answered, AMD) or ``unknown``;
2. read the campaign's status from the store (``paused`` / ``stopped`` by the CLI);
3. claim as many due contacts as there are free slots (concurrency cap) and at most one
   second's worth of the calls-per-second cap: the attempt rows are **committed before**
   any originate;
4. originate each, spaced by the token bucket, with ``channelId`` = the attempt id.

Events (``subscribeAll``: the channels run dialplan, not Stasis) finish the attempts:
``ChannelStateChange`` Up marks it answered, ``ChannelVarset`` of ``CF_AMD``/``CF_OPTOUT``
keeps what the campaign context decided, ``ChannelDestroyed`` gives the cause. A Local
channel reports Busy()/Congestion() on its ``;2`` half only (``;1`` ends with cause 0),
so a cause-0 end waits for the other half's cause.

Store writes run in one worker thread, in the order they were asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from callflow.contract import (
    CAMPAIGN_EXTEN,
    CF_ABANDONED,
    CF_AGENT,
    CF_AMD,
    CF_CONNECTED,
    CF_MANAGER,
    CF_OPTOUT,
    CF_TIER,
    CF_WAITED_MS,
    IDENT,
    campaign_context,
    lowered_key,
)
from callflow.dialer.attended import AgentDialing, Agents, pin_of
from callflow.dialer.control import get_status, set_status
from callflow.dialer.pacing import Slots, TokenBucket
from callflow.dialer.predictive import Pacer
from callflow.model.campaigns import Campaign
from callflow.model.site import Site
from callflow.outbound import attempts as store
from callflow.outbound import preview
from callflow.outbound.compliance import Rules
from callflow.outbound.dispositions import (
    ABANDONED,
    CONGESTION,
    FAILED,
    OPTOUT,
    UNKNOWN,
    disposition_for_cause,
)
from callflow.runtime.ari import OriginateFailed
from callflow.runtime.session import AriEvent, ControlError
from callflow.store.campaigns import LIVE_STATES, CampaignAttempt, CampaignContact

log = logging.getLogger("callflow.dialer")

T = TypeVar("T")

#: the suffix Asterisk gives a Local channel's second half (``<id>;2``)
OTHER_HALF = ";2"
#: how long a cause-0 end waits for the Local channel's other half to report its cause
OTHER_HALF_WAIT = 2.0


class DialerAri(Protocol):
    """What the dialer needs from ARI (:class:`~callflow.runtime.ari.AriClient` has it;
    unit tests use a fake)."""

    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        *,
        context: str,
        extension: str,
        priority: int = 1,
        caller_id: str | None = None,
        timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None: ...

    async def channels(self) -> list[dict[str, Any]]: ...

    #: set while the websocket is up and the application registered
    registered: asyncio.Event


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def default_dialer_id(site: str, campaign: str) -> str:
    """A dialer id stable across restarts on one host (a restarted dialer finds its own
    live attempts at once, without waiting for their lease)."""
    host = re.sub(r"[^a-z0-9_]", "_", socket.gethostname().lower())[:24]
    return f"{host}_{site}_{campaign}"[:64]


def app_for(dialer_id: str) -> str:
    """The ARI application a dialer registers (each dialer its own websocket)."""
    return "callflow-dialer-" + re.sub(r"[^A-Za-z0-9_.-]", "_", dialer_id)


@dataclass
class Call:
    """What the dialer knows of one live attempt."""

    attempt_id: str
    number: str
    started: float
    originated: bool = False
    answered: bool = False
    amd: str = ""
    optout: str = ""
    other_half: bool = False
    other_cause: int | None = None
    #: the first half ended with cause 0: waiting for the other half's cause
    ending: asyncio.TimerHandle | None = None
    cause: int | None = None
    ended: bool = False
    # agent modes: what the campaign context reported on the customer's channel
    connected: bool = False
    abandoned: bool = False
    agent: str | None = None
    waited_ms: int | None = None
    #: the agent reserved for this (protected-tier or accepted preview) call
    pinned: str | None = None


@dataclass
class Counts:
    """What this dialer did (the progress display's own numbers)."""

    dialled: int = 0
    answered: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)
    reconciles: int = 0
    adopted: int = 0
    connected: int = 0
    abandoned: int = 0
    refused: int = 0
    #: the attempts this dialer saw answered (each should get a call record)
    answered_ids: list[str] = field(default_factory=list)


class Dialer:
    """Dial one campaign of one site (see the module docstring)::

    dialer = Dialer(sessions, site, campaign, ari, cps=10)
    ari = AriClient(settings, dialer.on_event, on_registered=dialer.on_registered,
                    subscribe_all=True)
    await dialer.run()
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        site: Site,
        campaign: Campaign,
        ari: DialerAri | None = None,
        *,
        cps: float = 5.0,
        concurrency: int | None = None,
        dialer_id: str | None = None,
        lease_seconds: float = 60.0,
        poll: float = 0.5,
        until_idle: bool = False,
        clock: Callable[[], dt.datetime] = utcnow,
        agents: Agents | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.sessions = sessions
        self.site = site
        self.campaign = campaign
        self.rules = Rules.for_campaign(site, campaign)
        self.ari: DialerAri | None = ari
        self.dialer_id = dialer_id or default_dialer_id(site.name, campaign.id)
        self.lease_seconds = lease_seconds
        self.poll = poll
        self.until_idle = until_idle
        self.clock = clock
        # a tenth of a second's calls may go at once after the loop was held up (a slow
        # claim): with a burst of 1 every such delay would be lost from the rate
        self.bucket = TokenBucket(cps, burst=max(1.0, cps / 10))
        self.slots = Slots(concurrency or campaign.concurrency)
        self.context = campaign_context(site.name, campaign.id)
        self.calls: dict[str, Call] = {}
        self.counts = Counts()
        self.status = "idle"
        self.started_at = time.monotonic()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dialer-db")
        self._reconcile_needed = asyncio.Event()
        self._held: list[AriEvent] | None = None  # events held while reconciling
        self._inflight: set[asyncio.Task[None]] = set()
        self._writes: set[asyncio.Future[Any]] = set()
        self._last_lease = 0.0
        #: the agent modes (preview/progressive/predictive): None for an unattended campaign
        self.attended: AgentDialing | None = None
        if campaign.agent_mode:
            if agents is None:
                raise ValueError(
                    f"campaign {campaign.id!r} dials for agents (dial_mode="
                    f"{campaign.dial_mode!r}): the dialer needs the campaign queue's agents"
                )
            self.attended = AgentDialing(self, agents, pacer)

    # ---- the store, in one thread --------------------------------------------------------
    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def _write(self, fn: Callable[[Session], Any]) -> None:
        """Queue a store write (in order; errors logged, never raised into an event)."""

        def job() -> None:
            try:
                with self.sessions.begin() as session:
                    fn(session)
            except Exception:
                log.exception("dialer store write failed")

        future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait for every queued store write."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # ---- ARI callbacks ---------------------------------------------------------------------
    async def on_registered(self) -> None:
        """ARI (re)connected: reconcile before the next dial."""
        self._reconcile_needed.set()

    @property
    def _connected(self) -> asyncio.Event:
        assert self.ari is not None
        return self.ari.registered

    def on_event(self, event: AriEvent) -> None:
        """Handle one ARI event (synchronous: called from the websocket pump)."""
        channel = event.channel
        other = channel.endswith(OTHER_HALF)
        call = self.calls.get(channel.removesuffix(OTHER_HALF) if other else channel)
        if call is None and self._held is not None:
            self._held.append(event)  # may be a channel the running reconcile adopts
        if call is None or call.ended:
            return
        kind = event.type
        if other:
            if kind == "ChannelCreated":
                call.other_half = True
            elif kind == "ChannelDestroyed":
                call.other_half = False
                call.other_cause = event.cause
                if call.ending is not None:
                    self._end(call, call.other_cause or call.cause)
            return
        if kind == "ChannelStateChange" and event.state == "Up":
            self._answered(call)
        elif kind == "ChannelVarset":
            self._varset(call, event.variable, event.value)
        elif kind == "ChannelDestroyed":
            call.originated = True
            cause = event.cause
            if not cause and not call.answered and call.other_half:
                call.cause = cause
                call.ending = asyncio.get_running_loop().call_later(
                    OTHER_HALF_WAIT, lambda: self._end(call, call.other_cause or call.cause)
                )
                return
            if not cause and call.other_cause:
                cause = call.other_cause
            self._end(call, cause)

    def _varset(self, call: Call, variable: str, value: str) -> None:
        """What the campaign context decided, as it set it on the callee's channel."""
        if variable == CF_AMD:
            call.amd = value
        elif variable == CF_OPTOUT:
            call.optout = value
        elif variable == CF_AGENT:
            call.agent = value or None
        elif variable == CF_WAITED_MS:
            call.waited_ms = int(value) if value.isdigit() else None
        elif variable == CF_CONNECTED and value.strip() == "1" and not call.connected:
            call.connected = True
            self.counts.connected += 1
            at, agent, waited = self.clock(), call.agent, call.waited_ms
            self._write(
                lambda s: store.mark_connected(
                    s, call.attempt_id, agent=agent, waited_ms=waited, at=at
                )
            )
        elif variable == CF_ABANDONED and value.strip() == "1" and not call.abandoned:
            call.abandoned = True
            self.counts.abandoned += 1
            at, waited = self.clock(), call.waited_ms
            self._write(lambda s: store.mark_abandoned(s, call.attempt_id, waited_ms=waited, at=at))

    def _answered(self, call: Call) -> None:
        if call.answered:
            return
        call.answered = True
        self.counts.answered += 1
        self.counts.answered_ids.append(call.attempt_id)
        at = self.clock()
        self._write(lambda s: store.mark_answered(s, call.attempt_id, at))

    def _end(
        self,
        call: Call,
        cause: int | None,
        *,
        disposition: str | None = None,
    ) -> None:
        if call.ended:
            return
        call.ended = True
        if call.ending is not None:
            call.ending.cancel()
        call.cause = cause
        if disposition is None:
            disposition = self.disposition(call)
        amd = call.amd or None
        self.counts.dispositions[disposition] += 1
        self.calls.pop(call.attempt_id, None)
        self.slots.release()
        if self.attended is not None:
            task = asyncio.get_running_loop().create_task(self.attended.ended(call))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        at = self.clock()
        self._write(
            lambda s: store.finish(
                s, call.attempt_id, disposition=disposition, cause=cause, at=at, amd=amd
            )
        )

    def disposition(self, call: Call) -> str:
        """What the attempt's end means, from what the events said."""
        if call.optout.strip() == "1":
            return OPTOUT
        if call.abandoned and not call.connected:
            return ABANDONED
        return disposition_for_cause(
            call.cause,
            call.answered,
            call.amd or None,
            amd_hangs_up=self.campaign.amd == "hangup",
        )

    # ---- dialling --------------------------------------------------------------------------
    def endpoint(self, number: str) -> str:
        return self.campaign.endpoint.replace("{number}", number)

    async def _originate(self, claim: store.Claim, extra: Mapping[str, str]) -> None:
        assert self.ari is not None
        call = self.calls[claim.attempt_id]
        try:
            await self.ari.originate(
                claim.attempt_id,
                self.endpoint(claim.number),
                context=self.context,
                extension=CAMPAIGN_EXTEN,
                priority=1,
                caller_id=claim.caller_id,
                timeout=self.campaign.ring_seconds,
                variables=self._variables(claim, extra),
            )
        except OriginateFailed as exc:
            # the channel never existed: the outcome is known now
            self.counts.refused += 1
            log.info("originate %s refused: %s", claim.attempt_id, exc)
            self._end(call, None, disposition=CONGESTION if exc.status == 500 else FAILED)
            return
        except Exception as exc:  # ControlError (ARI down, timeout) or anything else
            # did the channel come to exist? only GET /channels can tell: reconcile
            log.warning("originate %s: %s; reconciling", claim.attempt_id, exc)
            self._reconcile_needed.set()
            return
        call.originated = True
        if not call.ended:
            at = self.clock()
            self._write(lambda s: store.mark_dialling(s, claim.attempt_id, at))

    def _variables(self, claim: store.Claim, extra: Mapping[str, str]) -> dict[str, str]:
        out = {**call_variables(claim), **extra}
        if self.attended is not None:
            # the dialer rings the account manager itself (reserved, CF_AGENT_PIN) when
            # they are free; the compiled manager-first ring would race for them
            out.pop(CF_MANAGER, None)
        return out

    def _start(self, claim: store.Claim, extra: Mapping[str, str]) -> None:
        self.calls[claim.attempt_id] = Call(
            claim.attempt_id, claim.number, time.monotonic(), pinned=pin_of(extra)
        )
        self.counts.dialled += 1
        task = asyncio.create_task(self._originate(claim, extra))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _claim(self, limit: int, tiers: store.TierFilter = None) -> list[store.Claim]:
        now = self.clock()
        return await self._db(
            store.claim,
            self.sessions,
            self.rules,
            now=now,
            dialer_id=self.dialer_id,
            limit=limit,
            lease_seconds=self.lease_seconds,
            tiers=tiers,
        )

    # ---- reconcile -----------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Compare live attempts with Asterisk's channels (see the module docstring)."""
        assert self.ari is not None
        self._reconcile_needed.clear()
        if self._inflight:  # an originate in flight may not show in GET /channels yet
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        await self.flush()
        now = self.clock()
        until = now + dt.timedelta(seconds=self.lease_seconds)
        rows = await self._db(self._adoptable, now, until)
        # Events that come while GET /channels is answered, or while the rows are gone
        # through, are about channels not yet adopted: hold them and apply them after, or a
        # call that ends in between stays live forever.
        self._held = []
        try:
            channels = {str(c.get("id")): c for c in await self.ari.channels()}
            await self._adopt(rows, channels, now)
        finally:
            held, self._held = self._held, None
        for event in held:
            self.on_event(event)
        self.counts.reconciles += 1
        log.info("reconciled %d live attempt(s) with %d channel(s)", len(rows), len(channels))

    async def _adopt(
        self, rows: list[tuple[str, str]], channels: dict[str, Any], now: dt.datetime
    ) -> None:
        offers = self.attended.offers if self.attended is not None else {}
        for attempt_id, number in rows:
            if attempt_id in offers:
                continue  # our own open preview offer: no channel yet, by design
            call = self.calls.get(attempt_id)
            channel = channels.get(attempt_id)
            if call is None:
                if channel is None and await self._db(self._withdraw, attempt_id, now):
                    continue  # an offer left open by a stopped dialer: never dialled
                if channel is None:
                    self.slots.used += 1  # _end releases it
                    self._end(Call(attempt_id, number, time.monotonic()), None, disposition=UNKNOWN)
                    continue
                call = Call(attempt_id, number, time.monotonic(), originated=True)
                call.other_half = attempt_id + OTHER_HALF in channels
                self.calls[attempt_id] = call
                self.slots.used += 1
                self.counts.adopted += 1
                self._write(_marker(attempt_id, now))
            if channel is None:
                # gone while we were not listening: what we saw of it, or unknown
                self._end(
                    call, None, disposition=self.disposition(call) if call.answered else UNKNOWN
                )
            elif channel.get("state") == "Up":
                self._answered(call)
        # calls we track that the store no longer calls ours cannot exist; nothing to do

    def _withdraw(self, attempt_id: str, now: dt.datetime) -> bool:
        with self.sessions.begin() as session:
            return preview.withdraw(session, attempt_id, now)

    def _adoptable(self, now: dt.datetime, until: dt.datetime) -> list[tuple[str, str]]:
        """Live attempts of this campaign that are ours, or whose lease expired (taken
        over, atomically)."""
        out = []
        with self.sessions.begin() as session:
            for row in store.live(session, self.site.name, self.campaign.id):
                if row.dialer_id == self.dialer_id or (
                    (row.lease_until is None or row.lease_until < now)
                    and store.take_over(session, row.id, self.dialer_id, now, until)
                ):
                    out.append((row.id, row.number))
        return out

    # ---- the loop ------------------------------------------------------------------------
    async def _leases(self) -> None:
        if time.monotonic() - self._last_lease < self.lease_seconds / 4:
            return
        self._last_lease = time.monotonic()
        now = self.clock()
        until = now + dt.timedelta(seconds=self.lease_seconds)

        pacing = self.attended.status_json() if self.attended is not None else None

        def renew(session: Session) -> None:
            store.renew_lease(session, self.dialer_id, until)
            store.heartbeat(session, self.dialer_id, now, pacing=pacing)

        self._write(renew)
        expired = await self._db(self._expired_of_campaign, now)
        if expired:
            self._reconcile_needed.set()

    def _expired_of_campaign(self, now: dt.datetime) -> bool:
        with self.sessions() as session:
            return any(
                r.campaign == self.campaign.id for r in store.expired(session, now, self.site.name)
            )

    def register(self) -> None:
        """Record this dialer (SQLite: refuses while another one is alive)."""
        store.register_dialer(
            self.sessions,
            self.dialer_id,
            self.site.name,
            self.campaign.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            now=self.clock(),
        )

    async def run(self, stop: asyncio.Event | None = None) -> str:
        """Dial until the campaign is done, stopped (store or ``stop``), or with
        ``until_idle`` nothing is due and nothing is live. Returns the final status."""
        assert self.ari is not None
        stop = stop or asyncio.Event()
        await self._db(self.register)
        if get_status(self.sessions, self.site.name, self.campaign.id) != "paused":
            await self._db(set_status, self.sessions, self.site.name, self.campaign.id, "running")
        self.started_at = time.monotonic()
        self._reconcile_needed.set()  # before the first dial, whatever a crash left
        try:
            while not stop.is_set():
                if not self._connected.is_set():
                    await _wait_any(self._connected, stop, self.poll)
                    continue
                if self._reconcile_needed.is_set():
                    try:
                        await self.reconcile()
                    except ControlError as exc:
                        log.warning("reconcile failed: %s; retrying", exc)
                        self._reconcile_needed.set()
                        await asyncio.sleep(self.poll)
                    continue
                await self._leases()
                free = self.slots.free
                if free <= 0:
                    await self.slots.wait_free(self.poll)
                    continue
                # read just before claiming: a pause holds from the next claim on
                self.status = await self._db(
                    get_status, self.sessions, self.site.name, self.campaign.id
                )
                if self.status == "stopped":
                    break
                if self.status == "paused":
                    await _wait_any(stop, None, self.poll)
                    continue
                picks = await self._picks(free)
                if not picks:
                    if not self.calls and await self._finished():
                        break
                    await self._idle(stop)
                    continue
                self.slots.take(len(picks))
                for claim, extra in picks:
                    await self.bucket.take()
                    if not self._connected.is_set() or self._reconcile_needed.is_set():
                        # the rows are committed: reconcile finds them (no channel: unknown)
                        self.calls[claim.attempt_id] = Call(
                            claim.attempt_id, claim.number, time.monotonic(), pinned=pin_of(extra)
                        )
                        self._reconcile_needed.set()
                        continue
                    self._start(claim, extra)
            await self._drain(stop)
        finally:
            await self.flush()
            final = self.status
            if final not in ("stopped", "paused"):
                final = "done" if await self._db(self._no_pending) else "running"
            if final == "done" or self.status == "stopped":
                await self._db(set_status, self.sessions, self.site.name, self.campaign.id, final)
            self.status = final
            await self._db(self._unregister)
            self._executor.shutdown(wait=True)
        return self.status

    async def _picks(self, free: int) -> list[tuple[store.Claim, dict[str, str]]]:
        """What to dial now, each claim with its extra channel variables: the agent
        modes decide by agents and pacing (:meth:`AgentDialing.turn`); otherwise a fifth
        of a second's calls per claim, so few reserved rows wait for their originate and
        a crash leaves few "unknown" attempts behind."""
        if self.attended is not None:
            return await self.attended.turn(free)
        want = max(1, min(free, math.ceil(self.bucket.rate / 5)))
        return [(claim, {}) for claim in await self._claim(want)]

    async def _idle(self, stop: asyncio.Event) -> None:
        """Nothing to dial now: wait for the next poll (the agent modes: for an agent's
        state to change, at most a quarter of a second)."""
        if self.attended is None:
            await _wait_any(stop, None, self.poll)
            return
        changed = self.attended.agents.changed
        await _wait_any(changed, stop, min(self.poll, 0.25))
        changed.clear()

    async def _drain(self, stop: asyncio.Event) -> None:
        """Let the live calls end (their events finish them); reconcile if ARI drops."""
        while self.calls and not stop.is_set():
            if self._reconcile_needed.is_set() and self._connected.is_set():
                with contextlib.suppress(ControlError):
                    await self.reconcile()
                continue
            await _wait_any(stop, None, self.poll)

    async def _finished(self) -> bool:
        """Nothing live here (nor an open preview offer): done when no contact is
        pending, or (``until_idle``) when none is due now."""
        if self.attended is not None and self.attended.offers:
            return False
        if await self._db(self._no_pending):
            return True
        if self.until_idle:
            return not await self._db(self._due_now) and not await self._db(self._others_live)
        return False

    def _no_pending(self) -> bool:
        with self.sessions() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(CampaignContact)
                .where(
                    CampaignContact.site == self.site.name,
                    CampaignContact.campaign == self.campaign.id,
                    CampaignContact.status == "pending",
                )
            )
            return not pending and not self._others_live_in(session)

    def _due_now(self) -> bool:
        now = self.clock()
        with self.sessions() as session:
            due = session.scalar(
                select(func.count())
                .select_from(CampaignContact)
                .where(
                    CampaignContact.site == self.site.name,
                    CampaignContact.campaign == self.campaign.id,
                    CampaignContact.status == "pending",
                    or_(
                        CampaignContact.next_attempt_at.is_(None),
                        CampaignContact.next_attempt_at <= now,
                    ),
                )
            )
            return bool(due)

    def _others_live(self) -> bool:
        with self.sessions() as session:
            return self._others_live_in(session)

    def _others_live_in(self, session: Session) -> bool:
        row = session.scalars(
            select(CampaignAttempt.id)
            .where(
                CampaignAttempt.site == self.site.name,
                CampaignAttempt.campaign == self.campaign.id,
                CampaignAttempt.state.in_(LIVE_STATES),
            )
            .limit(1)
        ).first()
        return row is not None

    def _unregister(self) -> None:
        with self.sessions.begin() as session:
            store.unregister_dialer(session, self.dialer_id)

    # ---- for the progress display ---------------------------------------------------------
    def answered_ids(self) -> list[str]:
        """The attempts (channel ids) this dialer saw answered."""
        return list(self.counts.answered_ids)

    def snapshot(self) -> dict[str, Any]:
        """This dialer's counters (the store has the campaign's)."""
        elapsed = max(1e-9, time.monotonic() - self.started_at)
        return {
            "dialer": self.dialer_id,
            "status": self.status,
            "dialled": self.counts.dialled,
            "answered": self.counts.answered,
            "live": len(self.calls),
            "peak_live": self.slots.peak,
            "dispositions": dict(self.counts.dispositions),
            "calls_per_second": self.counts.dialled / elapsed,
            "reconciles": self.counts.reconciles,
            "adopted": self.counts.adopted,
            "connected": self.counts.connected,
            "abandoned": self.counts.abandoned,
            "pacing": self.attended.status() if self.attended is not None else None,
        }


def call_variables(claim: store.Claim) -> dict[str, str]:
    """The channel variables of a claim's originate: the attempt, and what the campaign
    context needs of the customer (account manager, tier), as the dialplan keys them
    (:func:`~callflow.contract.lowered_key`: they come from the CRM)."""
    out = dict(claim.variables)
    if claim.manager:
        out[CF_MANAGER] = lowered_key(IDENT, claim.manager)[:32]
    if claim.tier:
        out[CF_TIER] = lowered_key(IDENT, claim.tier)[:32]
    return out


def _marker(attempt_id: str, at: dt.datetime) -> Callable[[Session], bool]:
    return lambda session: store.mark_dialling(session, attempt_id, at)


async def _wait_any(event: asyncio.Event, other: asyncio.Event | None, timeout: float) -> None:
    waits = [asyncio.ensure_future(event.wait())]
    if other is not None:
        waits.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def new_dialer_id() -> str:
    """A random dialer id (several dialers of one campaign on one host, PostgreSQL)."""
    return uuid.uuid4().hex[:16]
