"""The agent modes of the dialer: who may be dialled now, for which agent.

A campaign with ``dial_mode`` preview, progressive or predictive connects every answered
customer to an agent of its campaign queue (the compiled campaign context does the
connecting and reports it on the customer's channel: ``CF_CONNECTED``, ``CF_AGENT``,
``CF_WAITED_MS``, or ``CF_ABANDONED`` when nobody came within the limit). This module
decides, each turn of the dialer's loop, what to dial:

- **protected tiers** (``Campaign.protected_tiers``, VIPs by default) are never paced: a
  protected customer is only claimed with a free agent reserved for them (paused in the
  campaign queue, so no other call can take them) and is rung to that agent directly
  (``CF_AGENT_PIN``); the agent is released when the call ends;
- everyone else is paced by :class:`~callflow.dialer.predictive.Pacer` (progressive: one
  call per free agent; predictive: ahead of free agents, to the abandon target), from
  the free agents Asterisk reports (:class:`~callflow.dialer.agents.AgentPool`, AMI queue
  member state), the calls in flight and waiting, and the measured answer and abandon
  rates;
- ``preview``: each free agent is offered one contact (reserved for them, announced to
  their tools as an AMI event); it is dialled once they accept, and the agent released
  when they skip or the offer expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from callflow.contract import CF_AGENT_PIN
from callflow.dialer.predictive import Decision, Pacer, Snapshot
from callflow.model.agents import campaign_agents
from callflow.outbound import attempts as store
from callflow.outbound import preview
from callflow.outbound.abandon import abandon_stats
from callflow.store.campaigns import CampaignAttempt

if TYPE_CHECKING:
    from callflow.dialer.engine import Call, Dialer

log = logging.getLogger("callflow.dialer")

#: how long a contact waits for their busy account manager (``manager_busy="wait"``)
MANAGER_WAIT = dt.timedelta(minutes=1)
#: how often the abandon window and the answer rate are re-read from the store
STATS_EVERY = 5.0


class Agents(Protocol):
    """What the dialer needs of the campaign queue's agents
    (:class:`~callflow.dialer.agents.AgentPool` has it; unit tests use a fake)."""

    changed: asyncio.Event

    def free(self) -> list[str]: ...

    async def reserve(self, staff: str, attempt_id: str) -> bool: ...

    async def release(self, staff: str) -> None: ...


@dataclass
class Stats:
    """The store's numbers the pacer needs, refreshed every :data:`STATS_EVERY` s."""

    dials: int = 0
    live_answers: int = 0
    abandoned: float = 0  # with the AMD false-positive estimate when the campaign corrects
    live: float = 0
    rate: float | None = None
    at: float = -1e9


