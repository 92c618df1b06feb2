"""What a queue's priority rule costs: expected waits per customer tier.

A queue that serves VIPs first (``QUEUE_PRIO``) is a non-preemptive priority M/M/c queue:
Poisson arrivals per tier, exponential handling times with one mean (``aht``), ``c``
agents. Cobham's formula, in its multi-server form, gives the mean wait of priority
class ``k`` (classes ordered from the highest priority, ``sigma_k`` the load of classes
``1..k`` divided by ``c``)::

    W_k = (C(c, a) / (c * mu)) / ((1 - sigma_{k-1}) * (1 - sigma_k))

with ``C(c, a)`` Erlang C's probability of waiting. A seeded discrete-event simulation
(pure Python) checks the formula and also models callers who give up after ``max_wait``
(the queue's overflow), which the formula does not::

    fc = forecast({"vip": 5, "standard": 60}, PriorityRule({"vip": 10}), aht=240, agents=4)
    fc.tier("standard").mean_wait, fc.tier("standard").fifo_wait

Arrivals are calls per hour; times are seconds.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from callflow.model.nodes import PriorityRule

__all__ = [
    "DesStats",
    "Forecast",
    "TierForecast",
    "erlang_c",
    "forecast",
    "priority_classes",
    "priority_waits",
    "simulate_queue",
]


def erlang_c(agents: int, load: float) -> float:
    """Erlang C: the probability that a caller has to wait (``load`` in Erlangs)."""
    if agents <= 0:
        return 1.0
    if load >= agents:
        return 1.0
    b = 1.0  # Erlang B by the stable recursion
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return agents * b / (agents - load * (1 - b))


def priority_classes(
    arrivals: Mapping[str, float], rule: PriorityRule
) -> list[tuple[int, tuple[str, ...]]]:
    """Tiers grouped by the priority ``rule`` gives them, highest priority first (tiers
    with equal priority share one FIFO class, as in app_queue)."""
    groups: dict[int, list[str]] = {}
    for tier in arrivals:
        groups.setdefault(rule.priority_for(tier), []).append(tier)
    return [(p, tuple(sorted(groups[p]))) for p in sorted(groups, reverse=True)]


def priority_waits(
    arrivals: Mapping[str, float], rule: PriorityRule, *, aht: float, agents: int
) -> dict[str, float]:
    """Mean wait (seconds) of each tier under ``rule``; ``inf`` where the queue never
    catches up with that class."""
    mu = 1.0 / aht
    lam = {t: n / 3600.0 for t, n in arrivals.items()}
    load = sum(lam.values()) / mu
    w0 = erlang_c(agents, load) / (agents * mu)
    out: dict[str, float] = {}
    sigma_prev = 0.0
    for _prio, tiers in priority_classes(arrivals, rule):
        sigma = sigma_prev + sum(lam[t] for t in tiers) / (agents * mu)
        wait = math.inf if sigma >= 1 else w0 / ((1 - sigma_prev) * (1 - sigma))
        for t in tiers:
            out[t] = wait
        sigma_prev = sigma
    return out


def _service_level(p_wait: float, mean_wait: float, seconds: float) -> float:
    """P(wait <= seconds) when the wait, given that there is one, is exponential with the
    mean that makes the overall mean ``mean_wait`` (exact for FIFO M/M/c)."""
    if math.isinf(mean_wait):
        return 0.0
    if mean_wait <= 0 or p_wait <= 0:
        return 1.0
    return 1.0 - p_wait * math.exp(-seconds * p_wait / mean_wait)


@dataclass(frozen=True)
class DesStats:
    """One tier's outcome in the discrete-event simulation."""

    calls: int
    mean_wait: float
    service_level: float
    overflow: float


