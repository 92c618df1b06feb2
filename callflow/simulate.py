"""Walk a flow offline with a scripted caller on a virtual clock (no Asterisk).

The simulator is a :class:`~callflow.model.visitor.NodeVisitor`, like the dialplan
compiler, and reproduces what the compiled dialplan does step by step: the same
``CF_TRACE`` (node ids), ``CF_DEST`` (``queue:sales``, ``dial:front_desk``,
``voicemail:2000``, ``hangup``), ``CF_PATH`` and queue priority, the same filtering of
CRM values, the same menu tries and the same ``weekday*10000+HHMM`` clock keys::

    result = simulate(site, "8001", script=caller("1"), at=datetime(2027, 3, 1, 10, 0))
    assert result.trace == ["main", "sales"]
    assert result.dest == "queue:sales"

A :class:`Script` says what the caller does (one input per prompt that waits for a key:
a digit, or ``SILENCE``), who the CRM says they are, and what the world answers (whether
a dial is picked up, whether a queue gives up). Helpers for integrators' tests:
:func:`caller`, :func:`assert_route`, :class:`RouteMismatch`.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from callflow.contract import (
    CALLERID_NAME,
    CALLERID_NUM,
    CF_CUSTOMER_ID,
    CF_CUSTOMER_NAME,
    CF_DEST,
    CF_ENTRY,
    CF_LANG,
    CF_LOOKUP,
    CF_MANAGER,
    CF_PATH,
    CF_PRIO,
    CF_SITE,
    CF_TIER,
    CF_TRACE,
    CUSTOMER_FIELDS,
)
from callflow.errors import CallflowError
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
from callflow.model.variables import BRANCH_VARS, CUSTOMER_VARS
from callflow.model.visitor import NodeVisitor
from callflow.validate import check

__all__ = [
    "CUSTOMER_FIELDS",
    "SILENCE",
    "DialOutcome",
    "ManagerOutcome",
    "PromptTimer",
    "QueueOutcome",
    "RouteMismatch",
    "Script",
    "SimEvent",
    "SimResult",
    "SimulationError",
    "Simulator",
    "assert_route",
    "call_time",
    "caller",
    "fixed_durations",
    "simulate",
]

#: an input that presses nothing: the menu times out
SILENCE: None = None

#: what a Dial's ringing ends in (``answer`` ends the walk at the dial)
DialOutcome = Literal["answer", "noanswer", "busy", "unavailable"]
#: what happens to a caller in a queue: ``wait`` (the default) ends the walk in the queue
#: (an agent answers or the caller hangs up while waiting); ``timeout`` waits ``max_wait``
#: seconds, then overflows; the others overflow at once (app_queue's QUEUESTATUS values)
QueueOutcome = Literal[
    "wait", "timeout", "full", "joinempty", "leaveempty", "joinunavail", "leaveunavail"
]
#: what the account manager's phone does when a ``manager_first`` queue rings it first
ManagerOutcome = Literal["answer", "noanswer", "away"]

#: how long a prompt plays, in seconds
PromptTimer = Callable[[Prompt], float]

#: longest customer name the lookup puts on the channel (runtime.lookup.NAME_LIMIT; a
#: unit test holds the two together)
_NAME_LIMIT = 80
#: channel variables that never decide where a call goes: a walk that comes back to a
#: node with everything else unchanged loops forever
_NOT_ROUTING = frozenset({CF_TRACE, CALLERID_NAME})
#: what Asterisk drops from both ends of a caller name it is given (``ast_strip``: every
#: byte below 33, so spaces, tabs and control characters)
_BLANKS = "".join(map(chr, range(33)))
_INPUT = re.compile(r"[0-9*#]")


class SimulationError(CallflowError, RuntimeError):
    """A walk could not go on: an unknown node, a bad input, or a call that never ends."""


class RouteMismatch(AssertionError):
    """A simulated call did not go where a test said it would (see :func:`assert_route`)."""


def call_time(at: dt.datetime, timezone: str | None = None) -> str:
    """The ``CF_NOW`` value (Unix seconds) that makes a real call's time conditions see
    ``at``, as :func:`simulate` does with the same ``at``. A naive ``at`` is local to
    ``timezone`` (give the site's); without one it must be timezone-aware::

        call_time(datetime(2027, 3, 1, 10, 0), site.timezone)   # '1803952800'
        driver.place_call(..., variables={CF_NOW: call_time(at)})  # or place_call(at=at)
    """
    if at.tzinfo is None:
        if timezone is None:
            raise ValueError(
                f"call time {at.isoformat()}: a naive datetime needs the site's timezone"
            )
        at = at.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return str(int(at.timestamp()))


def fixed_durations(default: float = 3.0) -> PromptTimer:
    """A prompt lasts its declared ``Prompt.seconds``, else ``default`` seconds."""

    def timer(prompt: Prompt) -> float:
        return prompt.seconds if prompt.seconds is not None else default

    return timer


@dataclass(frozen=True, kw_only=True)
class Script:
    """A scripted caller and the world around them.

    - ``inputs``: one entry per prompt that waits for a key (a Menu try, a
      LanguageSelect): a digit ``0-9 * #`` (a wrong one is an invalid choice) or
      ``SILENCE`` (None) for a timeout. When inputs run out the caller stays silent.
    - ``customer``: what the CRM holds for the caller (keys ``id``, ``tier``,
      ``manager``, ``language``, ``segment``, ``region``, ``tags``, ``name``); None = an
      unknown caller. ``lookup_fails``: the lookup server is down, so the caller is
      unknown.
    - ``caller_id``, ``caller_name``: the caller's ``CALLERID(num)`` / ``(name)`` as the
      network delivers them. A found customer's name replaces the caller's name (as the
      lookup sends it: whitespace runs made one space, at most 80 characters) and the
      ``cid_prefix`` of each Dial and Queue passed goes in front, so
      :attr:`SimResult.caller_name` is what the agent's phone shows. Like Asterisk, the
      simulator drops spaces and control characters from both ends of the name each
      time it is set (a prefix ``"VIP "`` before no name gives ``"VIP"``).
    - ``at``: when the call is made (as :func:`simulate`'s ``at``, which wins if given).
    - ``answered``: ids of Dial nodes whose ringing is answered (``dials`` gives any other
      outcome by node id); every other dial rings out.
    - ``queues``: node id -> :data:`QueueOutcome`; a queue not named ends the walk.
    - ``manager``: what the account manager's phone does in a ``manager_first`` queue.
    """

    inputs: Sequence[str | None] = ()
    customer: Mapping[str, str | Sequence[str]] | None = None
    lookup_fails: bool = False
    caller_id: str = ""
    caller_name: str = ""
    at: dt.datetime | None = None
    answered: Collection[str] = ()
    dials: Mapping[str, DialOutcome] = field(default_factory=dict)
    queues: Mapping[str, QueueOutcome] = field(default_factory=dict)
    manager: ManagerOutcome = "noanswer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        for i in self.inputs:
            if i is not None and i != "" and not _INPUT.fullmatch(i):
                raise SimulationError(f"input {i!r} is not one key (0-9, *, #) or SILENCE")
        unknown = set(self.customer or ()) - set(CUSTOMER_FIELDS)
        if unknown:
            raise SimulationError(
                f"unknown customer field(s) {sorted(unknown)}; use {sorted(CUSTOMER_FIELDS)}"
            )

    def dial_outcome(self, node: Dial) -> DialOutcome:
        if node.id in self.dials:
            return self.dials[node.id]
        return "answer" if node.id in self.answered else "noanswer"


def caller(
    *inputs: str | None,
    tier: str | None = None,
    customer: Mapping[str, str | Sequence[str]] | None = None,
    lookup_fails: bool = False,
    answered: Collection[str] = (),
    queues: Mapping[str, QueueOutcome] | None = None,
    manager: ManagerOutcome = "noanswer",
    caller_id: str = "",
    caller_name: str = "",
    at: dt.datetime | None = None,
) -> Script:
    """A :class:`Script` in one line: ``caller("9", SILENCE, "1", tier="vip")``.

    A digit string of several keys (``"12"``) is split into one input per key.
    """
    flat: list[str | None] = []
    for item in inputs:
        if item:
            flat.extend(item)
        else:
            flat.append(SILENCE)
    data: dict[str, str | Sequence[str]] = dict(customer or {})
    if tier is not None:
        data["tier"] = tier
    return Script(
        inputs=flat,
        customer=data or None,
        lookup_fails=lookup_fails,
        answered=answered,
        queues=dict(queues or {}),
        manager=manager,
        caller_id=caller_id,
        caller_name=caller_name,
        at=at,
    )


@dataclass(frozen=True)
class SimEvent:
    """Something that happened on the virtual clock: ``t`` seconds after the answer."""

    t: float
    node: str
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.t:7.1f}s {self.node:<20} {self.kind:<10} {self.detail}".rstrip()


@dataclass(frozen=True)
class SimResult:
    """Where a simulated call went, in the terms of the compiled dialplan's end event.

    ``trace`` is ``CF_TRACE`` split into node ids, ``dest`` is ``CF_DEST`` (``""`` if the
    walk stopped before any destination), ``path`` is ``CF_PATH`` (``queue``, ``manager``,
    ``manager-then-queue`` or ``""``), ``priority`` is ``CF_PRIO`` (None if the call never
    joined a queue), ``elapsed`` the seconds on the virtual clock.
    """

    trace: list[str]
    dest: str
    elapsed: float
    path: str
    priority: int | None
    events: list[SimEvent]
    language: str
    variables: dict[str, str]

    @property
    def tier(self) -> str:
        """The tier as the end event reports it (filtered like the dialplan does)."""
        return _filter(self.variables.get(CF_TIER, "").lower(), "a-z0-9_")

    @property
    def manager(self) -> str:
        """``CF_MANAGER`` as the end event reports it."""
        return _filter(self.variables.get(CF_MANAGER, ""), "a-z0-9_")

    @property
    def customer_id(self) -> str:
        """``CF_CUSTOMER_ID`` as the end event reports it (digits only)."""
        return _filter(self.variables.get(CF_CUSTOMER_ID, ""), "0-9")

    @property
    def caller_name(self) -> str:
        """``CALLERID(name)`` at the end of the walk: the caller's (or the CRM's) name
        behind every ``cid_prefix`` passed, as Asterisk holds it."""
        return self.variables.get(CALLERID_NAME, "")

    @property
    def lookup(self) -> str:
        """``CF_LOOKUP``: ``ok``, ``failed``, or ``""`` when the flow has no lookup."""
        return _filter(self.variables.get(CF_LOOKUP, ""), "a-z")

    def describe(self) -> str:
        lines = [
            f"trace: {' '.join(self.trace)}",
            f"dest: {self.dest or '-'}  path: {self.path or '-'}  "
            f"priority: {'-' if self.priority is None else self.priority}  "
            f"elapsed: {self.elapsed:g}s",
        ]
        lines += [f"  {e}" for e in self.events]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "trace": self.trace,
            "dest": self.dest,
            "elapsed": self.elapsed,
            "path": self.path,
            "priority": self.priority,
            "language": self.language,
            "events": [
                {"t": e.t, "node": e.node, "kind": e.kind, "detail": e.detail} for e in self.events
            ],
        }


def _filter(value: str, allowed: str) -> str:
    """Asterisk's ``FILTER(allowed,value)`` for the ranges the compiler uses."""
    return "".join(re.findall(f"[{allowed}]", value))


class _Call:
    """One simulated call's state: the channel variables the dialplan would hold."""

    def __init__(self, script: Script, language: str, moment: int) -> None:
        self.script = script
        self.inputs = list(script.inputs)
        self.vars: dict[str, str] = {
            CF_TRACE: "",
            CF_DEST: "",
            CF_PATH: "",
            CALLERID_NUM: script.caller_id,
            CALLERID_NAME: script.caller_name.strip(_BLANKS),
        }
        self.language = language
        self.now = moment
        self.t = 0.0
        self.events: list[SimEvent] = []
        self.node = ""

    def get(self, name: str) -> str:
        return self.vars.get(name, "")

    def log(self, kind: str, detail: str = "") -> None:
        self.events.append(SimEvent(round(self.t, 3), self.node, kind, detail))

    def wait(self, seconds: float) -> None:
        self.t += seconds

    def next_input(self) -> str | None:
        return self.inputs.pop(0) or None if self.inputs else None

    def state(self, target: str) -> tuple[object, ...]:
        """Everything that decides where the walk goes from ``target`` on."""
        routing = sorted((k, v) for k, v in self.vars.items() if k not in _NOT_ROUTING)
        return (target, len(self.inputs), self.language, tuple(routing))

    def prefix_name(self, prefix: str) -> None:
        """``Set(CALLERID(name)=<prefix>${CALLERID(name)})``, as the compiled node does."""
        if prefix:
            self.vars[CALLERID_NAME] = (prefix + self.get(CALLERID_NAME)).strip(_BLANKS)


#: what a visit returns: the next node id, or None when the call is over
_Next = str | None


class Simulator(NodeVisitor[_Next]):
    """Walk a site's calls offline; one instance serves any number of calls.

    The site is validated once (:func:`callflow.validate.check`), as the compiler does:
    only a site that compiles has a dialplan to agree with. A walk ends where the call
    would; one that comes back to a node with nothing changed that decides the route (no
    inputs used, no variable set) would loop forever and raises
    :class:`SimulationError`. ``max_steps`` caps the nodes entered (default: no cap, the
    loop check ends every walk)::

        sim = Simulator(site)
        sim.run("8000", caller("1"), at=datetime(2027, 3, 1, 10, 0))
    """

    backend = "the simulator"

    def __init__(
        self,
        site: Site,
        *,
        durations: PromptTimer | None = None,
        max_steps: int | None = None,
        validate: bool = True,
    ) -> None:
        if validate:
            check(site)
        missing = self.unsupported(tuple(site.nodes))
        if missing:  # fail at start-up, not in the middle of a call
            self.visit(missing[0])
        self.site = site
        self.durations = durations or fixed_durations()
        self.max_steps = max_steps

    # -- the public entry point ----------------------------------------------------------
    def run(
        self, entry: str, script: Script | None = None, at: dt.datetime | None = None
    ) -> SimResult:
        """Walk one call dialled to ``entry`` at ``at`` (default ``script.at``, else now;
        a naive time is local to the site). Time conditions read ``at`` as the dialplan
        reads ``CF_NOW`` (see :func:`call_time`): it does not move on during the call."""
        site = self.site
        if entry not in site.entries:
            raise SimulationError(
                f"{entry!r} is not an entry point of site {site.name!r} "
                f"(entries: {', '.join(sorted(site.entries))})"
            )
        script = script or Script()
        at = at or script.at or dt.datetime.now(dt.UTC)
        call = _Call(script, site.language, int(call_time(at, site.timezone)))
        call.vars.update({CF_SITE: site.name, CF_ENTRY: entry})
        call.node = entry
        call.log("answer", f"entry {entry}")
        target: str | None = site.entries[entry]
        seen: dict[tuple[object, ...], int] = {}  # state -> trace length when first there
        steps = 0
        while target is not None:
            steps += 1
            if self.max_steps is not None and steps > self.max_steps:
                raise SimulationError(
                    f"the call did not end after {self.max_steps} steps "
                    f"(trace so far: {call.get(CF_TRACE).strip()})"
                )
            state = call.state(target)
            trace = call.get(CF_TRACE).split()
            if state in seen:
                loop = [*trace[seen[state] :], target]
                raise SimulationError(
                    f"the call loops forever: {' -> '.join(loop)}, with no input left and "
                    f"nothing else changed to end it (trace so far: {' '.join(trace)})"
                )
            seen[state] = len(trace)
            node = site.node_map.get(target)
            if node is None:
                raise SimulationError(f"unknown node {target!r} (validate the site)")
            self._enter(node, call)
            target = self.visit(node, call)
        call.node = call.node or entry
        call.log("end", call.get(CF_DEST) or "-")
        prio = call.vars.get(CF_PRIO)
        return SimResult(
            trace=call.get(CF_TRACE).split(),
            dest=call.get(CF_DEST),
            elapsed=round(call.t, 3),
            path=call.get(CF_PATH),
            priority=int(prio) if prio else None,
            events=call.events,
            language=call.language,
            variables=dict(call.vars),
        )

    # -- helpers --------------------------------------------------------------------------
    def _enter(self, node: Node, call: _Call) -> None:
        call.node = node.id
        call.vars[CF_TRACE] = f"{call.get(CF_TRACE)} {node.id}"
        dest = node.destination()
        if dest is not None:
            call.vars[CF_DEST] = dest
        call.log("enter", type(node).__name__)

    def _play(self, call: _Call, prompts: Sequence[Prompt]) -> None:
        for p in prompts:
            seconds = self.durations(p)
            call.log("play", f"{p.file} ({seconds:g}s)")
            call.wait(seconds)

    @staticmethod
    def _hangup(call: _Call, why: str) -> _Next:
        """``Goto(hooks,hangup,1)``: the call ends with ``CF_DEST=hangup``."""
        call.vars[CF_DEST] = "hangup"
        call.log("hangup", why)
        return None

    def _goto(self, call: _Call, target: str | None, why: str) -> _Next:
        if target is None:
            return self._hangup(call, f"{why}: not set")
        call.log("goto", f"{why} -> {target}")
        return target

    # -- nodes ------------------------------------------------------------------------------
    def visit_play(self, node: Play, call: _Call) -> _Next:
        self._play(call, node.prompts)  # type: ignore[arg-type]
        return self._goto(call, node.next, "next")

    def visit_goto(self, node: Goto, call: _Call) -> _Next:
        return self._goto(call, node.target, "target")

    def visit_hangup(self, node: Hangup, call: _Call) -> _Next:
        self._play(call, node.prompts)  # type: ignore[arg-type]
        call.log("hangup")
        return None

    def visit_voicemail(self, node: Voicemail, call: _Call) -> _Next:
        call.log("voicemail", f"{node.mailbox} ({node.greeting})")
        return None

    def visit_menu(self, node: Menu, call: _Call) -> _Next:
        choices = node.choices()
        tries = 0
        while True:
            tries += 1
            self._play(call, node.prompt)  # type: ignore[arg-type]
            key = call.next_input()
            if key is None:
                call.wait(node.timeout)
                call.log("timeout", f"try {tries} of {node.tries}")
                jump, prompts, why = node.on_timeout, node.timeout_prompt, "on_timeout"
            elif key in choices:
                call.log("press", key)
                return self._goto(call, choices[key], f"key {key}")
            else:
                call.log("press", f"{key} (invalid)")
                jump, prompts, why = node.invalid, node.invalid_prompt, "invalid"
            self._play(call, prompts)  # type: ignore[arg-type]
            if jump is not None:
                return self._goto(call, jump, why)
            if tries >= node.tries:
                return self._goto(call, node.failure, "failure")

    def visit_language_select(self, node: LanguageSelect, call: _Call) -> _Next:
        self._play(call, node.prompt)  # type: ignore[arg-type]
        key = call.next_input()
        if key is None:
            call.wait(node.timeout)
            call.log("timeout")
        else:
            call.log("press", key if key in node.languages else f"{key} (invalid)")
        lang = node.languages.get(key, node.default) if key is not None else node.default
        if lang:
            call.language = lang
            call.vars[CF_LANG] = lang
            call.log("language", lang)
        return self._goto(call, node.next, "next")

    def visit_dial(self, node: Dial, call: _Call) -> _Next:
        call.prefix_name(node.cid_prefix)
        outcome = call.script.dial_outcome(node)
        call.log("ring", f"{node.target} for {node.ring}s: {outcome}")
        if outcome == "answer":
            return None
        if outcome == "noanswer":
            call.wait(node.ring)
        return self._goto(call, node.no_answer, "no_answer")

    def visit_queue(self, node: Queue, call: _Call) -> _Next:
        rule = self.site.rule_for(node)
        call.vars[CF_PATH] = "queue"
        key = _filter(call.get(CF_TIER).lower(), "a-z0-9_")
        prio = rule.default
        for tier, value in sorted(rule.tiers.items()):
            if key == tier:
                prio = value
        call.vars[CF_PRIO] = str(prio)
        call.prefix_name(node.cid_prefix)
        if node.manager_first:
            manager = _filter(call.get(CF_MANAGER), "a-z0-9_")
            if manager and manager in self.site.staff_map:
                call.vars[CF_PATH] = "manager"
                outcome = call.script.manager
                call.log("manager", f"{manager} for {node.manager_first}s: {outcome}")
                if outcome == "answer":
                    return None
                if outcome == "noanswer":
                    call.wait(node.manager_first)
                call.vars[CF_PATH] = "manager-then-queue"
        outcome_q = call.script.queues.get(node.id, "wait")
        call.log("queue", f"join at priority {prio}: {outcome_q}")
        if outcome_q == "wait":
            return None
        if outcome_q == "timeout":
            call.wait(node.max_wait or 0)
        return self._goto(call, node.overflow, "overflow")

    def visit_time_condition(self, node: TimeCondition, call: _Call) -> _Next:
        tz = zoneinfo.ZoneInfo(node.timezone or self.site.timezone)
        local = dt.datetime.fromtimestamp(call.now, tz)
        if local.date() in node.holidays:
            call.log("clock", f"{local:%Y-%m-%d %a %H:%M} holiday")
            return self._goto(call, node.holiday or node.closed, "holiday")
        key = week_key(local)
        is_open = any(lo <= key < hi for h in node.hours for lo, hi in h.ranges())
        call.log("clock", f"{local:%Y-%m-%d %a %H:%M} key {key}: {'open' if is_open else 'closed'}")
        return self._goto(
            call, node.open if is_open else node.closed, "open" if is_open else "closed"
        )

    def visit_branch(self, node: Branch, call: _Call) -> _Next:
        raw = call.get(BRANCH_VARS[node.attribute]).lower()
        if node.attribute == "tags":
            key = f".{_filter(raw, 'a-z0-9_.')}."
            for value, target in node.cases.items():
                if re.search(f"[.]{value}[.]", key):
                    return self._goto(call, target, f"tags has {value}")
        else:
            key = _filter(raw, "a-z0-9_")
            for value, target in node.cases.items():
                if key == value.lower():
                    return self._goto(call, target, f"{node.attribute} = {value}")
        return self._goto(call, node.default, f"default ({node.attribute} {key!r})")

    def visit_lookup(self, node: Lookup, call: _Call) -> _Next:
        script = call.script
        if script.lookup_fails:
            call.vars[CF_LOOKUP] = "failed"
            for name in CUSTOMER_VARS:
                call.vars[name] = ""
            call.log("lookup", "failed: unknown caller")
        else:
            call.vars[CF_LOOKUP] = "ok"
            if script.customer:  # a found customer: the lookup sets every field ...
                for key, name in CUSTOMER_FIELDS.items():
                    value = script.customer.get(key, "")
                    value = value if isinstance(value, str) else ".".join(value)
                    if key == "name":
                        value = " ".join(value.split())[:_NAME_LIMIT]
                    if key == "language" and not value:
                        continue  # ... but no language keeps the one the caller chose
                    call.vars[name] = value
                if call.get(CF_CUSTOMER_NAME):  # and no name keeps the caller's
                    call.vars[CALLERID_NAME] = call.get(CF_CUSTOMER_NAME).strip(_BLANKS)
            call.log("lookup", "found" if script.customer else "not found: unknown caller")
        return self._goto(call, node.next, "next")


def simulate(
    site: Site,
    entry: str,
    *,
    script: Script | None = None,
    at: dt.datetime | None = None,
    durations: PromptTimer | None = None,
) -> SimResult:
    """Walk one call to ``entry`` of ``site`` (validated first) with ``script`` at ``at``::

    simulate(site, "8000", script=caller(tier="vip"), at=datetime(2027, 3, 1, 10))
    """
    return Simulator(site, durations=durations).run(entry, script, at)


def assert_route(
    result: SimResult,
    trace: Sequence[str] | None = None,
    dest: str | None = None,
    *,
    path: str | None = None,
    priority: int | None = None,
) -> None:
    """Fail with the whole walk shown when ``result`` did not go the expected way::

    assert_route(simulate(site, "8001", script=caller("1")), ["main", "sales"], "queue:sales")
    """
    wrong = []
    if trace is not None and list(trace) != result.trace:
        wrong.append(f"trace {result.trace} != expected {list(trace)}")
    if dest is not None and dest != result.dest:
        wrong.append(f"dest {result.dest!r} != expected {dest!r}")
    if path is not None and path != result.path:
        wrong.append(f"path {result.path!r} != expected {path!r}")
    if priority is not None and priority != result.priority:
        wrong.append(f"priority {result.priority} != expected {priority}")
    if wrong:
        raise RouteMismatch("; ".join(wrong) + "\n" + result.describe())
