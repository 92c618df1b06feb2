"""Walk a flow offline with a scripted caller on a virtual clock (no Asterisk).

The simulator drives the flow machine (:mod:`callflow.flow`), as the live runtime does,
and reproduces what the compiled dialplan does step by step: the same
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
    CF_DEST,
    CF_PATH,
    CF_PRIO,
    CF_TIER,
    CF_TRACE,
    CHANNEL_LANGUAGE,
    CUSTOMER_FIELDS,
    IDENT,
    end_field,
    lowered_key,
)
from callflow.errors import CallflowError, UnsupportedNode
from callflow.flow import CompiledModel, FlowMachine
from callflow.flow.effects import (
    Answer,
    Clock,
    DetectMachine,
    Effect,
    Enter,
    GetVar,
    HandOff,
    Hangup,
    JoinQueue,
    Lookup,
    Note,
    Play,
    Ring,
    RingManager,
    SetVar,
    Steps,
    Wait,
    WaitDigit,
    WaitSilence,
)
from callflow.model.nodes import Dial, Node
from callflow.model.prompts import Prompt
from callflow.model.site import Site
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
    #: what ``AMD()`` decides on a campaign call (``HUMAN``, ``MACHINE``, ``NOTSURE``)
    amd: str = "HUMAN"
    #: the channel variables the dialer originates a campaign call with
    #: (``{CF_ATTEMPT: ..., CF_MANAGER: ...}``)
    variables: Mapping[str, str] = field(default_factory=dict)

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
        return lowered_key(IDENT, self.variables.get(CF_TIER, ""))

    @property
    def manager(self) -> str:
        """``CF_MANAGER`` as the end event reports it."""
        return end_field("manager", self.variables)

    @property
    def customer_id(self) -> str:
        """``CF_CUSTOMER_ID`` as the end event reports it (digits only)."""
        return end_field("customer", self.variables)

    @property
    def caller_name(self) -> str:
        """``CALLERID(name)`` at the end of the walk: the caller's (or the CRM's) name
        behind every ``cid_prefix`` passed, as Asterisk holds it."""
        return self.variables.get(CALLERID_NAME, "")

    @property
    def lookup(self) -> str:
        """``CF_LOOKUP``: ``ok``, ``failed``, or ``""`` when the flow has no lookup."""
        return end_field("lookup", self.variables)

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
            **script.variables,
        }
        self.language = language
        self.now = moment
        self.t = 0.0
        self.events: list[SimEvent] = []
        self.node = ""

    def get(self, name: str) -> str:
        return self.vars.get(name, "")

    def set(self, name: str, value: str) -> None:
        """``Set(name=value)`` as Asterisk does it: ``CALLERID(name)`` loses its blank
        ends, ``CHANNEL(language)`` is the language, other channel functions are not
        variables of the call."""
        if name == CALLERID_NAME:
            self.vars[name] = value.strip(_BLANKS)
        elif name == CHANNEL_LANGUAGE:
            self.language = value
        elif not name.startswith("CHANNEL("):
            self.vars[name] = value

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

    def crm_answer(self) -> dict[str, str] | None:
        """What the lookup server answers for this caller: every field of a customer in
        the CRM (the name made one line of at most 80 characters), nothing for an
        unknown caller, None when the server is down."""
        script = self.script
        if script.lookup_fails:
            return None
        if not script.customer:
            return {}
        found = {}
        for key, name in CUSTOMER_FIELDS.items():
            value = script.customer.get(key, "")
            value = value if isinstance(value, str) else ".".join(value)
            if key == "name":
                value = " ".join(value.split())[:_NAME_LIMIT]
            found[name] = value
        return found


class Simulator:
    """Walk a site's calls offline; one instance serves any number of calls.

    It drives the flow machine (:class:`~callflow.flow.FlowMachine`) on a virtual clock
    and answers its effects from a :class:`Script`; for queues, dials and voicemail it
    runs :class:`~callflow.flow.CompiledModel`, the model of their compiled contexts.
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
        self.machine = FlowMachine(site)
        self.compiled = CompiledModel(site)
        handed = tuple(n for n in site.nodes if n.visit_name in self.machine.handed_off)
        missing = self.machine.unsupported(tuple(site.nodes)) + self.compiled.unsupported(handed)
        if missing:  # fail at start-up, not in the middle of a call
            node = missing[0]
            raise UnsupportedNode(self.backend, type(node).__name__, node.id)
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
        call = self._new_call(script, at, entry)
        target: str | None = self._drive(self.machine.start(entry), call)
        return self._walk(call, target, site.node_map, entry)

    def _new_call(self, script: Script | None, at: dt.datetime | None, node: str) -> _Call:
        """The call ``script`` places at ``at`` (default ``script.at``, else now), standing
        at ``node``."""
        script = script or Script()
        at = at or script.at or dt.datetime.now(dt.UTC)
        call = _Call(script, self.site.language, int(call_time(at, self.site.timezone)))
        call.node = node
        return call

    def run_campaign(
        self, campaign_id: str, script: Script | None = None, at: dt.datetime | None = None
    ) -> SimResult:
        """Walk the answered call of campaign ``campaign_id`` as its compiled context
        runs it (the dialer's variables in ``script.variables``, AMD's verdict in
        ``script.amd``)::

            sim.run_campaign("survey", caller("4", "1", variables={CF_ATTEMPT: "ab12"}))
        """
        site = self.site
        found = [c for c in site.campaigns if c.id == campaign_id]
        if not found:
            raise SimulationError(
                f"{campaign_id!r} is not a campaign of site {site.name!r} "
                f"(campaigns: {', '.join(sorted(c.id for c in site.campaigns)) or 'none'})"
            )
        call = self._new_call(script, at, campaign_id)
        target = self._drive(self.machine.start_campaign(found[0]), call)
        nodes = {**site.node_map, **self.machine.answered_flow(found[0]).node_map}
        return self._walk(call, target, nodes, campaign_id)

    def _walk(
        self, call: _Call, target: str | None, nodes: Mapping[str, Node], entry: str
    ) -> SimResult:
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
            node = nodes.get(target)
            if node is None:
                raise SimulationError(f"unknown node {target!r} (validate the site)")
            target = self._drive(self.machine.visit(node), call)
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

    # -- the driver: effects -> virtual clock and script ------------------------------------
    def _drive(self, steps: Steps, call: _Call) -> str | None:
        answer: object = None
        try:
            while True:
                answer = self._perform(steps.send(answer), call)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _perform(self, effect: Effect, call: _Call) -> object:
        script = call.script
        match effect:
            case Enter(node):
                call.node = node.id
                call.vars[CF_TRACE] = f"{call.get(CF_TRACE)} {node.id}"
                dest = node.destination()
                if dest is not None:
                    call.vars[CF_DEST] = dest
                call.log("enter", type(node).__name__)
            case Play(prompts):  # the scripted caller presses after the prompts
                for p in prompts:
                    seconds = self.durations(p)
                    call.log("play", f"{p.file} ({seconds:g}s)")
                    call.wait(seconds)
            case WaitDigit(timeout):
                key = call.next_input()
                if key is None:
                    call.wait(timeout)
                return key
            case SetVar(name, value):
                call.set(name, value)
            case GetVar(name):
                return call.get(name)
            case Clock():
                return call.now
            case Lookup():
                return call.crm_answer()
            case HandOff(node):
                return self._drive(self.compiled.visit(node), call)
            case Answer():
                call.log("answer", "the call is answered: this node plays or listens")
            case DetectMachine():
                return script.amd
            case WaitSilence(silence_ms):
                call.log("greeting", f"ends ({silence_ms} ms of silence)")
            case Hangup(reason, dest):
                if dest is not None:
                    call.vars[CF_DEST] = dest
                call.log("hangup", reason)
            case Note(kind, detail):
                call.log(kind, detail)
            case Wait(seconds):
                call.wait(seconds)
            case Ring(node):
                return script.dial_outcome(node)
            case RingManager():
                return script.manager
            case JoinQueue(node):
                return script.queues.get(node.id, "wait")
        return None


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