def simulate_queue(
    arrivals: Mapping[str, float],
    rule: PriorityRule,
    *,
    aht: float,
    agents: int,
    calls: int = 200_000,
    seed: int = 1,
    max_wait: float | None = None,
    sl_seconds: float = 20.0,
    warmup: float = 0.05,
) -> dict[str, DesStats]:
    """Simulate ``calls`` arrivals (the first ``warmup`` share is not counted) at a
    non-preemptive priority queue with ``agents`` servers and exponential service.

    With ``max_wait`` callers still waiting after that many seconds leave for the
    overflow; ``overflow`` is their share and their time is not counted as a wait.
    """
    rng = random.Random(seed)
    tiers = list(arrivals)
    rates = [arrivals[t] / 3600.0 for t in tiers]
    total = sum(rates)
    if total <= 0:
        return {t: DesStats(0, 0.0, 1.0, 0.0) for t in tiers}
    order = priority_classes(arrivals, rule)
    klass = {t: i for i, (_p, group) in enumerate(order) for t in group}
    queues: list[deque[tuple[float, int, bool]]] = [deque() for _ in order]
    busy: list[float] = []  # departure times
    n = {t: 0 for t in range(len(tiers))}
    wsum = [0.0] * len(tiers)
    ok = [0] * len(tiers)
    lost = [0] * len(tiers)
    served = [0] * len(tiers)
    skip = int(calls * warmup)
    cum = [sum(rates[: i + 1]) / total for i in range(len(tiers))]
    now = 0.0
    next_arrival = rng.expovariate(total)
    arrived = 0

    def record(tier: int, wait: float, counted: bool) -> None:
        if not counted:
            return
        served[tier] += 1
        wsum[tier] += wait
        if wait <= sl_seconds:
            ok[tier] += 1

    while arrived < calls or busy:
        if busy and (busy[0] <= next_arrival or arrived >= calls):
            now = heapq.heappop(busy)
            for q in queues:
                while q:
                    t_arr, tier, counted = q.popleft()
                    if max_wait is not None and now - t_arr > max_wait:
                        if counted:
                            lost[tier] += 1
                        continue
                    record(tier, now - t_arr, counted)
                    heapq.heappush(busy, now + rng.expovariate(1.0 / aht))
                    break
                else:
                    continue
                break
            continue
        if arrived >= calls:
            break
        now = next_arrival
        u = rng.random()
        tier = next(i for i, c in enumerate(cum) if u <= c or i == len(cum) - 1)
        counted = arrived >= skip
        arrived += 1
        if counted:
            n[tier] += 1
        if len(busy) < agents:
            record(tier, 0.0, counted)
            heapq.heappush(busy, now + rng.expovariate(1.0 / aht))
        else:
            queues[klass[tiers[tier]]].append((now, tier, counted))
        next_arrival = now + rng.expovariate(total)
    for q in queues:  # callers still waiting when the run ends
        for t_arr, tier, counted in q:
            if counted and max_wait is not None and now - t_arr > max_wait:
                lost[tier] += 1
    out: dict[str, DesStats] = {}
    for i, t in enumerate(tiers):
        done = max(served[i], 1)
        out[t] = DesStats(
            calls=n[i],
            mean_wait=wsum[i] / done,
            service_level=ok[i] / max(n[i], 1) if max_wait else ok[i] / done,
            overflow=lost[i] / max(n[i], 1),
        )
    return out


@dataclass(frozen=True)
class TierForecast:
    """One tier: the formula's mean wait and service level, FIFO's for comparison, and
    the simulation's (None when it was not run)."""

    tier: str
    priority: int
    per_hour: float
    mean_wait: float
    service_level: float
    fifo_wait: float
    fifo_service_level: float
    des: DesStats | None = None

    @property
    def priority_cost(self) -> float:
        """Seconds of wait the priority rule adds (negative: saves) against FIFO."""
        return self.mean_wait - self.fifo_wait


