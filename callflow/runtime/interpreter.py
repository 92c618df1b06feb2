"""Run a site's flow live over ARI: the third visitor of the model, beside the compiler.

Each node handler takes the call's :class:`~callflow.runtime.session.CallSession` and
returns the id of the next node (the next state), or None once the call has left us: it
was handed to compiled dialplan (queues, voicemail, dialling staff, so app_queue keeps
doing the queueing) or hung up. Every handler does what the node's compiled context does,
in the same order, so a call leaves the same ``CF_TRACE`` and ``CF_DEST`` live and
compiled::

    interpreter = Interpreter(site, lookup=crm.lookup)    # checks every node up front
    await interpreter.run_call(session)                   # one call, start to end

Names shared with the compiled dialplan (``cf-<site>-<node>`` contexts, the hang-up
handler, ``CF_*`` variables) are the contract documented in
:mod:`callflow.compiler.dialplan`; the integration tests place the same call both ways.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final
from zoneinfo import ZoneInfo

from callflow.contract import (
    CALLERID_NAME,
    CALLERID_NUM,
    CF_CUSTOMER_NAME,
    CF_DEST,
    CF_ENTRY,
    CF_LANG,
    CF_LOOKUP,
    CF_NOW,
    CF_PATH,
    CF_SITE,
    CF_TRACE,
    CHANNEL_LANGUAGE,
    HANGUP_HANDLER_PUSH,
    app_name,
    context_name,
    hangup_handler,
)
from callflow.errors import UnsupportedNode
from callflow.model.nodes import (
    Branch,
    Dial,
    Goto,
    Hangup,
    LanguageSelect,
    Lookup,
    Menu,
    Node,
    Play,
    Queue,
    TimeCondition,
    Voicemail,
)
from callflow.model.prompts import Prompt
from callflow.model.schedule import week_key
from callflow.model.site import Site
from callflow.model.variables import ANSWER_FIELDS, BRANCH_VARS, CUSTOMER_VARS
from callflow.model.visitor import NodeVisitor
from callflow.runtime.session import CallHungUp, CallSession, ControlError
from callflow.validate import check

__all__ = [
    "CustomerLookup",
    "Interpreter",
    "app_name",
    "context_name",
    "lookup_number",
]

log = logging.getLogger("callflow.live")

#: an in-process CRM lookup: caller number -> the channel variables the FastAGI lookup
#: route would set (``{CF_TIER: "vip", ...}``, as ``dict(assignments(view))``), or
#: None when the lookup cannot answer (the caller is then unknown, as in dialplan)
CustomerLookup = Callable[[str], Awaitable[Mapping[str, str] | None]]

#: what a lookup may set: a channel variable, or CALLERID(name) / CALLERID(num)
_ASSIGNABLE: Final = re.compile(r"[A-Z][A-Z0-9_]{0,79}|CALLERID\((?:name|num)\)")
#: an empty value from the CRM leaves these as they were (the caller's choice, the network's)
_KEPT_WHEN_EMPTY: Final = frozenset({CF_LANG, CALLERID_NAME, CALLERID_NUM})
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _filter(value: str, allowed: str) -> str:
    """Asterisk's ``${FILTER(allowed,${TOLOWER(value)})}`` for the ranges used here."""
    lowered = value.translate(_ASCII_LOWER)
    ok = set("abcdefghijklmnopqrstuvwxyz0123456789")
    ok.update(c for c in allowed if c in "_.")
    return "".join(c for c in lowered if c in ok)


def lookup_number(caller: str) -> str:
    """What the compiled Lookup passes the CRM: ``${FILTER(0-9+,${CALLERID(num)})}``."""
    return "".join(c for c in caller if c in "0123456789+")


