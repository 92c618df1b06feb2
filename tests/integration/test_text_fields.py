"""Arbitrary Unicode in every free-text field, on the real Asterisk 22 (issue 15, done when).

Each example gives every free-text field of a site its own text: arbitrary code points
(line separators, lone surrogates, non-BMP, up to 8 KB; see
``tests/unit/test_text_limits.py``). For each field, validation either refuses the text
with a path into that field and a text code (CF133-CF135), or the site compiles, deploys
with 0 warnings from Asterisk, and what Asterisk keeps reads back intact: a staff name as
app_queue's member name (AMI QueueStatus), both caller-ID prefixes in the caller's
``CALLERID(name)`` (ARI, JSON). Labels and prompt texts only reach comments; for them the
proof is a load without warnings ("Line too long" included).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from callflow import (
    Branch,
    Campaign,
    Dial,
    Goto,
    Hangup,
    Hours,
    LanguageSelect,
    Lookup,
    Menu,
    Play,
    Prompt,
    Queue,
    Site,
    Staff,
    TimeCondition,
    Voicemail,
    validate,
)
from callflow.compiler import queue_name
from callflow.model.campaigns import CallingWindow
from callflow.testing import CallDriver

from ..unit.test_text_limits import FREE_TEXT, TEXT, TEXT_CODES
from .sites import NOBODY, ari_get, load

pytestmark = pytest.mark.asterisk

NAME = "textfields"
CALLER = "Caller"


def text_site(texts: dict[tuple[type, str], str]) -> Site:
    """Entry 100: play, ring ``ann`` (nobody answers), then wait in the queue ``sales``;
    every other node type is there for its label."""

    def t(cls: type, field: str) -> str:
        return texts.get((cls, field), "")

    prompt = Prompt("beep", text=t(Prompt, "text"))
    return Site(
        name=NAME,
        label=t(Site, "label"),
        entries={"100": "hello", "101": "who"},
        staff=[Staff("ann", name=t(Staff, "name"), device=NOBODY, groups=("sales",))],
        nodes=[
            Play(id="hello", label=t(Play, "label"), prompts=prompt, next="desk"),
            Dial(
                id="desk",
                label=t(Dial, "label"),
                target="ann",
                ring=1,
                no_answer="sales",
                cid_prefix=t(Dial, "cid_prefix"),
            ),
            Queue(
                id="sales",
                label=t(Queue, "label"),
                members=["sales"],
                max_wait=60,
                overflow="vm",
                cid_prefix=t(Queue, "cid_prefix"),
            ),
            Voicemail(id="vm", label=t(Voicemail, "label"), mailbox="100"),
            Lookup(id="who", label=t(Lookup, "label"), next="lang"),
            LanguageSelect(
                id="lang",
                label=t(LanguageSelect, "label"),
                prompt=prompt,
                languages={"1": "en"},
                next="clock",
            ),
            TimeCondition(
                id="clock",
                label=t(TimeCondition, "label"),
                hours=[Hours("mon-sun", "00:00", "24:00")],
                open="tier",
                closed="bye",
            ),
            Branch(
                id="tier",
                label=t(Branch, "label"),
                attribute="tier",
                cases={"vip": "sales"},
                default="menu",
            ),
            Menu(
                id="menu",
                label=t(Menu, "label"),
                prompt=prompt,
                options={"1": "sales"},
                operator="sales",
                failure="again",
            ),
            Goto(id="again", label=t(Goto, "label"), target="bye"),
            Hangup(id="bye", label=t(Hangup, "label")),
        ],
        campaigns=[
            Campaign(
                id="followup",
                kind="followup",
                label=t(Campaign, "label"),
                connect_to="sales",
                window=CallingWindow(hours=(Hours("mon-fri", "10:00", "18:00"),)),
            )
        ],
    )


def accepted_texts(texts: dict[tuple[type, str], str]) -> dict[tuple[type, str], str]:
    """The texts validation accepts; each refusal checked to be at its field, with a code."""
    kept = {}
    for where, text in texts.items():
        found = [d for d in validate(text_site({where: text})) if d.severity.value == "error"]
        if found:
            assert {d.code for d in found} <= TEXT_CODES, found
            assert all(d.path.endswith(f".{where[1]}") for d in found), found
        else:
            kept[where] = text
    return kept


async def read_back(sandbox: Any) -> tuple[str | None, str]:
    """The queue member's name (AMI) and a waiting caller's CALLERID(name) (ARI)."""
    queue = queue_name(NAME, "sales")
    async with CallDriver.from_sandbox(sandbox) as driver:
        statuses = await driver.action({"Action": "QueueStatus", "Queue": queue})
        members = [
            m.get("name")
            for m in (statuses if isinstance(statuses, list) else [statuses])
            if m.get("event") == "QueueMember"
        ]
        handle = await driver.start_call(
            f"cf-{NAME}-entry", "100", caller_id="5550100", caller_name=CALLER, hold=20
        )
        try:
            waiting = await driver.wait_for_callers(queue, 1, timeout=8)
            assert waiting, "the caller never reached the queue"
            found = await ari_get(
                sandbox, f"channels/{waiting[0].uniqueid}/variable", variable="CALLERID(name)"
            )
        finally:
            await handle.hangup()
            await handle.wait_end()
    assert len(members) == 1, members
    return members[0], found["value"]


#: one line of text that could be a real name or prefix, hostile characters included
PLAUSIBLE = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        st.sampled_from(',;"\\()[]${}=#-\u4e2d\U0001f600 '),
    ),
    max_size=24,
)
TEXTS = st.fixed_dictionaries({where: st.one_of(TEXT, PLAUSIBLE) for where in FREE_TEXT})
HOSTILE_BUT_VALID = {
    where: ';--\\",()${SHELL(touch /tmp/x)} \u4e2d\U0001f600' for where in FREE_TEXT
}
ISSUE_15 = {
    (Staff, "name"): "\U0001f600" * 1024,
    (Queue, "cid_prefix"): "\U00010348" * 4096,
    (Dial, "cid_prefix"): '",;()\\' * 683,
    (Prompt, "text"): "press one\u2028exten => s,1,System(touch /tmp/x)\x85\u2029",
    (Site, "label"): "\ud800",
}


@settings(
    max_examples=12,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(texts=HOSTILE_BUT_VALID)
@example(texts=ISSUE_15)
@given(texts=TEXTS)
def test_any_text_is_refused_at_its_field_or_deploys_cleanly_and_reads_back(sandbox, texts):
    started = time.monotonic()
    kept = accepted_texts(texts)
    if texts is HOSTILE_BUT_VALID:
        assert kept == texts
    if texts is ISSUE_15:
        assert list(kept) == [(Prompt, "text")]
    site = text_site(kept)
    assert [d for d in validate(site) if d.severity.value == "error"] == []
    assert load(sandbox, site) == [], "Asterisk logged warnings loading the site"
    member, cid_name = asyncio.run(read_back(sandbox))
    name = kept.get((Staff, "name"), "").strip(" ")
    assert member == (name or NOBODY)
    prefixes = kept.get((Queue, "cid_prefix"), "") + kept.get((Dial, "cid_prefix"), "")
    # Asterisk drops the spaces a caller-ID name starts with (a prefix of spaces is lost)
    assert cid_name == (prefixes + CALLER).lstrip(" ")
    assert time.monotonic() - started < 15
