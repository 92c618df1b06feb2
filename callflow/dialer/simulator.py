"""A campaign dialled offline: a seeded discrete-event simulation of agent-connected outbound.

Before dialling real customers, ask what a pacing mode will do with them: how many
answered customers it will abandon, how busy it keeps the agents, how many contacts an
hour and when the list is done::

    model = CampaignModel(agents=20, contacts=10_000)
    r = simulate(model, "predictive", target=0.03, seed=1)
    r.abandon_rate, r.occupancy, r.contacts_per_hour, r.finish

The dialing decisions are the live dialer's own: :class:`~callflow.dialer.predictive.Pacer`
gets the same :class:`~callflow.dialer.predictive.Snapshot` after every event and its
``dials`` are placed at once. Protected-tier contacts are dialled as the live dialer
does: only with a free agent reserved for them first (when
:meth:`~callflow.dialer.predictive.Pacer.can_reserve` allows; no paced call is placed
while one waits); the reserved agent takes the answered call (or is released when the
call fails), and neither the agent nor the call is shown to the pacer.

Each contact is dialled once (retries are later attempts of another run). Its outcome is
drawn up front from a generator of its own (``seed``), so a progressive and a predictive
run of one seed face the very same customers (common random numbers):

- a person answers with ``answer_rate`` after a lognormal ring (mean ``ring_answer``,
  ``ring_sigma``; 0: always that long);
- an answering machine answers with ``machine_rate``; with AMD it is detected after
  ``amd_seconds`` and never reaches an agent, without AMD an agent gets it (talk
  ``machine_talk``) and the dialer counts it as a person;
- a quick failure (busy, rejected, congestion) with ``busy_rate``, exponential (mean
  ``busy_seconds``);
- anything else rings ``ring_seconds`` and is a no-answer.

A person connected to an agent talks a lognormal time (mean ``talk``, ``talk_sigma``),
then the agent wraps up for an exponential time (mean ``wrap``). A person with no agent
within ``limit_seconds`` of answering is **abandoned**. The queue machinery of
:mod:`callflow.forecast` answers a different question (callers arriving on their own);
what this shares with it is the method: a heap of events on a virtual clock, seeded.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callflow.dialer.predictive import Pacer, PacingMode, Snapshot

if TYPE_CHECKING:
    from callflow.model.campaigns import Campaign

__all__ = ["CampaignModel", "SimResult", "Summary", "model_for", "simulate", "simulate_runs"]

# what a contact's dial leads to
_LIVE, _MACHINE, _FAIL = 0, 1, 2
# event kinds (the heap orders equal times by kind, then by sequence)
_AGENT_FREE, _DIAL_END, _ABANDON = 0, 1, 2
# an agent freed: after a call's wrap-up, or released by a protected call not answered
_WORK_DONE, _RELEASED = -1, -2
# a waiting customer's state
_WAITING, _GONE = 1, 2


@dataclass(frozen=True)
class CampaignModel:
    """The campaign to simulate: agents, contacts, and how customers and agents behave.

    Times are seconds; rates are shares of dials. The defaults are a plausible
    after-sales follow-up list, not a measurement: change them to your own figures."""

    agents: int
    contacts: int = 10_000
    answer_rate: float = 0.35
    machine_rate: float = 0.15
    busy_rate: float = 0.10
    ring_answer: float = 8.0
    ring_sigma: float = 0.5
    ring_seconds: float = 30.0
    busy_seconds: float = 4.0
    amd: bool = True
    amd_seconds: float = 2.5
    machine_talk: float = 10.0
    talk: float = 180.0
    talk_sigma: float = 0.6
    wrap: float = 30.0
    protected_share: float = 0.10
    limit_seconds: float = 2.0

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with these figures (empty: nothing)."""
        out: list[str] = []
        if isinstance(self.agents, bool) or not isinstance(self.agents, int) or self.agents < 1:
            out.append(f"agents must be a whole number >= 1, not {self.agents!r}")
        if (
            isinstance(self.contacts, bool)
            or not isinstance(self.contacts, int)
            or self.contacts < 0
        ):
            out.append(f"contacts must be a whole number >= 0, not {self.contacts!r}")
        for name in ("answer_rate", "machine_rate", "busy_rate", "protected_share"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                out.append(f"{name} must be a share between 0 and 1, not {value!r}")
        if not out and self.answer_rate + self.machine_rate + self.busy_rate > 1:
            out.append(
                f"answer_rate + machine_rate + busy_rate must be at most 1, not "
                f"{self.answer_rate + self.machine_rate + self.busy_rate:g}"
            )
        for name in ("ring_answer", "ring_seconds", "busy_seconds", "talk", "limit_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                out.append(f"{name} must be a positive number of seconds, not {value!r}")
        for name in ("amd_seconds", "machine_talk", "wrap", "talk_sigma", "ring_sigma"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                out.append(f"{name} must be a number >= 0, not {value!r}")
        return out


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def model_for(campaign: Campaign, agents: int, **figures: Any) -> CampaignModel:
    """The model of ``campaign``: its abandon limit, ring time and AMD, ``agents``, and
    ``figures`` for the rest (``protected_share`` defaults to 0 when the campaign has
    no protected tiers)."""
    figures.setdefault("limit_seconds", float(campaign.abandon.limit_seconds))
    figures.setdefault("ring_seconds", float(campaign.ring_seconds))
    figures.setdefault("amd", campaign.amd != "off")
    if not campaign.protected_tiers:
        figures["protected_share"] = 0.0
    return CampaignModel(agents=agents, **figures)


@dataclass(frozen=True)
class SimResult:
    """One simulated run."""

    mode: str
    target: float
    seed: int
    agents: int
    calls: int  # calls placed (protected ones included)
    live: int  # answered by a person (as the dialer counts them: without AMD, machines too)
    connected: int  # of those, connected to an agent
    abandoned: int  # of those, no agent within the limit
    protected_calls: int
    protected_live: int
    protected_abandoned: int
    busy_seconds: float  # agents' talk + wrap-up time
    finish: float  # seconds from the first dial until the last wrap-up ended
    peak_level: float  # the highest dial-ahead level the pacer used
    peak_busy: int  # the most agents talking or wrapping up at once (<= agents)

    @property
    def abandon_rate(self) -> float:
        """Abandoned / live-answered calls (what the regulator counts)."""
        return self.abandoned / self.live if self.live else 0.0

    @property
    def occupancy(self) -> float:
        """Talk + wrap-up time / agent time logged in (all agents, start to finish)."""
        return self.busy_seconds / (self.agents * self.finish) if self.finish else 0.0

    @property
    def contacts_per_hour(self) -> float:
        """People connected to an agent per hour."""
        return self.connected * 3600 / self.finish if self.finish else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "target": self.target,
            "seed": self.seed,
            "agents": self.agents,
            "calls": self.calls,
            "live": self.live,
            "connected": self.connected,
            "abandoned": self.abandoned,
            "abandon_rate": round(self.abandon_rate, 5),
            "protected_calls": self.protected_calls,
            "protected_live": self.protected_live,
            "protected_abandoned": self.protected_abandoned,
            "occupancy": round(self.occupancy, 5),
            "contacts_per_hour": round(self.contacts_per_hour, 2),
            "finish_seconds": round(self.finish, 1),
            "peak_level": self.peak_level,
            "peak_busy": self.peak_busy,
        }


_Contacts = tuple[list[bool], list[int], list[float], list[float]]


def _contacts(model: CampaignModel, seed: int) -> _Contacts:
    """Each contact's tier, outcome, time to the outcome and agent time if connected."""
    rng = random.Random(seed)
    protected, outcome, ring, work = [], [], [], []
    live_cut = model.answer_rate
    machine_cut = live_cut + model.machine_rate
    busy_cut = machine_cut + model.busy_rate
    sigma_r = model.ring_sigma
    mu_r = math.log(model.ring_answer) - sigma_r * sigma_r / 2
    sigma_t = model.talk_sigma
    mu_t = math.log(model.talk) - sigma_t * sigma_t / 2
    wrap_rate = 1 / model.wrap if model.wrap > 0 else 0.0
    for _ in range(model.contacts):
        protected.append(rng.random() < model.protected_share)
        u = rng.random()
        answer_ring = min(rng.lognormvariate(mu_r, sigma_r), model.ring_seconds)
        wrap = rng.expovariate(wrap_rate) if wrap_rate else 0.0
        talk = rng.lognormvariate(mu_t, sigma_t) + wrap
        if u < live_cut:
            outcome.append(_LIVE)
            ring.append(answer_ring)
            work.append(talk)
        elif u < machine_cut:
            if model.amd:
                outcome.append(_MACHINE)
                ring.append(answer_ring + model.amd_seconds)
                work.append(0.0)
            else:
                outcome.append(_LIVE)  # the dialer cannot tell: an agent gets the machine
                ring.append(answer_ring)
                work.append(model.machine_talk + wrap)
        elif u < busy_cut:
            outcome.append(_FAIL)
            ring.append(min(rng.expovariate(1 / model.busy_seconds), model.ring_seconds))
            work.append(0.0)
        else:
            outcome.append(_FAIL)
            ring.append(model.ring_seconds)
            work.append(0.0)
    return protected, outcome, ring, work


def simulate(
    model: CampaignModel,
    mode: PacingMode,
    target: float,
    *,
    seed: int = 1,
    pacer: Pacer | None = None,
    stats_every: float = 0.0,
) -> SimResult:
    """Dial ``model``'s contacts with a :class:`Pacer` in ``mode`` (or the given
    ``pacer``) and return what happened. Deterministic for a given ``seed``.

    ``stats_every``: the pacer's measured counts (dials, answers, abandons) are re-read
    at most this often (seconds), as the live dialer re-reads them from the store every
    :data:`~callflow.dialer.attended.STATS_EVERY`; 0 (the default): after every event.
    Agents, calls in flight and waiting customers are always current."""
    pacer = pacer or Pacer(mode, target)
    protected, outcome, ring, work = _contacts(model, seed)
    n_contacts = model.contacts
    limit = model.limit_seconds
    heap: list[tuple[float, int, int, int]] = []
    seq = 0
    free = model.agents  # idle, unreserved
    reserved = 0  # agents held for protected calls in flight
    in_flight = 0  # ordinary calls ringing
    waiting: deque[int] = deque()  # ordinary customers answered, no agent yet (lazy)
    n_waiting = 0
    state = bytearray(n_contacts)
    due: deque[int] = deque()  # protected contacts reached in the list, not dialled yet
    nxt = 0  # the next contact of the list
    dials_done = live_done = abandoned = live_window = 0
    calls = connected = p_calls = p_live = p_abandoned = 0
    busy = 0.0
    busy_agents = peak_busy = 0  # agents talking or wrapping up
    now = 0.0
    peak = 0.0

    def push(t: float, kind: int, contact: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, kind, seq, contact))

    def connect(contact: int, t: float) -> None:
        nonlocal busy, connected, busy_agents, peak_busy
        connected += 1
        busy_agents += 1
        peak_busy = max(peak_busy, busy_agents)
        busy += work[contact]
        push(t + work[contact], _AGENT_FREE, _WORK_DONE)

    stats = (0, 0, 0, 0)
    stats_at = -math.inf

    def snapshot() -> Snapshot:
        nonlocal stats, stats_at
        if now - stats_at >= stats_every:
            stats, stats_at = (dials_done, live_done, abandoned, live_window), now
        return Snapshot(free, in_flight, n_waiting, *stats)

    def pump(t: float) -> None:
        """Place the calls due now: protected ones first (each with an agent reserved),
        then what the pacer decides."""
        nonlocal free, reserved, in_flight, nxt, calls, p_calls, peak
        while nxt < n_contacts and protected[nxt]:
            due.append(nxt)
            nxt += 1
        # an agent is reserved only when the paced calls in flight can do without it
        # (Pacer.can_reserve), and while a protected contact waits for one no paced call
        # is placed (that would take it again)
        while due and pacer.can_reserve(snapshot()):
            c = due.popleft()
            free -= 1
            reserved += 1
            calls += 1
            p_calls += 1
            push(t + ring[c], _DIAL_END, c)
        if due or nxt >= n_contacts:
            return
        d = pacer.decide(snapshot())
        k = d.dials
        if k and d.level > peak:
            peak = d.level
        while k > 0 and nxt < n_contacts:
            c = nxt
            nxt += 1
            if protected[c]:
                due.append(c)  # waits for a free agent to reserve
                continue
            k -= 1
            in_flight += 1
            calls += 1
            push(t + ring[c], _DIAL_END, c)

    pump(0.0)
    while heap:
        now, kind, _seq, c = heapq.heappop(heap)
        if kind == _AGENT_FREE:
            if c == _WORK_DONE:
                busy_agents -= 1
            while waiting and state[waiting[0]] != _WAITING:
                waiting.popleft()
            if waiting:
                w = waiting.popleft()
                state[w] = _GONE
                n_waiting -= 1
                connect(w, now)
            else:
                free += 1
        elif kind == _DIAL_END:
            dials_done += 1
            live = outcome[c] == _LIVE
            if live:
                live_done += 1
                live_window += 1
            if protected[c]:
                reserved -= 1
                if live:
                    p_live += 1
                    connect(c, now)  # the agent reserved for this customer takes the call
                else:
                    push(now, _AGENT_FREE, _RELEASED)  # serves a waiting customer first
            else:
                in_flight -= 1
                if live:
                    if free > 0:
                        free -= 1
                        connect(c, now)
                    else:
                        state[c] = _WAITING
                        waiting.append(c)
                        n_waiting += 1
                        push(now + limit, _ABANDON, c)
        elif state[c] == _WAITING:  # _ABANDON: still nobody for this customer
            state[c] = _GONE
            n_waiting -= 1
            abandoned += 1
            if protected[c]:
                p_abandoned += 1
        pump(now)
    return SimResult(
        mode=pacer.mode,
        target=pacer.target,
        seed=seed,
        agents=model.agents,
        calls=calls,
        live=live_window,
        connected=connected,
        abandoned=abandoned,
        protected_calls=p_calls,
        protected_live=p_live,
        protected_abandoned=p_abandoned,
        busy_seconds=busy,
        finish=now,
        peak_level=peak,
        peak_busy=peak_busy,
    )


@dataclass(frozen=True)
class Summary:
    """Several runs of one mode: means, and the worst abandon rate."""

    mode: str
    target: float
    runs: tuple[SimResult, ...]

    def _mean(self, what: str) -> float:
        return sum(getattr(r, what) for r in self.runs) / len(self.runs) if self.runs else 0.0

    @property
    def abandon_rate(self) -> float:
        return self._mean("abandon_rate")

    @property
    def worst_abandon_rate(self) -> float:
        return max((r.abandon_rate for r in self.runs), default=0.0)

    @property
    def protected_abandoned(self) -> int:
        return sum(r.protected_abandoned for r in self.runs)

    @property
    def occupancy(self) -> float:
        return self._mean("occupancy")

    @property
    def contacts_per_hour(self) -> float:
        return self._mean("contacts_per_hour")

    @property
    def finish(self) -> float:
        return self._mean("finish")

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "target": self.target,
            "runs": len(self.runs),
            "abandon_rate_mean": round(self.abandon_rate, 5),
            "abandon_rate_worst": round(self.worst_abandon_rate, 5),
            "protected_abandoned": self.protected_abandoned,
            "occupancy": round(self.occupancy, 5),
            "contacts_per_hour": round(self.contacts_per_hour, 2),
            "finish_seconds": round(self.finish, 1),
        }


def simulate_runs(
    model: CampaignModel, mode: PacingMode, target: float, *, runs: int = 20, seed: int = 1
) -> Summary:
    """``runs`` simulations with seeds ``seed``, ``seed + 1``, …"""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, not {runs!r}")
    return Summary(
        mode, target, tuple(simulate(model, mode, target, seed=seed + i) for i in range(runs))
    )
