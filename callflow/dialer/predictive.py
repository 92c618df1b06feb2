"""How many calls to place now: progressive and predictive pacing for agent campaigns.

One pacer decides for the live dialer and for the simulator (:mod:`callflow.dialer.simulator`)
alike; both hand it a :class:`Snapshot` of the campaign now and place the
:class:`Decision`'s ``dials``::

    pacer = Pacer("predictive", target=0.03)
    d = pacer.decide(Snapshot(free_agents=4, in_flight=2, waiting=0, dials=400,
                              live_answers=140, abandoned=3, live=140))
    d.dials, d.level, d.reason        # (3, 1.25, 'predictive: level 1.25, ...')

**progressive**: one call in flight per free agent, never more:
``dials = max(0, free_agents - in_flight - waiting)``. Nobody answered is ever left
without an agent (a waiting customer counts against the free agents).

**predictive** is the binomial look-ahead of the predictive-dialling literature (Samuelson,
"Predictive dialing for outbound telephone call centers", *Interfaces* 29(5), 1999;
Gans, Koole & Mandelbaum, "Telephone call centers: tutorial, review, and research
prospects", *M&SOM* 5(2), 2003): each call in flight is answered by a person with the
measured probability ``p``, independently, so the number of people answering ``n``
calls in flight is Binomial(n, p). The pacer keeps the largest ``n`` with::

    P(Binomial(n, p) > free_agents - waiting) <= risk

i.e. the chance that more people answer than there are agents for them stays under the
allowed abandon risk. ``p`` is not the bare ratio ``live_answers / dials`` but its
Wilson upper bound (one standard error): a small or lucky sample dials less, not more.
Counting every call in flight at the full ``p`` is also on the safe side, as a call that
has rung for a while is less likely to be answered than a fresh one.

The **feedback loop** on the measured abandon rate (``abandoned / live`` over the
campaign's window) sets ``risk = target * gain``: each new live-answered call in the
window multiplies ``gain`` by ``1 - step`` while the rate is over ``setpoint * target``
and by ``1 + step / 10`` (slowly) while it is under half of that; ``gain`` stays within
``[min_gain, max_gain]``. While the measured rate is **over** the target, or one more
abandoned call would put it over (``abandoned + 1 > target * live``: the abandon budget
is spent, or not earned yet), the pacer dials no more than progressive would (so it
never dials with no free agent); below ``min_samples`` finished dials it *is*
progressive.

Customers of protected tiers are not paced at all: the dialer reserves a free agent for
each one before dialling it and leaves reserved agents out of ``free_agents``, and their
calls out of ``in_flight``. It reserves one only when :meth:`Pacer.can_reserve` says the
paced calls in flight can do without that agent, and places no paced call while a
protected contact waits for one (else reserving would abandon a paced call's customer,
and paced calls would keep taking the agent the protected contact waits for).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

__all__ = ["Decision", "Pacer", "PacingMode", "Snapshot", "binomial_tail", "max_in_flight"]

PacingMode = Literal["progressive", "predictive"]
#: the answer probability is rounded up to this grid (a cache key; never rounds down)
_P_GRID = 200
#: calls in flight per free agent at most, whatever the look-ahead says
_MAX_LEVEL = 6.0


@dataclass(frozen=True)
class Snapshot:
    """The campaign now, as the pacer sees it (counts, all >= 0)."""

    free_agents: int  # idle, unpaused, unreserved agents of the campaign queue now
    in_flight: int  # calls dialled (not protected-tier) not yet answered or failed
    waiting: int  # answered customers waiting for an agent right now
    dials: int  # finished dials the answer probability is measured over
    live_answers: int  # of those, answered by a person (AMD human/notsure or no AMD)
    #: abandon-window counts: abandoned live-answered calls of live-answered calls (with
    #: the machine correction, its estimated false positives added to both: floats)
    abandoned: float
    live: float


@dataclass(frozen=True)
class Decision:
    """What to do now."""

    dials: int  # calls to place now (>= 0)
    level: float  # dial-ahead level used (calls in flight per free agent)
    mode: str  # "progressive" | "predictive"
    reason: str  # one line for `campaign status` (e.g. "progressive: 12 of 50 samples")


def binomial_tail(n: int, p: float, a: int) -> float:
    """P(Binomial(n, p) > a), summed in log space with :func:`math.comb`'s exact
    coefficients (no scipy)."""
    if a < 0:
        return 1.0
    if a >= n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    below = sum(math.exp(math.log(math.comb(n, k)) + k * lp + (n - k) * lq) for k in range(a + 1))
    return max(0.0, 1.0 - below)


@lru_cache(maxsize=8192)
def max_in_flight(agents: int, p: float, risk: float, cap: int) -> int:
    """The largest ``n`` (``agents <= n <= cap``) with ``P(Binomial(n, p) > agents) <=
    risk``: how many calls may be in flight for ``agents`` free agents.

    Walks ``n`` up from ``agents`` (where the tail is 0) with the recurrences
    ``P(X_{n+1} <= a) = P(X_n <= a) - p * P(X_n = a)`` and
    ``P(X_{n+1} = a) = P(X_n = a) * q * (n + 1) / (n + 1 - a)``."""
    if agents <= 0:
        return 0
    if p <= 0.0:
        return cap
    if p >= 1.0:
        return agents
    q = 1.0 - p
    n = agents
    cdf = 1.0  # P(X_n <= a) with n == a
    log_pmf = agents * math.log(p)  # log P(X_n = a) with n == a
    while n < cap:
        nxt = cdf - p * math.exp(log_pmf)
        if 1.0 - nxt > risk:
            break
        cdf = nxt
        n += 1
        log_pmf += math.log(q) + math.log(n) - math.log(n - agents)
    return n


def _wilson_upper(successes: int, n: int, z: float = 1.0) -> float:
    """The Wilson score interval's upper end for a proportion."""
    if n <= 0:
        return 1.0
    phat = min(max(successes / n, 0.0), 1.0)
    denom = 1.0 + z * z / n
    centre = phat + z * z / (2 * n)
    spread = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / denom)


