"""The simulator and the live runtime drive one flow machine: on generated sites and
callers they must walk every call the same way (no Asterisk: the live side runs on
:class:`callflow.testing.FakeChannel`).

Sites are random DAGs of menus, language selects, branches, time conditions (in zones
with daylight saving, at instants around the changes) and lookups, ending in queues,
dials, voicemail and hang-ups; callers press random keys or stay silent and are random
CRM customers (non-ASCII and edge values included), unknown, or meet a lookup that is
down. The live runtime hands queues, dials and voicemail to the compiled dialplan, so
the comparison is up to that hand-off: the simulator must have entered the same node.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callflow import Ask, Branch, Hangup, Lookup, Menu, Queue, Site, Staff, TimeCondition
from callflow.contract import (
    CF_ANSWERS,
    CF_DEST,
    CF_LANG,
    CF_LOOKUP,
    CF_NOW,
    CF_TRACE,
    CHANNEL_LANGUAGE,
)
from callflow.model.nodes import Dial, Goto, LanguageSelect, Play, PriorityRule, Voicemail
from callflow.model.schedule import Hours
from callflow.runtime.lookup import assignments
from callflow.simulate import Script, Simulator, call_time
from callflow.store.repositories import CustomerView
from callflow.testing import FakeChannel, run_live_call

#: values a CRM may hold for tier, segment, language and region
EDGE_VALUES = [
    "vip",
    "VIP",
    "V\u0130P",  # capital I with dot: TOLOWER leaves it, so no 'vip'
    "\u212aey",  # Kelvin sign
    "\uff36\uff29\uff30",  # full-width VIP
    "vip\u00a0",  # NBSP
    "",
    "x" * 85,
    "12345",
    "GoLd",
    "stra\u00dfe",
    "\u0131p",  # dotless i
    "vi\u0307p",  # combining dot above
    "zh",
    "ZH_tw",
    " gold ",
    "a_1",
    "k",
]
CASES = ["vip", "gold", "ey", "k", "x" * 32]
TAGS = ["vip", "serviced", "a_1", "K", "\u212a", "up.grade"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Shanghai"]
HOURS = [
    Hours("mon-fri", "09:00", "18:00"),
    Hours("sat,sun", "01:30", "03:30"),  # the hour the clocks skip or repeat
    Hours("mon-sun", "22:00", "02:30"),  # past midnight
]
#: instants around daylight-saving changes (and a plain day), in UTC
DST_DAYS = [
    dt.datetime(2025, 3, 30, 0, 0, tzinfo=dt.UTC),  # Europe springs forward at 01:00 UTC
    dt.datetime(2025, 10, 26, 0, 0, tzinfo=dt.UTC),  # and falls back
    dt.datetime(2025, 3, 9, 6, 0, tzinfo=dt.UTC),  # New York springs forward at 07:00 UTC
    dt.datetime(2025, 11, 2, 5, 0, tzinfo=dt.UTC),
    dt.datetime(2025, 4, 5, 15, 0, tzinfo=dt.UTC),  # Sydney falls back at 16:00 UTC
    dt.datetime(2025, 10, 4, 15, 0, tzinfo=dt.UTC),
    dt.datetime(2025, 11, 24, 2, 0, tzinfo=dt.UTC),
]
TERMINALS = ["q0", "q1", "d0", "vm", "bye"]
KEYS = st.sampled_from(list("0123456789*#"))


def _targets(later: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(later + TERMINALS)


@st.composite
def nodes_at(draw: st.DrawFn, i: int, later: list[str]) -> Any:
    nid = f"n{i}"
    to = _targets(later)
    maybe = st.none() | to
    kind = draw(
        st.sampled_from(
            ["menu", "ask", "lang", "branch", "branch", "branch", "time", "lookup", "play", "goto"]
        )
    )
    if kind == "menu":
        return Menu(
            id=nid,
            prompt=f"ask_{nid}",
            options=draw(
                st.dictionaries(st.sampled_from(list("123456789*#")), to, min_size=1, max_size=4)
            ),
            operator=draw(st.sampled_from(["q0", "q1", "d0"])),  # a way to a person
            timeout=0.01,  # the shortest valid: the live side really waits
            tries=draw(st.integers(1, 3)),
            invalid_prompt=draw(st.sampled_from([None, f"inv_{nid}"])),
            timeout_prompt=draw(st.sampled_from([None, f"tmo_{nid}"])),
            invalid=draw(maybe),
            on_timeout=draw(maybe),
            failure=draw(maybe),
        )
    if kind == "ask":
        return Ask(
            id=nid,
            prompt=f"ask_{nid}",
            answers=draw(st.sampled_from(["12345", "1", "90", "123456789"])),
            next=draw(to),
            question=draw(st.sampled_from([None, "q", "rate"])),
            timeout=0.01,  # the shortest valid: the live side really waits
            tries=draw(st.integers(1, 3)),
            invalid_prompt=draw(st.sampled_from([None, f"inv_{nid}"])),
            timeout_prompt=draw(st.sampled_from([None, f"tmo_{nid}"])),
            invalid=draw(maybe),
            on_timeout=draw(maybe),
            failure=draw(maybe),
        )
    if kind == "lang":
        return LanguageSelect(
            id=nid,
            prompt=f"ask_{nid}",
            languages=draw(
                st.dictionaries(st.sampled_from("123"), st.sampled_from(["zh", "en", "zh_TW"]))
            ),
            next=draw(to),
            timeout=0.01,  # the shortest valid: the live side really waits
            default=draw(st.sampled_from([None, "en", "zh"])),
        )
    if kind == "branch":
        attribute = draw(st.sampled_from(["tier", "segment", "language", "region", "tags"]))
        pool = ["vip", "serviced", "a_1", "k"] if attribute == "tags" else CASES
        if attribute == "language":
            pool = ["zh", "zh_tw", "en", "ey"]
        return Branch(
            id=nid,
            attribute=attribute,
            cases=draw(st.dictionaries(st.sampled_from(pool), to, max_size=3)),
            default=draw(to),
        )
    if kind == "time":
        return TimeCondition(
            id=nid,
            hours=draw(st.lists(st.sampled_from(HOURS), min_size=1, max_size=2, unique=True)),
            open=draw(to),
            closed=draw(to),
            holidays=draw(st.lists(st.sampled_from([d.date() for d in DST_DAYS]), max_size=2)),
            holiday=draw(maybe),
            timezone=draw(st.sampled_from([None, *ZONES])),
        )
    if kind == "lookup":
        return Lookup(id=nid, next=draw(to))
    if kind == "play":
        return Play(id=nid, prompts=f"say_{nid}", next=draw(to))
    return Goto(id=nid, target=draw(to))


@st.composite
def sites(draw: st.DrawFn) -> Site:
    count = draw(st.integers(1, 6))
    ids = [f"n{i}" for i in range(count)]
    flow = [draw(nodes_at(i, ids[i + 1 :])) for i in range(count)]
    # every call meets the CRM and a branch on what it said, then the generated flow
    attribute = draw(st.sampled_from(["tier", "segment", "language", "region", "tags"]))
    pool = {"tags": ["vip", "serviced", "a_1", "k"], "language": ["zh", "zh_tw", "en", "ey"]}
    cases = st.dictionaries(st.sampled_from(pool.get(attribute, CASES)), _targets(ids), max_size=3)
    flow[:0] = [
        Lookup(id="look", next="route"),
        Branch(id="route", attribute=attribute, cases=draw(cases), default=flow[0].id),
    ]
    return Site(
        name="gen",
        entries={"100": flow[0].id},
        timezone=draw(st.sampled_from(ZONES)),
        priority=PriorityRule({"vip": 10, "gold": 5}, default=1),
        staff=[Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))],
        nodes=[
            *flow,
            Queue(id="q0", members=["desk"], max_wait=60, overflow="bye", manager_first=10),
            Queue(id="q1", members=["ann"], max_wait=30, overflow="vm", cid_prefix="VIP: "),
            Dial(id="d0", target="ann", ring=10, no_answer="bye"),
            Voicemail(id="vm", mailbox="100"),
            Hangup(id="bye", prompts="goodbye"),
        ],
    )


@st.composite
def customers(draw: st.DrawFn) -> CustomerView | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    value = st.one_of(*[st.sampled_from(EDGE_VALUES)] * 9, st.text(max_size=12))
    return CustomerView(
        id=draw(st.integers(1, 10**6)),
        name=draw(st.sampled_from(["", "Wang Wei", "  Li\tNa ", "\u0130lker"])),
        tier=draw(value),
        value=Decimal(0),
        manager_id=draw(st.sampled_from([None, "ann", "bob", "ANN"])),
        manager_device=None,
        region=draw(st.none() | value),
        language=draw(st.none() | value),
        timezone=None,
        tags=tuple(sorted(draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True)))),
    )


def script_customer(view: CustomerView) -> dict[str, str]:
    """The simulator's picture of what the lookup server answers about ``view``."""
    return {
        "id": str(view.id),
        "tier": view.tier,
        "manager": view.manager_id or "",
        "language": view.language or "",
        "segment": view.region or view.tier,  # as runtime.lookup.assignments sends it
        "region": view.region or "",
        "tags": ".".join(view.tags),
        "name": view.name,
    }


