"""The pacer: progressive is one call per free agent, predictive keeps the binomial
look-ahead's risk under the allowed abandon risk and backs off on the measured rate."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow.dialer.predictive import Pacer, Snapshot, binomial_tail, max_in_flight


def snap(free=4, in_flight=0, waiting=0, dials=1000, live_answers=350, abandoned=0, live=350):
    return Snapshot(free, in_flight, waiting, dials, live_answers, abandoned, live)


def brute_tail(n: int, p: float, a: int) -> float:
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(a + 1, n + 1))


@pytest.mark.parametrize(("n", "p", "a"), [(10, 0.35, 3), (1, 0.5, 0), (40, 0.1, 6), (7, 0.9, 7)])
def test_binomial_tail_matches_the_sum(n, p, a):
    assert binomial_tail(n, p, a) == pytest.approx(brute_tail(n, p, a), abs=1e-12)


@pytest.mark.parametrize(
    ("agents", "p", "risk"), [(1, 0.35, 0.03), (4, 0.4, 0.03), (10, 0.2, 0.01)]
)
def test_max_in_flight_is_the_largest_n_under_the_risk(agents, p, risk):
    n = max_in_flight(agents, p, risk, 1000)
    assert n >= agents
    assert brute_tail(n, p, agents) <= risk + 1e-12
    assert brute_tail(n + 1, p, agents) > risk


def test_max_in_flight_known_value():
    # 4 agents, p 0.4: P(X > 4) is 0.0102 with 5 calls and 0.041 with 6
    assert max_in_flight(4, 0.4, 0.03, 100) == 5
    assert max_in_flight(4, 0.4, 0.05, 100) == 6


def test_progressive_is_one_call_per_free_agent():
    pacer = Pacer("progressive", 0.03)
    assert pacer.decide(snap(free=5, in_flight=2, waiting=1)).dials == 2
    assert pacer.decide(snap(free=2, in_flight=3)).dials == 0
    d = pacer.decide(snap(free=3))
    assert (d.dials, d.level, d.mode) == (3, 1.0, "progressive")


def test_predictive_is_progressive_below_min_samples():
    pacer = Pacer("predictive", 0.03, min_samples=50)
    d = pacer.decide(snap(free=6, in_flight=1, dials=12, live_answers=4, live=4))
    assert (d.dials, d.mode, d.reason) == (5, "progressive", "progressive: 12 of 50 samples")


def test_predictive_dials_ahead_with_enough_samples():
    pacer = Pacer("predictive", 0.03)
    d = pacer.decide(snap(free=10, dials=2000, live_answers=700, live=700))
    assert d.mode == "predictive"
    assert d.dials > 10  # more than progressive
    assert d.level == pytest.approx(d.dials / 10)
    # what it dialled keeps the look-ahead's risk under the target (p's upper bound)
    assert binomial_tail(d.dials, 0.365, 10) <= 0.03
    assert binomial_tail(d.dials + 1, 0.365, 10) > 0.03
    assert "predictive: level" in d.reason


def test_over_the_target_it_dials_no_more_than_progressive():
    pacer = Pacer("predictive", 0.03)
    over = snap(free=3, in_flight=1, abandoned=20, live=350)  # 5.7 %
    d = pacer.decide(over)
    assert d.dials == 2
    assert "held to progressive: abandon 5.71% over 3.00%" in d.reason
    assert pacer.decide(snap(free=0, in_flight=0, abandoned=20, live=350)).dials == 0


def test_it_dials_ahead_only_while_one_more_abandon_keeps_the_rate_under_target():
    pacer = Pacer("predictive", 0.01)
    # 99 live-answered calls: one abandon would be 1.01 % > 1 %
    early = pacer.decide(snap(free=5, in_flight=1, dials=300, live_answers=99, live=99))
    assert early.dials == 4
    assert "one more abandon would make 1.00% (target 1.00%)" in early.reason
    assert pacer.decide(snap(free=5, in_flight=1, dials=300, live_answers=100, live=100)).dials > 4
    # 3 abandoned of 350 at 1 %: 4 would be 1.14 %
    assert pacer.decide(snap(free=5, in_flight=1, abandoned=3, live=350)).dials == 4
    assert not pacer.can_reserve(snap(free=5, in_flight=5, abandoned=3, live=350))


def test_the_feedback_loop_lowers_the_risk_over_the_setpoint_and_raises_it_slowly():
    pacer = Pacer("predictive", 0.03)
    pacer.decide(snap(abandoned=9, live=300))  # the first snapshot only starts the count
    assert pacer.gain == 1.0
    pacer.decide(snap(abandoned=10, live=350))  # 2.9 %: over 0.8 * 3 %, 50 new live calls
    assert pacer.gain == pytest.approx(0.95**50)
    fell = pacer.gain
    pacer.decide(snap(abandoned=10, live=350))
    assert pacer.gain == fell  # no new live-answered calls: no change
    pacer.decide(snap(abandoned=10, live=2000))  # 0.5 %: well under, 1650 new
    assert pacer.gain == pacer.max_gain
    pacer.decide(snap(abandoned=10, live=2010))
    assert pacer.gain == pacer.max_gain  # bounded
    pacer.decide(snap(abandoned=40, live=2030))  # 2.0 %: between half the setpoint and it
    assert pacer.gain == pacer.max_gain
    more = pacer.decide(snap(free=10, abandoned=40, live=2030)).dials
    pacer.gain = pacer.min_gain
    fewer = pacer.decide(snap(free=10, abandoned=40, live=2030)).dials
    assert 10 <= fewer < more


def test_a_protected_contact_gets_an_agent_only_when_the_calls_in_flight_can_spare_it():
    prog = Pacer("progressive", 0.03)
    assert prog.can_reserve(snap(free=3, in_flight=2))
    assert not prog.can_reserve(snap(free=3, in_flight=3))
    assert not prog.can_reserve(snap(free=3, in_flight=1, waiting=2))
    pred = Pacer("predictive", 0.03)
    # 4 free agents, p <= 0.365: the look-ahead allows 5 calls in flight for 4, 3 for 3
    allowed = max_in_flight(3, 0.365, 0.03, 100)
    assert pred.can_reserve(snap(free=4, in_flight=allowed))
    assert not pred.can_reserve(snap(free=4, in_flight=allowed + 1))
    assert not pred.can_reserve(snap(free=1, in_flight=1))
    assert pred.can_reserve(snap(free=1, in_flight=0))
    gain = pred.gain
    pred.can_reserve(snap(abandoned=30, live=400))
    assert pred.gain == gain  # asking moves nothing


def test_as_dict_is_json():
    pacer = Pacer("predictive", 0.05)
    assert pacer.as_dict()["reason"] is None
    pacer.decide(snap())
    state = json.loads(json.dumps(pacer.as_dict()))
    assert state["mode"] == "predictive"
    assert state["answer_rate"] == 0.35
    assert state["decided_as"] == "predictive"
    assert state["dials"] >= 4


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        (("preview", 0.03), {}, "'preview'"),
        (("predictive", 1.5), {}, "abandon target"),
        (("predictive", 0.03), {"min_samples": -1}, "min_samples"),
        (("predictive", 0.03), {"max_gain": 0.5}, "gain bounds"),
    ],
)
def test_bad_arguments(args, kwargs, words):
    with pytest.raises(ValueError, match=words):
        Pacer(*args, **kwargs)


counts = st.integers(0, 400)


@st.composite
def snapshots(draw):
    dials = draw(st.integers(0, 5000))
    live_answers = draw(st.integers(0, dials))
    live = draw(st.integers(0, 5000))
    return Snapshot(
        free_agents=draw(counts),
        in_flight=draw(counts),
        waiting=draw(st.integers(0, 50)),
        dials=dials,
        live_answers=live_answers,
        abandoned=draw(st.integers(0, live)),
        live=live,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(snapshots(), min_size=1, max_size=5),
    st.sampled_from(["progressive", "predictive"]),
    st.sampled_from([0.0, 0.01, 0.03, 0.05, 0.2]),
)
def test_any_snapshot_gives_a_sane_decision(snaps, mode, target):
    pacer = Pacer(mode, target)
    for s in snaps:
        d = pacer.decide(s)
        assert d.dials >= 0
        assert d.level >= 0
        progressive = max(0, s.free_agents - s.in_flight - s.waiting)
        if mode == "progressive":
            assert d.dials == progressive <= s.free_agents
        else:
            assert d.dials >= progressive  # never less than progressive
            if s.abandoned + 1 > target * s.live:  # over target, or no budget for one more
                assert d.dials == progressive
                if s.free_agents == 0:
                    assert d.dials == 0
            if s.free_agents - s.waiting > 0 and d.dials:
                assert (
                    s.in_flight + d.dials
                    <= math.floor((s.free_agents - s.waiting) * pacer.max_level)
                    or d.dials == progressive
                )
        json.dumps(pacer.as_dict())
        reserve = pacer.can_reserve(s)
        if s.free_agents - s.waiting <= 0:
            assert not reserve
        if mode == "progressive":
            assert reserve == (s.free_agents - s.waiting - s.in_flight >= 1)
