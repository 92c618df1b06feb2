"""The simulator walks examples/four_s_dealer.py exactly as its compiled dialplan does."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow import Dial, Hangup, Menu, Queue, Site, Staff
from callflow.errors import UnsupportedNode
from callflow.loader import load_site
from callflow.model.nodes import Node, Play
from callflow.simulate import (
    SILENCE,
    RouteMismatch,
    Script,
    SimulationError,
    Simulator,
    assert_route,
    caller,
    simulate,
)

ROOT = Path(__file__).resolve().parents[2]
SITE = load_site(str(ROOT / "examples/four_s_dealer.py"))
SIM = Simulator(SITE)

MON_10 = dt.datetime(2027, 3, 1, 10, 0)  # open
MON_20 = dt.datetime(2027, 3, 1, 20, 0)  # closed
SAT_0830 = dt.datetime(2027, 3, 6, 8, 30)  # closed (weekend opens at 9)
SAT_0900 = dt.datetime(2027, 3, 6, 9, 0)  # open
MON_1800 = dt.datetime(2027, 3, 1, 18, 0)  # closed: end is excluded
NATIONAL_DAY = dt.datetime(2027, 10, 1, 10, 0)  # a holiday, during opening hours

HEAD = ["identify", "vip_check", "hours"]
OPEN = [*HEAD, "greeting", "main"]

CASES = [
    # (entry, script, at, trace, dest)
    ("8000", caller("1"), MON_10, [*OPEN, "sales"], "queue:sales"),
    ("8000", caller("2"), MON_10, [*OPEN, "service"], "queue:service"),
    ("8000", caller("3"), MON_10, [*OPEN, "care"], "queue:care"),
    ("8000", caller("9"), MON_10, [*OPEN, "front_desk_queue"], "queue:front_desk_queue"),
    ("8000", caller("0"), MON_10, [*OPEN, "front_desk_queue"], "queue:front_desk_queue"),
    ("8000", caller(), MON_10, [*OPEN, "front_desk_queue"], "queue:front_desk_queue"),
    ("8000", caller("7", "8"), MON_10, [*OPEN, "front_desk_queue"], "queue:front_desk_queue"),
    ("8000", caller("7", "2"), MON_10, [*OPEN, "service"], "queue:service"),
    ("8000", caller(SILENCE, "3"), MON_10, [*OPEN, "care"], "queue:care"),
    ("8000", caller(answered={"greeting"}), MON_10, [*HEAD, "greeting"], "dial:front_desk"),
    ("8000", caller(tier="vip"), MON_10, ["identify", "vip_check", "vip_sales"], "queue:vip_sales"),
    (
        "8000",
        caller(tier=" V.I.P "),
        MON_10,
        ["identify", "vip_check", "vip_sales"],
        "queue:vip_sales",
    ),
    ("8000", caller(tier="vip"), MON_20, ["identify", "vip_check", "vip_sales"], "queue:vip_sales"),
    (
        "8000",
        caller(tier="vip", lookup_fails=True),
        MON_10,
        [*OPEN, "front_desk_queue"],
        "queue:front_desk_queue",
    ),
    ("8000", caller("1", tier="gold"), MON_10, [*OPEN, "sales"], "queue:sales"),
    ("8000", caller("1"), MON_20, [*HEAD, "after_hours", "sales_voicemail"], "voicemail:2000"),
    ("8000", caller("2"), MON_20, [*HEAD, "after_hours", "service_voicemail"], "voicemail:3000"),
    ("8000", caller("0"), MON_20, [*HEAD, "after_hours", "care"], "queue:care"),
    ("8000", caller(), MON_20, [*HEAD, "after_hours", "goodbye"], "hangup"),
    ("8000", caller("5", "5", "5"), MON_20, [*HEAD, "after_hours", "goodbye"], "hangup"),
    ("8000", caller("1"), SAT_0830, [*HEAD, "after_hours", "sales_voicemail"], "voicemail:2000"),
    ("8000", caller("1"), SAT_0900, [*OPEN, "sales"], "queue:sales"),
    ("8000", caller("1"), MON_1800, [*HEAD, "after_hours", "sales_voicemail"], "voicemail:2000"),
    (
        "8000",
        caller("1"),
        NATIONAL_DAY,
        [*HEAD, "holiday_notice", "after_hours", "sales_voicemail"],
        "voicemail:2000",
    ),
    ("8001", caller("1"), MON_20, ["main", "sales"], "queue:sales"),
    ("8001", caller(), MON_20, ["main", "front_desk_queue"], "queue:front_desk_queue"),
    (
        "8001",
        caller("1", queues={"sales": "timeout"}),
        MON_10,
        ["main", "sales", "sales_voicemail"],
        "voicemail:2000",
    ),
    (
        "8001",
        caller("2", queues={"service": "joinempty"}),
        MON_10,
        ["main", "service", "service_voicemail"],
        "voicemail:3000",
    ),
]


@pytest.mark.parametrize(("entry", "script", "at", "trace", "dest"), CASES)
def test_scripted_calls_over_the_4s_dealer(entry, script, at, trace, dest):
    result = SIM.run(entry, script, at)
    assert_route(result, trace, dest)


def test_elapsed_time_counts_ring_prompts_timeouts_and_invalid_prompts():
    # greeting rings 15 s; the menu prompt (3 s default) times out (5 s); again; failure
    result = SIM.run("8000", caller(), MON_10)
    assert result.elapsed == 15 + (3 + 5) * 2
    # an invalid key plays the menu prompt and then the 'invalid' prompt
    assert SIM.run("8001", caller("7", "1"), MON_10).elapsed == 3 + 3 + 3


def test_queue_priority_comes_from_the_tier_and_manager_rings_first():
    vip = SIM.run("8000", caller(customer={"tier": "VIP", "manager": "wang"}), MON_10)
    assert (vip.priority, vip.path, vip.elapsed) == (10, "manager-then-queue", 15)
    answered = SIM.run("8000", caller(tier="vip", customer={"manager": "wang"}, manager="answer"))
    assert answered.path == "manager" and answered.dest == "queue:vip_sales"
    away = SIM.run("8000", caller(tier="vip", customer={"manager": "wang"}, manager="away"))
    assert (away.path, away.elapsed) == ("manager-then-queue", 0)
    # a manager that is no staff id (after filtering) is skipped
    nobody = SIM.run("8000", caller(tier="vip", customer={"manager": "Wang"}), MON_10)
    assert nobody.path == "queue"
    gold = SIM.run("8000", caller("1", tier="gold"), MON_10)
    assert (gold.priority, gold.path) == (5, "queue")
    # entry 8001 has no lookup: whatever the CRM would say, the caller is unknown
    assert SIM.run("8001", caller("1", tier="gold"), MON_10).priority == 0
    unknown = SIM.run("8001", caller("2"), MON_10)
    assert unknown.priority == 0
    assert SIM.run("8001", caller(), MON_20).priority == 0
    assert SIM.run("8000", caller(), MON_20).priority is None


def test_lookup_fields_as_the_end_event_reports_them():
    found = SIM.run("8000", caller(customer={"id": "42", "tier": "gold", "manager": "wang"}))
    assert (found.lookup, found.customer_id, found.manager, found.tier) == (
        "ok",
        "42",
        "wang",
        "gold",
    )
    unknown = SIM.run("8000", caller(), MON_10)
    assert (unknown.lookup, unknown.customer_id, unknown.tier) == ("ok", "", "")
    down = SIM.run("8000", caller(tier="vip", lookup_fails=True), MON_10)
    assert (down.lookup, down.tier) == ("failed", "")
    assert SIM.run("8001", caller("1"), MON_10).lookup == ""


def test_time_conditions_read_aware_times_in_the_site_zone():
    utc = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
    assert SIM.run("8000", caller("1"), utc).dest == "queue:sales"


def test_assert_route_shows_the_walk_when_it_fails():
    result = SIM.run("8001", caller("1"), MON_10)
    with pytest.raises(RouteMismatch, match="dest 'queue:sales' != expected 'queue:care'"):
        assert_route(result, dest="queue:care")


def test_bad_scripts_and_entries_are_refused():
    with pytest.raises(SimulationError):
        Script(inputs=["12"])
    with pytest.raises(SimulationError):
        Script(customer={"vip": "yes"})
    with pytest.raises(SimulationError, match="not an entry point"):
        SIM.run("9999")


def test_a_loop_that_never_ends_is_reported():
    site = Site(
        name="loop",
        entries={"1": "m"},
        staff=[Staff("a", name="A", device="PJSIP/1", groups=("g",))],
        nodes=[
            Menu(id="m", prompt="p", options={"1": "q"}, operator="q", on_timeout="m"),
            Queue(id="q", members=["g"], max_wait=10, overflow="bye"),
            Hangup(id="bye"),
        ],
    )
    with pytest.raises(SimulationError, match=r"loops forever: m -> m, with no input left"):
        simulate(site, "1", script=caller())
    # the same loop with inputs left is no loop: a wrong key, then a timeout, then "1"
    result = simulate(site, "1", script=caller("5", SILENCE, "1"))
    assert (result.trace, result.dest) == (["m", "m", "q"], "queue:q")
    with pytest.raises(SimulationError, match="did not end after 1 steps"):
        Simulator(site, max_steps=1).run("1", caller(SILENCE, "1"))


def test_a_long_chain_without_loops_walks_to_its_end():
    """A valid loop-free chain of 10,000 nodes is no loop, whatever its length."""
    size = 10_000
    chain = [Play(id=f"p{i}", prompts="p", next=f"p{i + 1}") for i in range(size)]
    site = Site(
        name="chain",
        entries={"1": "p0"},
        staff=[Staff("s", name="S", device="PJSIP/1", groups=("g",))],
        nodes=[*chain, Queue(id=f"p{size}", members=["g"], max_wait=10, overflow="bye"),
               Hangup(id="bye")],
    )  # fmt: skip
    result = simulate(site, "1")
    assert len(result.trace) == size + 1
    assert result.dest == f"queue:p{size}"


def test_going_round_a_loop_the_caller_leaves_is_no_loop():
    """Going back to a node with fewer inputs left is progress, not a loop."""
    site = Site(
        name="round",
        entries={"1": "a"},
        staff=[Staff("s", name="S", device="PJSIP/1", groups=("g",))],
        nodes=[
            Menu(id="a", prompt="p", options={"1": "b", "2": "q"}, on_timeout="q"),
            Menu(id="b", prompt="p", options={"1": "a", "2": "q"}),
            Queue(id="q", members=["g"], max_wait=10, overflow="a"),
        ],
    )
    result = simulate(site, "1", script=caller("1111112"))
    assert result.trace == ["a", "b", "a", "b", "a", "b", "a", "q"]
    # a queue that overflows back into the menu with no keys left loops for real
    with pytest.raises(SimulationError, match="loops forever"):
        simulate(site, "1", script=caller("2", queues={"q": "timeout"}))


def test_caller_name_is_the_crm_name_behind_every_prefix():
    """CALLERID(name) as the compiled dialplan composes it (four_s_dealer: the VIP queue
    has cid_prefix "VIP ")."""
    vip = {"tier": "vip", "manager": "nobody", "name": "  Wang\n Wei "}
    result = simulate(SITE, "8000", script=caller(customer=vip, caller_name="net name"))
    assert result.dest == "queue:vip_sales"
    assert result.caller_name == "VIP Wang Wei"
    # a customer without a name keeps the caller's; a failed lookup too
    result = simulate(SITE, "8000", script=caller(tier="vip", caller_name="net name"))
    assert result.caller_name == "VIP net name"
    # Asterisk strips blanks and control characters at both ends whenever it sets the name
    assert simulate(SITE, "8000", script=caller(tier="vip")).caller_name == "VIP"
    padded = caller(tier="vip", caller_name=" \t net\x01 ")
    assert simulate(SITE, "8000", script=padded).caller_name == "VIP net"
    failed = caller("1", lookup_fails=True, caller_name='a,b"c\\d')
    assert simulate(SITE, "8001", script=failed, at=MON_10).caller_name == 'a,b"c\\d'


def test_the_name_limit_matches_the_lookup():
    """The simulator cuts and flattens a CRM name exactly as the FastAGI lookup sends it."""
    from callflow.runtime.lookup import NAME_LIMIT, assignments
    from callflow.store.repositories import CustomerView

    raw = "Li\tLei  " + "x" * 200
    view = CustomerView(1, raw, "vip", Decimal(0), None, None, None, None, None, ())
    sent = dict(assignments(view))["CALLERID(name)"]
    result = simulate(SITE, "8000", script=caller(customer={"tier": "vip", "name": raw}))
    assert result.caller_name == "VIP " + sent
    assert len(sent) == NAME_LIMIT


def test_one_call_time_serves_the_simulator_and_real_calls():
    """call_time(at) is the CF_NOW a real call needs to see what simulate(at=) sees."""
    from zoneinfo import ZoneInfo

    from callflow.simulate import call_time

    aware = MON_20.replace(tzinfo=ZoneInfo(SITE.timezone))
    assert call_time(MON_20, SITE.timezone) == call_time(aware) == str(int(aware.timestamp()))
    with pytest.raises(ValueError, match="naive datetime needs the site's timezone"):
        call_time(MON_20)
    # the time given once in the script is the time given to simulate
    by_script = simulate(SITE, "8000", script=caller("1", at=MON_20))
    assert by_script.trace == simulate(SITE, "8000", script=caller("1"), at=MON_20).trace
    assert by_script.trace != simulate(SITE, "8000", script=caller("1"), at=MON_10).trace


def test_unknown_node_types_are_refused_at_start_up():
    class Fax(Node):
        visit_name = "fax"

    site = Site(name="fax", entries={"1": "f"}, nodes=[Fax(id="f")])
    with pytest.raises(UnsupportedNode, match="the simulator can't render node Fax"):
        Simulator(site, validate=False)


def test_dial_outcomes():
    site = Site(
        name="d",
        entries={"1": "desk"},
        staff=[Staff("a", name="A", device="PJSIP/1", groups=("g",))],
        nodes=[Dial(id="desk", target="g", ring=10), Hangup(id="bye")],
    )
    sim = Simulator(site, validate=False)
    assert sim.run("1", Script(dials={"desk": "busy"})).elapsed == 0
    r = sim.run("1", Script())
    assert (r.trace, r.dest, r.elapsed) == (["desk"], "hangup", 10)


# -- property: a trace is a walk along the graph's edges -------------------------------------
inputs = st.lists(st.one_of(st.none(), st.sampled_from(list("0123456789*#"))), max_size=6)
moments = st.datetimes(min_value=dt.datetime(2026, 12, 25), max_value=dt.datetime(2027, 12, 31))
customers = st.fixed_dictionaries(
    {},
    optional={
        "tier": st.sampled_from(["vip", "VIP", "gold", "silver", "x", ""]),
        "manager": st.sampled_from(["wang", "lily", "nobody", ""]),
        "tags": st.lists(st.sampled_from(["serviced", "vip", "a.b"]), max_size=3),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    entry=st.sampled_from(sorted(SITE.entries)),
    keys=inputs,
    at=moments,
    customer=customers,
    fails=st.booleans(),
    answered=st.sets(st.sampled_from(["greeting"])),
    queues=st.dictionaries(
        st.sampled_from([q.id for q in SITE.queues()]),
        st.sampled_from(["wait", "timeout", "full", "joinempty"]),
    ),
    manager=st.sampled_from(["answer", "noanswer", "away"]),
)
def test_every_trace_walks_the_graph_and_ends_at_its_destination(
    entry, keys, at, customer, fails, answered, queues, manager
):
    script = Script(
        inputs=keys,
        customer=customer or None,
        lookup_fails=fails,
        answered=answered,
        queues=queues,
        manager=manager,
    )
    result = SIM.run(entry, script, at)
    nodes = SITE.node_map
    assert result.trace[0] == SITE.entries[entry]
    for a, b in zip(result.trace, result.trace[1:], strict=False):
        assert b in nodes[a].edges().values(), f"{a} -> {b} is not an edge"
    last = nodes[result.trace[-1]]
    if result.dest != "hangup" or last.destination() == "hangup":
        assert last.destination() == result.dest
    else:  # an unset failure/no_answer/overflow hangs up
        assert None in last.edges().values()
    assert result.elapsed >= 0