def live_walk(
    site: Site, keys: list[str | None], view: CustomerView | None, down: bool, at: dt.datetime
) -> tuple[list[str], str, str, str, str]:
    async def crm(number: str) -> dict[str, str] | None:
        if down:
            raise ConnectionError("the CRM is down")
        return dict(assignments(view))

    prompts = {
        f"sound:ask_{n.id}" for n in site.nodes if isinstance(n, Menu | LanguageSelect | Ask)
    }
    fake = FakeChannel(keys, {CF_NOW: call_time(at)}, press_during=prompts)
    asyncio.run(run_live_call(site, "100", fake, caller="5550001", lookup=crm))
    trace = fake.vars.get(CF_TRACE, "").split()
    dest = fake.vars.get(CF_DEST, "")
    last = fake.ops[-1]
    if last[0] == "continue":  # handed to a compiled context: it enters the node
        node = site.node_map[last[1].removeprefix("cf-gen-")]
        trace.append(node.id)
        dest = node.destination() or dest
    language, lookup = fake.vars.get(CHANNEL_LANGUAGE, ""), fake.vars.get(CF_LOOKUP, "")
    return trace, dest, language, lookup, fake.vars.get(CF_ANSWERS, "")


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site=sites(),
    keys=st.lists(st.none() | KEYS, max_size=8),
    view=customers(),
    down=st.integers(0, 4).map(lambda n: n == 0),
    at=st.sampled_from(DST_DAYS).flatmap(
        lambda day: st.integers(-180, 24 * 60).map(lambda m: day + dt.timedelta(minutes=m))
    ),
)
def test_the_simulator_and_the_live_runtime_walk_every_call_alike(
    site: Site, keys: list[str | None], view: CustomerView | None, down: bool, at: dt.datetime
) -> None:
    dials = [n.id for n in site.nodes if isinstance(n, Dial)]
    script = Script(
        inputs=keys,
        customer=None if view is None else script_customer(view),
        lookup_fails=down,
        caller_id="5550001",
        answered=dials,  # the walk ends at the dial, where the live runtime hands off
    )
    simulated = Simulator(site).run("100", script, at)
    trace, dest, language, lookup, answers = live_walk(site, keys, view, down, at)
    assert (simulated.trace, simulated.dest) == (trace, dest)
    assert simulated.variables.get(CF_ANSWERS, "") == answers
    assert simulated.language == language
    assert simulated.variables.get(CF_LOOKUP, "") == lookup
    assert simulated.variables.get(CF_LANG, "") in ("", language) or lookup == "ok"