class AgentDialing:
    """The agent-mode part of one :class:`~callflow.dialer.engine.Dialer`."""

    def __init__(self, dialer: Dialer, agents: Agents, pacer: Pacer | None = None) -> None:
        campaign = dialer.campaign
        self.dialer = dialer
        self.agents = agents
        self.protected = tuple(campaign.protected_tiers)
        mode = campaign.dial_mode
        self.pacer = pacer or Pacer(
            "predictive" if mode == "predictive" else "progressive", campaign.abandon.target
        )
        self.stats = Stats()
        #: the campaign's agents (staff ids): a contact's manager among them is pinned
        self.agents_known = frozenset(s.id for s in campaign_agents(dialer.site, campaign))
        self.stats_every = STATS_EVERY
        #: preview: tells the agent's tools of an offer (an AMI UserEvent), if set
        self.announce: Callable[[preview.Offer], Awaitable[None]] | None = None
        self.last: Decision | None = None
        #: staff id -> the attempt they are reserved for (protected calls and offers)
        self.reserved: dict[str, str] = {}
        #: preview: attempt id -> (its claim, the agent it is offered to), until dialled
        self.offers: dict[str, tuple[store.Claim, str]] = {}

    # ---- what the loop asks -----------------------------------------------------------
    def waiting(self) -> int:
        """Answered customers not yet connected (nor abandoned)."""
        return sum(
            1
            for c in self.dialer.calls.values()
            if c.answered and not c.connected and not c.abandoned and not c.ended
        )

    def in_flight(self) -> int:
        """Paced calls dialled and not answered yet (protected calls have their agent)."""
        return sum(1 for c in self.dialer.calls.values() if not c.answered and c.pinned is None)

    async def refresh_stats(self) -> Stats:
        """The store's numbers, re-read at most every ``stats_every`` seconds."""
        if time.monotonic() - self.stats.at < self.stats_every:
            return self.stats
        d = self.dialer
        now = d.clock()

        def read() -> Stats:
            with d.sessions() as session:
                dials, live_answers = store.answer_counts(session, d.site.name, d.campaign.id)
                ab = abandon_stats(session, d.site.name, d.campaign, now)
            abandoned, live = ab.paced  # the corrected counts when the campaign corrects
            return Stats(
                dials,
                live_answers,
                abandoned,
                live,
                ab.corrected_rate,  # = rate without the machine correction
                time.monotonic(),
            )

        self.stats = await d._db(read)
        return self.stats

    def snapshot(self, free_agents: int) -> Snapshot:
        s = self.stats
        return Snapshot(
            free_agents=free_agents,
            in_flight=self.in_flight(),
            waiting=self.waiting(),
            dials=s.dials,
            live_answers=s.live_answers,
            abandoned=s.abandoned,
            live=s.live,
        )

    def free(self) -> list[str]:
        """The free agents Asterisk reports, less those reserved here. Read it right
        before deciding, never across an ``await``: a call may take an agent meanwhile."""
        return [a for a in self.agents.free() if a not in self.reserved]

    async def turn(self, lines: int) -> list[tuple[store.Claim, dict[str, str]]]:
        """Claim what may be dialled now (at most ``lines``, the trunk cap): returns each
        claim with the extra channel variables of its originate.

        Protected customers first, one at a time, each with a free agent reserved, while
        :meth:`Pacer.can_reserve` says the paced calls in flight can spare one; while a
        protected customer is due and no agent can be spared, no paced call is placed
        (the simulator does the same). Then the paced calls the pacer decides."""
        d = self.dialer
        await self.refresh_stats()
        out: list[tuple[store.Claim, dict[str, str]]] = []
        if d.campaign.dial_mode == "preview":
            out = await self._poll_offers()
            await self._offer(self.free()[: max(0, lines - len(out))])
            return out
        held = False
        while self.protected and len(out) < lines:
            if not self.free() or not self.pacer.can_reserve(self.snapshot(len(self.free()))):
                held = await d._db(self._protected_due)
                break
            claims = await d._claim(1, tiers=(True, self.protected))
            if not claims:
                break
            claim = claims[0]
            free = self.free()  # again: the claim took a while
            if not free:
                await d._db(self._release_claim, claim.attempt_id)
                held = True
                break
            agent = free[0]
            self.reserved[agent] = claim.attempt_id
            if await self.agents.reserve(agent, claim.attempt_id):
                out.append((claim, {CF_AGENT_PIN: agent}))
            else:  # Asterisk did not pause them (they just took a call): try again later
                del self.reserved[agent]
                log.warning("could not reserve agent %s for %s", agent, claim.attempt_id)
                await d._db(self._release_claim, claim.attempt_id)
                held = True
                break
        if held:
            self.last = Decision(0, 0.0, self.pacer.mode, "held: a protected customer waits")
            return out
        snapshot = self.snapshot(len(self.free()))
        decision = self.pacer.decide(snapshot)
        self.last = decision
        log.debug("pacing %s: %s", snapshot, decision)
        want = min(decision.dials, lines - len(out))
        if want > 0:
            tiers = (False, self.protected) if self.protected else None
            for claim in await d._claim(want, tiers=tiers):
                picked = await self._for_manager(claim)
                if picked is not None:
                    out.append(picked)
        return out

    async def _for_manager(self, claim: store.Claim) -> tuple[store.Claim, dict[str, str]] | None:
        """A follow-up customer's own account manager takes the call when they are free:
        reserved (paused in the campaign queue) and rung directly, so two customers of
        one manager answering at once cannot both ring them. A busy manager: the group
        takes the call (``manager_busy="group"``), or the contact waits for them
        (``"wait"``: not dialled now, due again a minute later; None)."""
        d = self.dialer
        manager = claim.manager
        if not manager or manager not in self.agents_known:
            return claim, {}
        if manager in self.free():
            self.reserved[manager] = claim.attempt_id
            if await self.agents.reserve(manager, claim.attempt_id):
                return claim, {CF_AGENT_PIN: manager}
            del self.reserved[manager]
        if d.campaign.manager_busy == "wait":
            until = d.clock() + MANAGER_WAIT
            await d._db(self._release_claim, claim.attempt_id, until)
            return None
        return claim, {}

    def _protected_due(self) -> bool:
        d = self.dialer
        return store.has_due(d.sessions, d.rules, d.clock(), tiers=(True, self.protected))

    # ---- preview ------------------------------------------------------------------------
    async def _offer(self, free: list[str]) -> None:
        """Offer one contact to each free agent (reserved for them while it is open);
        a contact someone passed on goes to another agent when one is free."""
        d = self.dialer
        free = list(free)
        while free:
            claims = await d._claim(1)
            if not claims:
                return
            claim = claims[0]
            declined = await d._db(self._declined, claim.contact_id)
            agent = next((a for a in free if a not in declined), free[0])
            free.remove(agent)
            self.reserved[agent] = claim.attempt_id
            if not await self.agents.reserve(agent, claim.attempt_id):
                del self.reserved[agent]
                log.warning("could not reserve agent %s for an offer", agent)
                await d._db(self._release_claim, claim.attempt_id)
                continue
            self.offers[claim.attempt_id] = (claim, agent)
            at = d.clock()
            made = await d._db(self._write_offer, claim.attempt_id, agent, at)
            if self.announce is not None:
                await self.announce(made)

    def _declined(self, contact_id: int) -> set[str]:
        with self.dialer.sessions() as session:
            return preview.declined_by(session, contact_id)

    def _write_offer(self, attempt_id: str, agent: str, at: dt.datetime) -> preview.Offer:
        with self.dialer.sessions.begin() as session:
            return preview.offer(session, attempt_id, agent, at)

    async def _poll_offers(self) -> list[tuple[store.Claim, dict[str, str]]]:
        """Accepted offers are dialled (to their agent); skipped ones (ended by the
        agent's ``skip``) and expired ones free their agent."""
        if not self.offers:
            return []
        d = self.dialer
        now = d.clock()
        ids = list(self.offers)

        def read() -> dict[str, tuple[str, dt.datetime | None]]:
            with d.sessions() as session:
                rows = session.scalars(
                    select(CampaignAttempt).where(CampaignAttempt.id.in_(ids))
                ).all()
                return {r.id: (r.state, r.accepted_at) for r in rows}

        def expire() -> list[str]:
            with d.sessions.begin() as session:
                return preview.expire(
                    session,
                    now,
                    d.campaign.preview_seconds,
                    site=d.site.name,
                    campaign=d.campaign.id,
                )

        out: list[tuple[store.Claim, dict[str, str]]] = []
        expired = set(await d._db(expire))
        for attempt_id, (state, accepted) in (await d._db(read)).items():
            claim, agent = self.offers[attempt_id]
            if state == "ended" or attempt_id in expired:
                del self.offers[attempt_id]
                await self._free(agent)
            elif accepted is not None:
                del self.offers[attempt_id]
                out.append((claim, {CF_AGENT_PIN: agent}))
        return out

    async def _free(self, agent: str) -> None:
        if self.reserved.pop(agent, None) is not None:
            await self.agents.release(agent)

    def _release_claim(self, attempt_id: str, until: dt.datetime | None = None) -> None:
        with self.dialer.sessions.begin() as session:
            preview.give_back(session, attempt_id, self.dialer.clock(), until=until)

    # ---- events -------------------------------------------------------------------------
    async def ended(self, call: Call) -> None:
        """A call ended: its reserved agent (if any) is free for the queue again."""
        for agent, attempt in list(self.reserved.items()):
            if attempt == call.attempt_id:
                await self._free(agent)

    def status(self) -> dict[str, Any]:
        """What ``campaign status`` shows of the pacing (stored in ``dialers.pacing``)."""
        s = self.stats
        last = self.last
        return {
            "mode": self.dialer.campaign.dial_mode,
            "level": last.level if last else None,
            "decided": last.mode if last else None,
            "reason": last.reason if last else "",
            "free_agents": len([a for a in self.agents.free() if a not in self.reserved]),
            "reserved": len(self.reserved),
            "in_flight": self.in_flight(),
            "waiting": self.waiting(),
            "answer_rate": (s.live_answers / s.dials) if s.dials else None,
            "abandon_rate": s.rate,
            "abandon_target": self.dialer.campaign.abandon.target,
            "pacer": self.pacer.as_dict(),
        }

    def status_json(self) -> str:
        return json.dumps(self.status(), sort_keys=True, default=str)


def pin_of(variables: Mapping[str, str]) -> str | None:
    return variables.get(CF_AGENT_PIN)
