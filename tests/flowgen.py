"""Generators of valid callflow sites and their callers, shared by the differential tests
(:mod:`tests.unit.test_flow_differential` without Asterisk,
:mod:`tests.integration.test_generated_sites` on the real sandbox).

Sites are random DAGs of menus, language selects, branches, time conditions (in zones
with daylight saving, at instants around the changes) and lookups, ending in queues,
dials, voicemail and hang-ups; callers are random CRM customers (non-ASCII and edge
values included) or unknown.
"""

from __future__ import annotations

import datetime as dt
import typing
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from callflow import Ask, Branch, Hangup, Lookup, Menu, Queue, Site, Staff, TimeCondition
from callflow.model.nodes import (
    BranchAttribute,
    Dial,
    Goto,
    LanguageSelect,
    Play,
    PriorityRule,
    Voicemail,
)
from callflow.model.schedule import Hours
from callflow.store.repositories import CustomerView

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
def nodes_at(
    draw: st.DrawFn,
    i: int,
    later: list[str],
    timeout: float = 0.01,
    max_tries: int = 3,
    ask: bool = False,
) -> Any:
    nid = f"n{i}"
    to = _targets(later)
    maybe = st.none() | to
    kinds = ["menu", "lang", "branch", "branch", "branch", "time", "lookup", "play", "goto"]
    kind = draw(st.sampled_from([*kinds, "ask"] if ask else kinds))
    if kind == "ask":
        return Ask(
            id=nid,
            prompt=f"ask_{nid}",
            answers=draw(st.sampled_from(["12345", "1", "90", "123456789"])),
            next=draw(to),
            question=draw(st.sampled_from([None, "q", "rate"])),
            timeout=timeout,
            tries=draw(st.integers(1, max_tries)),
            invalid_prompt=draw(st.sampled_from([None, f"inv_{nid}"])),
            timeout_prompt=draw(st.sampled_from([None, f"tmo_{nid}"])),
            invalid=draw(maybe),
            on_timeout=draw(maybe),
            failure=draw(maybe),
        )
    if kind == "menu":
        return Menu(
            id=nid,
            prompt=f"ask_{nid}",
            options=draw(
                st.dictionaries(st.sampled_from(list("123456789*#")), to, min_size=1, max_size=4)
            ),
            operator=draw(st.sampled_from(["q0", "q1", "d0"])),  # a way to a person
            timeout=timeout,
            tries=draw(st.integers(1, max_tries)),
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
            timeout=timeout,
            default=draw(st.sampled_from([None, "en", "zh"])),
        )
    if kind == "branch":
        attribute = draw(st.sampled_from(typing.get_args(BranchAttribute)))
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
def sites(
    draw: st.DrawFn,
    name: str = "gen",
    timeout: float = 0.01,
    max_tries: int = 3,
    device: str = "PJSIP/1",
    ask: bool = False,
) -> Site:
    """A valid site named ``name`` with entry ``100``. ``timeout`` is every menu's and
    language select's (the shortest valid by default: the live side really waits), menus
    try at most ``max_tries`` times, ``device`` is the one agent's phone; ``ask`` lets the
    flow hold Ask nodes too."""
    count = draw(st.integers(1, 6))
    ids = [f"n{i}" for i in range(count)]
    flow = [draw(nodes_at(i, ids[i + 1 :], timeout, max_tries, ask)) for i in range(count)]
    # every call meets the CRM and a branch on what it said, then the generated flow
    attribute = draw(st.sampled_from(typing.get_args(BranchAttribute)))
    pool = {"tags": ["vip", "serviced", "a_1", "k"], "language": ["zh", "zh_tw", "en", "ey"]}
    cases = st.dictionaries(st.sampled_from(pool.get(attribute, CASES)), _targets(ids), max_size=3)
    flow[:0] = [
        Lookup(id="look", next="route"),
        Branch(id="route", attribute=attribute, cases=draw(cases), default=flow[0].id),
    ]
    return Site(
        name=name,
        entries={"100": flow[0].id},
        timezone=draw(st.sampled_from(ZONES)),
        priority=PriorityRule({"vip": 10, "gold": 5}, default=1),
        staff=[Staff("ann", name="Ann", device=device, groups=("desk",))],
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
def customers(draw: st.DrawFn, text: bool = True) -> CustomerView | None:
    """A CRM customer (one in five: None, unknown); with ``text`` some values are any
    text at all, else all come from :data:`EDGE_VALUES`."""
    if draw(st.integers(0, 4)) == 0:
        return None
    edge = st.sampled_from(EDGE_VALUES)
    value = st.one_of(*[edge] * 9, st.text(max_size=12)) if text else edge
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
