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

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callflow import Ask, Branch, Hangup, Lookup, Menu, Queue, Site, Staff
from callflow.contract import (
    CF_ANSWERS,
    CF_DEST,
    CF_LANG,
    CF_LOOKUP,
    CF_NOW,
    CF_TRACE,
    CHANNEL_LANGUAGE,
)
from callflow.model.nodes import Dial, LanguageSelect
from callflow.runtime.lookup import assignments
from callflow.simulate import Script, Simulator, call_time
from callflow.store.repositories import CustomerView
from callflow.testing import FakeChannel, run_live_call

from ..flowgen import DST_DAYS, KEYS, customers, script_customer, sites


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
    site=sites(ask=True),
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
