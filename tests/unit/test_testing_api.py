"""What integrators import to test their own sites offline (callflow.testing)."""

from pathlib import Path

import pytest

from callflow.loader import load_site
from callflow.testing import SILENCE, RouteMismatch, assert_route, caller, simulate

SITE = load_site(str(Path(__file__).parents[2] / "examples" / "four_s_dealer.py"))


def test_a_scripted_caller_is_routed_and_checked():
    result = simulate(SITE, "8001", script=caller("3"))
    assert_route(result, ["main", "care"], "queue:care")


def test_a_wrong_expectation_fails_with_the_walk_shown():
    result = simulate(SITE, "8001", script=caller(SILENCE, SILENCE))
    with pytest.raises(RouteMismatch) as info:
        assert_route(result, ["main", "sales"], "queue:sales")
    assert "front_desk_queue" in str(info.value)