class Pacer:
    """Decides how many calls to place now (see the module's docstring).

    ``mode``: ``"progressive"`` or ``"predictive"``; ``target``: the abandon rate to stay
    at or under (0.03 = 3 %); ``min_samples``: finished dials needed before dialling
    ahead; ``setpoint``: the share of ``target`` the feedback loop aims at; ``step``: how
    fast the gain falls per live-answered call over the setpoint (it rises ten times
    slower); ``min_gain``/``max_gain``: the bounds of ``risk / target``; ``max_level``:
    calls in flight per free agent at most."""

    def __init__(
        self,
        mode: Literal["progressive", "predictive"],
        target: float,
        *,
        min_samples: int = 50,
        setpoint: float = 0.8,
        step: float = 0.05,
        min_gain: float = 0.05,
        max_gain: float = 5.0,
        max_level: float = _MAX_LEVEL,
    ) -> None:
        if mode not in ("progressive", "predictive"):
            raise ValueError(f"pacing mode must be 'progressive' or 'predictive', not {mode!r}")
        if not (math.isfinite(target) and 0 <= target < 1):
            raise ValueError(f"abandon target must be a rate in [0, 1), not {target!r}")
        if min_samples < 0:
            raise ValueError(f"min_samples must be >= 0, not {min_samples!r}")
        if not (0 < min_gain <= 1 <= max_gain):
            raise ValueError(f"gain bounds must hold 0 < min_gain <= 1 <= max_gain, "
                             f"not {min_gain!r}, {max_gain!r}")  # fmt: skip
        if not (0 < setpoint <= 1 and 0 < step < 1 and max_level >= 1):
            raise ValueError("need 0 < setpoint <= 1, 0 < step < 1 and max_level >= 1")
        self.mode: PacingMode = mode
        self.target = float(target)
        self.min_samples = min_samples
        self.setpoint = setpoint
        self.step = step
        self.min_gain = min_gain
        self.max_gain = max_gain
        self.max_level = max_level
        self.gain = 1.0
        self._seen_live: float | None = None
        self._last: Decision | None = None
        self._last_snapshot: Snapshot | None = None

    # ---- feedback -------------------------------------------------------------------------
    def _feedback(self, s: Snapshot) -> float:
        """Update the gain for the live-answered calls new since the last decision; the
        measured abandon rate."""
        live = max(s.live, 0)
        rate = min(max(s.abandoned, 0), live) / live if live else 0.0
        # the first snapshot (a dialer starting on a window with history) only sets
        # where counting starts: the gain moves with what this pacer lived through
        new = 0 if self._seen_live is None else live - self._seen_live
        self._seen_live = live
        if new > 0 and self.mode == "predictive":
            aim = self.setpoint * self.target
            if rate > aim:
                self.gain = max(self.min_gain, self.gain * (1 - self.step) ** new)
            elif rate < aim / 2:
                self.gain = min(self.max_gain, self.gain * (1 + self.step / 10) ** new)
        return rate

    # ---- the decision ---------------------------------------------------------------------
    def decide(self, s: Snapshot) -> Decision:
        """How many calls to place now for the campaign in ``s``."""
        free = max(s.free_agents, 0)
        in_flight = max(s.in_flight, 0)
        waiting = max(s.waiting, 0)
        rate = self._feedback(s)
        progressive = max(0, free - in_flight - waiting)
        samples = max(s.dials, 0)
        if self.mode == "progressive":
            d = Decision(progressive, 1.0, "progressive", "progressive: one call per free agent")
        elif samples < self.min_samples:
            d = Decision(
                progressive,
                1.0,
                "progressive",
                f"progressive: {samples} of {self.min_samples} samples",
            )
        elif rate > self.target:
            d = Decision(
                progressive,
                1.0,
                "predictive",
                f"predictive held to progressive: abandon {rate:.2%} over {self.target:.2%}",
            )
        elif not self._budget(s):
            then = (max(s.abandoned, 0) + 1) / (max(s.live, 0) + 1)
            d = Decision(
                progressive,
                1.0,
                "predictive",
                f"predictive held to progressive: one more abandon would make {then:.2%} "
                f"(target {self.target:.2%})",
            )
        else:
            d = self._look_ahead(s, free - waiting, in_flight, rate, progressive)
        self._last, self._last_snapshot = d, s
        return d

    def _budget(self, s: Snapshot) -> bool:
        """Whether one more abandoned call keeps the measured rate at or under target:
        ``abandoned + 1 <= target * live`` (a 1 % campaign dials ahead from its 100th
        live-answered call on; a small window can never be pushed over by one call)."""
        return max(s.abandoned, 0) + 1 <= self.target * max(s.live, 0)

    def _answer_p(self, s: Snapshot) -> tuple[float, float]:
        """The measured answer probability and its Wilson upper bound on the grid."""
        answers = min(max(s.live_answers, 0), s.dials)
        return answers / s.dials, math.ceil(_wilson_upper(answers, s.dials) * _P_GRID) / _P_GRID

    def _max_n(self, agents: int, p: float) -> int:
        """Calls in flight the look-ahead allows for ``agents`` free agents now."""
        if agents <= 0:
            return 0
        cap = max(agents, math.floor(agents * self.max_level))
        return max_in_flight(agents, p, round(self.target * self.gain, 6), cap)

    def _look_ahead(
        self, s: Snapshot, agents: int, in_flight: int, rate: float, progressive: int
    ) -> Decision:
        p_hat, p = self._answer_p(s)
        risk = self.target * self.gain
        n = self._max_n(agents, p)
        dials = max(progressive, n - in_flight, 0)
        level = (in_flight + dials) / agents if agents > 0 else 0.0
        return Decision(
            dials,
            round(level, 3),
            "predictive",
            f"predictive: level {level:.2f}, P(answer) {p_hat:.2f} (<= {p:.3f}), "
            f"abandon {rate:.2%} of {self.target:.2%}, risk {risk:.2%}",
        )

    def can_reserve(self, s: Snapshot) -> bool:
        """Whether one of ``s``'s free agents may be reserved now for a protected-tier
        contact: the paced calls in flight must keep their risk with one agent fewer
        (progressive, or predictive while it dials as progressive: an agent no call in
        flight counts on). Does not move the feedback loop; while a protected contact
        waits for an agent the dialer places no paced call."""
        agents = max(s.free_agents, 0) - max(s.waiting, 0)
        in_flight = max(s.in_flight, 0)
        if agents <= 0:
            return False
        live = max(s.live, 0)
        rate = min(max(s.abandoned, 0), live) / live if live else 0.0
        if (
            self.mode == "progressive"
            or s.dials < self.min_samples
            or rate > self.target
            or not self._budget(s)
        ):
            return agents - in_flight >= 1
        return in_flight <= self._max_n(agents - 1, self._answer_p(s)[1])

    def as_dict(self) -> dict[str, Any]:
        """The pacer's state, JSON-able, for ``campaign status`` (``dialers.pacing``)."""
        d, s = self._last, self._last_snapshot
        return {
            "mode": self.mode,
            "target": self.target,
            "min_samples": self.min_samples,
            "gain": round(self.gain, 4),
            "risk": round(self.target * self.gain, 6),
            "samples": None if s is None else s.dials,
            "answer_rate": None if s is None or not s.dials else round(s.live_answers / s.dials, 4),
            "abandon_rate": None if s is None or not s.live else round(s.abandoned / s.live, 4),
            "abandoned": None if s is None else round(s.abandoned, 2),
            "live": None if s is None else round(s.live, 2),
            "dials": None if d is None else d.dials,
            "level": None if d is None else d.level,
            "decided_as": None if d is None else d.mode,
            "reason": None if d is None else d.reason,
        }