@dataclass(frozen=True)
class Forecast:
    """Waits per tier at a queue under a priority rule (see :func:`forecast`)."""

    agents: int
    aht: float
    load: float
    occupancy: float
    p_wait: float
    sl_seconds: float
    tiers: tuple[TierForecast, ...]
    max_wait: float | None = None

    def tier(self, name: str) -> TierForecast:
        for t in self.tiers:
            if t.tier == name:
                return t
        raise KeyError(name)

    @property
    def lowest(self) -> TierForecast:
        """The tier served last (the ordinary callers)."""
        return min(self.tiers, key=lambda t: (t.priority, -t.per_hour))

    def starves(self) -> bool:
        """Whether priority pushes the lowest tier's mean wait past ``max_wait`` (or
        makes it unbounded) while FIFO would keep it within."""
        low = self.lowest
        limit = self.max_wait if self.max_wait is not None else math.inf
        return (low.mean_wait > limit and low.fifo_wait <= limit) or (
            math.isinf(low.mean_wait) and not math.isinf(low.fifo_wait)
        )

    def as_dict(self) -> dict[str, object]:
        def num(x: float) -> float | None:
            return None if math.isinf(x) else round(x, 3)

        return {
            "agents": self.agents,
            "aht": self.aht,
            "load_erlangs": round(self.load, 3),
            "occupancy": round(self.occupancy, 4),
            "p_wait": round(self.p_wait, 4),
            "sl_seconds": self.sl_seconds,
            "max_wait": self.max_wait,
            "tiers": [
                {
                    "tier": t.tier,
                    "priority": t.priority,
                    "per_hour": t.per_hour,
                    "mean_wait": num(t.mean_wait),
                    "service_level": round(t.service_level, 4),
                    "fifo_wait": num(t.fifo_wait),
                    "fifo_service_level": round(t.fifo_service_level, 4),
                    "des": None
                    if t.des is None
                    else {
                        "calls": t.des.calls,
                        "mean_wait": round(t.des.mean_wait, 3),
                        "service_level": round(t.des.service_level, 4),
                        "overflow": round(t.des.overflow, 4),
                    },
                }
                for t in self.tiers
            ],
        }

    def describe(self) -> str:
        def sec(x: float) -> str:
            return "never" if math.isinf(x) else f"{x:.1f}s"

        lines = [
            f"{self.agents} agents, AHT {self.aht:g}s, load {self.load:.2f} Erl "
            f"(occupancy {self.occupancy:.0%}), P(wait) {self.p_wait:.0%}, "
            f"service level = answered within {self.sl_seconds:g}s",
            f"{'tier':<12}{'prio':>5}{'calls/h':>9}{'wait':>10}{'SL':>7}"
            f"{'FIFO wait':>11}{'FIFO SL':>9}{'cost':>9}{'DES wait':>10}{'DES SL':>8}"
            f"{'overflow':>10}",
        ]
        for t in self.tiers:
            finite = not (math.isinf(t.mean_wait) or math.isinf(t.fifo_wait))
            cost = f"{t.priority_cost:+.1f}s" if finite else "-"
            des = (
                f"{sec(t.des.mean_wait):>10}{t.des.service_level:>8.0%}{t.des.overflow:>10.1%}"
                if t.des
                else ""
            )
            lines.append(
                f"{t.tier:<12}{t.priority:>5}{t.per_hour:>9g}{sec(t.mean_wait):>10}"
                f"{t.service_level:>7.0%}{sec(t.fifo_wait):>11}{t.fifo_service_level:>9.0%}"
                f"{cost:>9}{des}"
            )
        if self.starves():
            low = self.lowest
            lines.append(
                f"priority starves {low.tier!r}: mean wait {sec(low.mean_wait)} "
                f"against {sec(low.fifo_wait)} first-come-first-served"
            )
        return "\n".join(lines)


def forecast(
    arrivals: Mapping[str, float],
    rule: PriorityRule,
    *,
    aht: float,
    agents: int,
    sl_seconds: float = 20.0,
    max_wait: float | None = None,
    des_calls: int = 0,
    seed: int = 1,
) -> Forecast:
    """Mean wait and service level per tier under ``rule``, against FIFO (Erlang C);
    with ``des_calls`` > 0 also a simulation of that many calls (giving up after
    ``max_wait`` when set)."""
    if not (math.isfinite(aht) and aht > 0):
        raise ValueError(f"aht must be a positive number of seconds, not {aht!r}")
    if isinstance(agents, bool) or not isinstance(agents, int) or agents <= 0:
        raise ValueError(f"agents must be a whole number >= 1, not {agents!r}")
    for tier, n in arrivals.items():
        if not (math.isfinite(n) and n >= 0):
            raise ValueError(f"arrivals[{tier!r}] must be a number >= 0 per hour, not {n!r}")
    if not (math.isfinite(sl_seconds) and sl_seconds >= 0):
        raise ValueError(f"sl_seconds must be a number >= 0, not {sl_seconds!r}")
    if max_wait is not None and not (math.isfinite(max_wait) and max_wait > 0):
        raise ValueError(f"max_wait must be a positive number of seconds, not {max_wait!r}")
    if des_calls < 0:
        raise ValueError(f"des_calls must be >= 0, not {des_calls!r}")
    mu = 1.0 / aht
    lam_total = sum(arrivals.values()) / 3600.0
    load = lam_total / mu
    p_wait = erlang_c(agents, load)
    fifo = math.inf if load >= agents else p_wait / (agents * mu - lam_total)
    waits = priority_waits(arrivals, rule, aht=aht, agents=agents)
    des = (
        simulate_queue(
            arrivals,
            rule,
            aht=aht,
            agents=agents,
            calls=des_calls,
            seed=seed,
            max_wait=max_wait,
            sl_seconds=sl_seconds,
        )
        if des_calls
        else {}
    )
    rows = []
    for prio, tiers in priority_classes(arrivals, rule):
        for t in tiers:
            rows.append(
                TierForecast(
                    tier=t,
                    priority=prio,
                    per_hour=arrivals[t],
                    mean_wait=waits[t],
                    service_level=_service_level(p_wait, waits[t], sl_seconds),
                    fifo_wait=fifo,
                    fifo_service_level=_service_level(p_wait, fifo, sl_seconds),
                    des=des.get(t),
                )
            )
    return Forecast(
        agents=agents,
        aht=aht,
        load=load,
        occupancy=min(load / agents, 1.0),
        p_wait=p_wait,
        sl_seconds=sl_seconds,
        tiers=tuple(rows),
        max_wait=max_wait,
    )
