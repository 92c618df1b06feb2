"""Cobham's priority M/M/c formula against a seeded discrete-event simulation."""

import math
import re

import pytest

from callflow import PriorityRule
from callflow.forecast import erlang_c, forecast, priority_waits, simulate_queue

RULE = PriorityRule({"vip": 10, "gold": 5})

CASES = [
    # arrivals per hour, aht, agents
    ({"vip": 5, "gold": 20, "standard": 40}, 240, 6),
    ({"vip": 10, "standard": 20}, 180, 2),
    ({"vip": 20, "gold": 20, "standard": 20}, 120, 3),
    ({"vip": 40, "standard": 10}, 240, 4),  # the VIP share starves ordinary callers
]


def test_erlang_c_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(4, 5) == 1.0


def test_single_class_is_fifo_erlang_c():
    (w,) = priority_waits({"all": 30}, PriorityRule(), aht=240, agents=3).values()
    a = 30 * 240 / 3600
    assert w == pytest.approx(erlang_c(3, a) / (3 / 240 - 30 / 3600))


@pytest.mark.parametrize(("arrivals", "aht", "agents"), CASES)
def test_formula_matches_the_simulation_within_5_percent(arrivals, aht, agents):
    fc = forecast(arrivals, RULE, aht=aht, agents=agents, des_calls=150_000, seed=7)
    for t in fc.tiers:
        assert t.des is not None
        assert t.des.mean_wait == pytest.approx(t.mean_wait, rel=0.05), t.tier
        assert t.des.service_level == pytest.approx(t.service_level, abs=0.05), t.tier


def test_priority_costs_ordinary_callers_what_it_saves_vips():
    fc = forecast(
        {"vip": 40, "standard": 10}, PriorityRule({"vip": 10}), aht=240, agents=4, max_wait=300
    )
    low = fc.lowest
    assert low.tier == "standard"
    assert low.mean_wait > 300 > low.fifo_wait
    assert fc.starves()
    assert fc.tier("vip").priority_cost < 0 < low.priority_cost
    # the load-weighted mean wait is the same as FIFO's (work conservation)
    mean = sum(t.per_hour * t.mean_wait for t in fc.tiers) / 50
    assert mean == pytest.approx(low.fifo_wait)
    assert "priority starves 'standard'" in fc.describe()


def test_overload_and_reneging():
    fc = forecast({"vip": 50, "standard": 12}, RULE, aht=240, agents=4)
    assert math.isinf(fc.tier("standard").mean_wait)
    assert fc.as_dict()["tiers"][1]["mean_wait"] is None
    des = simulate_queue(
        {"vip": 50, "standard": 12}, RULE, aht=240, agents=4, calls=20_000, max_wait=60
    )
    assert des["standard"].overflow > des["vip"].overflow > 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"aht": math.nan}, "aht must be"),
        ({"aht": math.inf}, "aht must be"),
        ({"aht": 0}, "aht must be"),
        ({"agents": 0}, "agents must be"),
        ({"agents": 2.5}, "agents must be"),
        ({"arrivals": {"vip": math.nan}}, "arrivals['vip']"),
        ({"arrivals": {"vip": -5}}, "arrivals['vip']"),
        ({"arrivals": {"vip": math.inf}}, "arrivals['vip']"),
        ({"sl_seconds": -1}, "sl_seconds"),
        ({"sl_seconds": math.nan}, "sl_seconds"),
        ({"max_wait": math.nan}, "max_wait"),
        ({"des_calls": -1}, "des_calls"),
    ],
)
def test_bad_numbers_are_refused_by_name(change, words):
    args = {"arrivals": {"vip": 5, "standard": 60}, "aht": 240, "agents": 4, **change}
    with pytest.raises(ValueError, match=re.escape(words)):
        forecast(args.pop("arrivals"), PriorityRule({"vip": 10}), **args)
