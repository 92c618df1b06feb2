"""Run a site's flow live over ARI: the flow machine driven through a call session.

:class:`~callflow.flow.FlowMachine` decides what each node does and where the call goes
next; the interpreter only carries its effects out on the call's
:class:`~callflow.runtime.session.CallSession` (play, wait for a digit, set variables,
ask the CRM) until a node hands the call to compiled dialplan (queues, voicemail,
dialling staff, so app_queue keeps doing the queueing) or hangs up. Every node thus does
what its compiled context does, in the same order, so a call leaves the same
``CF_TRACE`` and ``CF_DEST`` live and compiled::

    interpreter = Interpreter(site, lookup=crm.lookup)    # checks every node up front
    await interpreter.run_call(session)                   # one call, start to end

Names shared with the compiled dialplan (``cf-<site>-<node>`` contexts, the hang-up
handler, ``CF_*`` variables) are in :mod:`callflow.contract`; the integration tests place
the same call both ways.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from callflow.contract import (
    CALLERID_NUM,
    CF_DEST,
    CF_TRACE,
    app_name,
    campaign_entry,
    context_name,
    lookup_number,
)
from callflow.errors import UnsupportedNode
from callflow.flow import FlowMachine
from callflow.flow.effects import (
    Answer,
    Clock,
    Effect,
    Enter,
    GetVar,
    HandOff,
    Hangup,
    Lookup,
    Note,
    Play,
    SetVar,
    Steps,
    WaitDigit,
)
from callflow.model.site import Site
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


class Interpreter:
    """Drive the flow machine for live calls (see the module docstring)."""

    backend = "the live ARI runtime"

    def __init__(
        self,
        site: Site,
        *,
        lookup: CustomerLookup | None = None,
        lookup_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        missing = FlowMachine.unsupported(site.nodes)
        if missing:  # this backend's own refusal first, then validation's
            node = missing[0]
            raise UnsupportedNode(self.backend, type(node).__name__, node.id)
        check(site)
        self.machine = FlowMachine(site)
        #: the site's nodes and every campaign's answered-leg nodes (ids with a ``-``)
        self.nodes = dict(site.node_map)
        #: campaign entry (``campaign-<id>``) -> where its answered flow starts
        self.campaigns: dict[str, str] = {}
        for campaign in site.campaigns:
            flow = self.machine.answered_flow(campaign)
            self.nodes.update(flow.node_map)
            self.campaigns[campaign_entry(campaign.id)] = flow.start
        missing = FlowMachine.unsupported(tuple(self.nodes.values()))
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
            if start is None and session.entry in self.campaigns:
                # the campaign's context set the call up and ran AMD before Stasis()
                session.ready = True
                start = self.campaigns[session.entry]
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
                node = self.nodes[state]
                state = await self.drive(self.machine.visit(node), session)
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
        await self.drive(self.machine.start(session.entry), session)
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
                target = self.site.entries.get(session.entry) or self.campaigns.get(
                    session.entry, ""
                )
            if target not in self.nodes:
                await session.hangup()
                return
            await session.continue_at(self.ctx(target))
        except (CallHungUp, ControlError) as exc:
            log.info("hand-back not possible: %s", exc, extra=extra)

    # ---- the driver: effects -> the call session --------------------------------------------
    async def drive(self, steps: Steps, session: CallSession) -> str | None:
        """Carry out a node's effects on ``session``; the next node id, or None."""
        answer: object = None
        try:
            while True:
                answer = await self.perform(steps.send(answer), session)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def perform(self, effect: Effect, session: CallSession) -> object:
        match effect:
            case Enter(node):
                session.enter(node.id, node.destination())
            case Play(prompts, barge_in):
                if barge_in:
                    session.discard_digits()
                return await session.play(prompts, barge_in=barge_in)
            case WaitDigit(timeout):
                return await session.wait_digit(timeout)
            case SetVar(name, value):
                session.set(name, value)
            case GetVar(name):
                return session.caller if name == CALLERID_NUM else await session.var(name)
            case Clock():
                return self.clock()
            case Lookup(number):
                await session.flush()  # the caller may hang up while we ask: keep the trace
                return await self.ask_crm(number, session)
            case HandOff(node):  # the compiled context records the node itself
                await session.continue_at(self.ctx(node.id))
            case Answer():
                if not session.answered:
                    await session.flush()
                    await session.answer()
            case Hangup(_, dest):
                if dest is not None:
                    session.dest = dest
                    session.set(CF_DEST, dest)
                await session.hangup()
            case Note():
                pass
            case _:
                raise TypeError(f"{self.backend} cannot carry out {effect!r}")
        return None

    async def ask_crm(self, number: str, session: CallSession) -> dict[str, str] | None:
        """The CRM's answer as channel variables (one line each), None if it failed."""
        if self.lookup is None:
            return None
        try:
            async with asyncio.timeout(self.lookup_timeout):
                found = await self.lookup(number)
        except Exception as exc:  # down, slow or broken: an unknown caller
            log.warning(
                "lookup failed: %s",
                "timed out" if isinstance(exc, TimeoutError) else repr(exc),
                extra={"call": session.channel, "node": session.node},
            )
            return None
        if found is None:
            return None
        values = {}
        for name, value in found.items():
            if _ASSIGNABLE.fullmatch(name):
                values[name] = " ".join(str(value).split())  # one line
            else:
                log.warning("lookup set %r: not a channel variable; ignored", name)
        return values
