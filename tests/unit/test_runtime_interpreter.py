"""The live interpreter against a recording fake channel (no Asterisk)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

import pytest

from callflow import Branch, Hangup, Lookup, Menu, Queue, Site, Staff, TimeCondition
from callflow.errors import UnsupportedNode
from callflow.model.nodes import Node
from callflow.model.schedule import Hours
from callflow.runtime.ari import AriSettings, parse_event
from callflow.runtime.interpreter import Interpreter
from callflow.runtime.session import CallSession
from callflow.testing import FakeChannel


def fake_channel(digits: str = "", variables: dict[str, str] | None = None) -> FakeChannel:
    """The public recording fake, pressing ``digits`` during the menu prompt ``p`` only."""
    return FakeChannel(digits, variables, press_during={"sound:p"})


def site(*nodes: Node, entry: str = "menu") -> Site:
    return Site(
        name="t",
        entries={"100": entry},
        staff=[Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))],
        nodes=[
            *nodes,
            Queue(id="sales", members=["desk"], max_wait=60, overflow="bye"),
            Queue(id="desk", members=["desk"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ],
    )


MENU = Menu(
    id="menu",
    prompt="p",
    options={"1": "sales"},
    operator="desk",
    timeout=0.05,
    tries=2,
    invalid_prompt="inv",
    failure="bye",
)


async def run(s: Site, fake: FakeChannel, **kw: Any) -> CallSession:
    session = CallSession(fake, channel="c1", site=s.name, entry="100", caller="555")
    fake.session = session
    await Interpreter(s, **kw).run_call(session)
    return session


@pytest.mark.parametrize(
    ("digits", "trace", "dest", "last"),
    [
        ("1", " menu", "", ("continue", "cf-t-sales")),
        ("0", " menu", "", ("continue", "cf-t-desk")),
        ("55", " menu bye", "hangup", ("hangup",)),
        ("", " menu bye", "hangup", ("hangup",)),
        ("51", " menu", "", ("continue", "cf-t-sales")),
    ],
)
async def test_menu_follows_the_compiled_semantics(digits, trace, dest, last):
    fake = fake_channel(digits)
    await run(site(MENU), fake)
    assert fake.vars["CF_TRACE"] == trace
    assert fake.vars["CF_DEST"] == dest
    assert fake.ops[-1] == last
    assert fake.vars["CHANNEL(hangup_handler_push)"] == "cf-t-hooks,end,1"


async def test_time_condition_honours_cf_now():
    tc = TimeCondition(
        id="hours", hours=[Hours("mon-fri", "09:00", "17:00")], open="sales", closed="bye"
    )
    monday_10_utc = "1763978400"  # 2025-11-24 10:00 UTC
    fake = fake_channel(variables={"CF_NOW": monday_10_utc})
    await run(site(MENU, tc, entry="hours"), fake)
    assert fake.ops[-1] == ("continue", "cf-t-sales")
    fake = fake_channel(variables={"CF_NOW": str(int(monday_10_utc) + 8 * 3600)})
    await run(site(MENU, tc, entry="hours"), fake)
    assert fake.vars["CF_TRACE"] == " hours bye"


async def test_lookup_failure_makes_an_unknown_caller_and_a_slow_one_times_out():
    nodes = (
        MENU,
        Lookup(id="who", next="tier"),
        Branch(id="tier", attribute="tier", cases={"vip": "sales"}, default="menu"),
    )

    async def vip(caller: str) -> dict[str, str]:
        return {"CF_TIER": "VIP"}

    async def slow(caller: str) -> dict[str, str]:
        await asyncio.sleep(5)
        return {"CF_TIER": "vip"}

    fake = fake_channel()
    await run(site(*nodes, entry="who"), fake, lookup=vip)
    assert (fake.vars["CF_TRACE"], fake.vars["CF_LOOKUP"]) == (" who tier", "ok")
    fake = fake_channel("1", variables={"CF_TIER": "vip"})
    await run(site(*nodes, entry="who"), fake, lookup=slow, lookup_timeout=0.05)
    assert (fake.vars["CF_LOOKUP"], fake.vars["CF_TIER"]) == ("failed", "")
    assert fake.vars["CF_TRACE"] == " who tier menu"


async def test_a_found_customer_sets_every_field_as_the_compiled_lookup_does():
    nodes = (MENU, Lookup(id="who", next="menu"))

    async def partial(caller: str) -> dict[str, str]:
        return {"CF_TIER": "gold", "CF_CUSTOMER_ID": "7"}  # no language, name, region

    async def named(caller: str) -> dict[str, str]:
        return {"CF_CUSTOMER_ID": "8", "CF_CUSTOMER_NAME": "Li\nLei", "CF_LANG": "zh"}

    before = {"CF_LANG": "fr", "CF_REGION": "stale", "CALLERID(name)": "Orig Name"}
    fake = fake_channel("1", variables=dict(before))
    await run(site(*nodes, entry="who"), fake, lookup=partial)
    assert {k: fake.vars.get(k) for k in ("CF_TIER", "CF_LANG", "CF_REGION", "CALLERID(name)")} == {
        "CF_TIER": "gold", "CF_LANG": "fr", "CF_REGION": "", "CALLERID(name)": "Orig Name",
    }  # fmt: skip
    fake = fake_channel("1", variables=dict(before))
    await run(site(*nodes, entry="who"), fake, lookup=named)
    assert (fake.vars["CF_LANG"], fake.vars["CALLERID(name)"]) == ("zh", "Li Lei")


async def test_a_node_the_runtime_cannot_run_is_an_error_at_start_up():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Survey(Node):
        visit_name: ClassVar[str] = "survey"

        def destination(self) -> str | None:
            return "hangup"

    with pytest.raises(UnsupportedNode, match="live ARI runtime can't render node Survey"):
        Interpreter(site(MENU, Survey(id="survey"), entry="survey"))


async def test_a_failing_call_is_handed_back_where_it_was():
    fake = fake_channel()

    async def boom(*_: Any) -> None:
        raise RuntimeError("boom")

    fake.play = boom  # type: ignore[method-assign]
    session = await run(site(MENU), fake)
    assert fake.ops[-1] == ("continue", "cf-t-menu")
    assert fake.vars["CF_TRACE"] == ""  # the compiled context appends "menu" itself
    assert session.finished


async def test_hang_up_ends_the_call_quietly():
    fake = fake_channel()
    fake.gone = True
    await run(site(MENU), fake)
    assert ("continue", "cf-t-menu") not in fake.ops


def test_settings_never_show_the_password():
    settings = AriSettings.from_env(
        "callflow-t",
        env={
            "CALLFLOW_ARI_URL": "http://h:8088/ari",
            "CALLFLOW_ARI_USER": "u",
            "CALLFLOW_ARI_PASSWORD": "s3cret",
        },
    )
    assert "s3cret" not in repr(settings)
    assert settings.base_url == "http://h:8088/"
    assert settings.redact("auth u:s3cret failed") == "auth u:*** failed"


def test_events_are_parsed_to_what_the_runtime_needs():
    event = parse_event(
        {
            "type": "PlaybackFinished",
            "playback": {"id": "c1-p1", "target_uri": "channel:c1"},
        }
    )
    assert (event.channel, event.playback) == ("c1", "c1-p1")
    start = parse_event(
        {
            "type": "StasisStart",
            "args": ["8000"],
            "channel": {"id": "c2", "caller": {"number": "555"}},
        }
    )
    assert (start.channel, start.args, start.caller) == ("c2", ("8000",), "555")