class Interpreter(NodeVisitor[Awaitable[str | None]]):
    """Execute a site's nodes for live calls (see the module docstring)."""

    backend = "the live ARI runtime"

    def __init__(
        self,
        site: Site,
        *,
        lookup: CustomerLookup | None = None,
        lookup_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check(site)
        missing = self.unsupported(tuple(site.nodes))
        if missing:
            node = missing[0]
            raise UnsupportedNode(self.backend, type(node).__name__, node.id)
        self.site = site
        self.lookup = lookup
        self.lookup_timeout = lookup_timeout
        self.clock = clock
        self.app = app_name(site.name)

    def ctx(self, node_id: str) -> str:
        return context_name(self.site.name, node_id)

    # ---- one call ---------------------------------------------------------------------------
    async def run_call(self, session: CallSession, start: str | None = None) -> None:
        """Run one call to its end; never raises (a failure is logged and the call is
        handed back to the compiled dialplan where it was)."""
        extra = {"call": session.channel, "site": self.site.name, "entry": session.entry}
        try:
            if start is None:
                target = self.site.entries.get(session.entry)
                if target is None:
                    log.error(
                        "unknown entry %r; falling back to dialplan", session.entry, extra=extra
                    )
                    await session.leave()
                    return
                await self.setup(session)
                start = target
            state: str | None = start
            while state is not None:
                node = self.site.node_map[state]
                state = await self.visit(node, session)
        except CallHungUp:
            log.debug("caller hung up", extra={**extra, "node": session.node})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "call failed; handing it back to dialplan", extra={**extra, "node": session.node}
            )
            await self.hand_back(session)

    async def setup(self, session: CallSession) -> None:
        """What the compiled entry extension does before its first Goto."""
        session.set(CF_SITE, self.site.name)
        session.set(CF_ENTRY, session.entry)
        session.set(CF_TRACE, "")
        session.set(CF_DEST, "")
        session.set(CF_PATH, "")
        session.set(CHANNEL_LANGUAGE, self.site.language)
        session.set(HANGUP_HANDLER_PUSH, hangup_handler(self.site.name))
        await session.flush()
        await session.answer()
        session.ready = True

    async def hand_back(self, session: CallSession) -> None:
        """Continue the call in the compiled dialplan at the node it is in (its context
        appends the node to CF_TRACE again, so the trace reads as if compiled all along).
        Used on failures and on shutdown; never raises."""
        extra = {"call": session.channel, "node": session.node}
        if session.finished:
            return
        try:
            if not session.ready:
                await session.leave()  # the live entry's next step is the compiled flow
                return
            node = session.node
            trace = session.trace
            if node is not None and trace and trace[-1] == node:
                session.set(CF_TRACE, session.trace_text(trace[:-1]))
                target = node
            else:
                target = self.site.entries.get(session.entry, "")
            if target not in self.site.node_map:
                await session.hangup()
                return
            await session.continue_at(self.ctx(target))
        except (CallHungUp, ControlError) as exc:
            log.info("hand-back not possible: %s", exc, extra=extra)

    # ---- helpers ----------------------------------------------------------------------------
    @staticmethod
    def prompts(value: object) -> Sequence[Prompt]:
        return value if isinstance(value, tuple) else ()

    async def to(self, target: str | None, session: CallSession) -> str | None:
        """``goto(target)`` of the compiler: None means the hooks' hangup extension."""
        if target is not None:
            return target
        session.dest = "hangup"
        session.set(CF_DEST, "hangup")
        await session.hangup()
        return None

    async def handoff(self, node: Node, session: CallSession) -> str | None:
        """Continue in the node's compiled context (it records the node itself)."""
        await session.continue_at(self.ctx(node.id))
        return None

    async def ask(
        self, session: CallSession, prompts: Sequence[Prompt], timeout: float
    ) -> str | None:
        """Background(prompts) then WaitExten(timeout): the digit pressed, or None."""
        session.discard_digits()
        digit = await session.play(prompts, barge_in=True)
        if digit is None:
            digit = await session.wait_digit(timeout)
        return digit

    # ---- nodes ------------------------------------------------------------------------------
    async def visit_play(self, node: Play, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        await session.play(self.prompts(node.prompts))
        return node.next

    async def visit_goto(self, node: Goto, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        return node.target

    async def visit_hangup(self, node: Hangup, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        await session.play(self.prompts(node.prompts))
        await session.hangup()
        return None

    async def visit_menu(self, node: Menu, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        choices = node.choices()
        tries = 0
        while True:
            tries += 1
            digit = await self.ask(session, self.prompts(node.prompt), node.timeout)
            if digit is not None and digit in choices:
                return choices[digit]
            if digit is None:
                jump, again = node.on_timeout, self.prompts(node.timeout_prompt)
            else:
                jump, again = node.invalid, self.prompts(node.invalid_prompt)
            await session.play(again)
            if jump is not None:
                return jump
            if tries >= node.tries:
                return await self.to(node.failure, session)

    async def visit_language_select(self, node: LanguageSelect, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        digit = await self.ask(session, self.prompts(node.prompt), node.timeout)
        language = node.languages.get(digit or "", node.default)
        if language:
            session.set(CHANNEL_LANGUAGE, language)
            session.set(CF_LANG, language)
        return node.next

    async def visit_dial(self, node: Dial, session: CallSession) -> str | None:
        return await self.handoff(node, session)

    async def visit_queue(self, node: Queue, session: CallSession) -> str | None:
        return await self.handoff(node, session)

    async def visit_voicemail(self, node: Voicemail, session: CallSession) -> str | None:
        return await self.handoff(node, session)

    async def visit_time_condition(self, node: TimeCondition, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        digits = "".join(c for c in await session.var(CF_NOW) if c.isascii() and c.isdigit())
        zone = ZoneInfo(node.timezone or self.site.timezone)
        try:
            moment = dt.datetime.fromtimestamp(int(digits) if digits else self.clock(), zone)
        except (OverflowError, OSError, ValueError):
            moment = dt.datetime.fromtimestamp(self.clock(), zone)
        if node.holidays and moment.date() in node.holidays:
            return node.holiday or node.closed
        key = week_key(moment)
        if any(lo <= key < hi for hours in node.hours for lo, hi in hours.ranges()):
            return node.open
        return node.closed

    async def visit_branch(self, node: Branch, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        value = await session.var(BRANCH_VARS[node.attribute])
        if node.attribute == "tags":
            key = "." + _filter(value, "_.") + "."
            for tag, target in node.cases.items():
                if f".{tag}." in key:
                    return target
        else:
            key = _filter(value, "_")
            for case, target in node.cases.items():
                if key == case.lower():
                    return target
        return node.default

    async def visit_lookup(self, node: Lookup, session: CallSession) -> str | None:
        session.enter(node.id, node.destination())
        session.set(CF_LOOKUP, "")
        await session.flush()  # the caller may hang up while we ask; keep the trace right
        found: Mapping[str, str] | None = None
        if self.lookup is not None:
            try:
                async with asyncio.timeout(self.lookup_timeout):
                    found = await self.lookup(lookup_number(session.caller))
            except Exception as exc:  # down, slow or broken: an unknown caller
                log.warning(
                    "lookup failed: %s",
                    "timed out" if isinstance(exc, TimeoutError) else repr(exc),
                    extra={"call": session.channel, "node": node.id},
                )
                found = None
        if found is None:
            session.set(CF_LOOKUP, "failed")
            for name in CUSTOMER_VARS:
                session.set(name, "")
            return node.next
        values = {name: " ".join(str(v).split()) for name, v in found.items()}  # one line
        values.pop(CF_LOOKUP, None)
        if any(name in ANSWER_FIELDS for name in values):
            # a customer: every field is set, empty ones cleared, as the compiled node does
            values = {name: "" for name in ANSWER_FIELDS} | values
            values[CALLERID_NAME] = values[CF_CUSTOMER_NAME]
        for name, value in values.items():
            if not _ASSIGNABLE.fullmatch(name):
                log.warning("lookup set %r: not a channel variable; ignored", name)
            elif value or name not in _KEPT_WHEN_EMPTY:
                session.set(name, value)
        session.set(CF_LOOKUP, "ok")
        return node.next