def test_the_dotted_capital_i_is_no_vip_anywhere() -> None:
    """The reproduced divergence of issue 10: simulate() lowered 'VİP' to 'vip' with
    str.lower() while the runtime (and Asterisk's TOLOWER) left the İ alone."""
    site = Site(
        name="gen",
        entries={"100": "look"},
        staff=[Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))],
        nodes=[
            Lookup(id="look", next="route"),
            Branch(id="route", attribute="tier", cases={"vip": "q0", "ey": "q1"}, default="bye"),
            Queue(id="q0", members=["desk"], max_wait=60, overflow="bye"),
            Queue(id="q1", members=["desk"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ],
    )
    at = DST_DAYS[-1]
    routes = {}
    for tier in ["V\u0130P", "\u212aey", "VIP"]:
        view = CustomerView(
            id=1, name="", tier=tier, value=Decimal(0), manager_id=None, manager_device=None,
            region=None, language=None, timezone=None, tags=(),
        )  # fmt: skip
        script = Script(customer=script_customer(view), caller_id="5550001")
        simulated = Simulator(site).run("100", script, at)
        assert (simulated.trace, simulated.dest) == live_walk(site, [], view, False, at)[:2]
        routes[tier] = simulated.trace[-1]
    assert routes == {"V\u0130P": "bye", "\u212aey": "q1", "VIP": "q0"}
