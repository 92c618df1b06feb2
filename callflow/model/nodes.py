"""Flow nodes: the steps a call goes through.

Every node has an ``id`` (unique in its site; it names the node in traces, diagnostics
and generated contexts) and refers to other nodes by id, so a flow is a plain graph that
the validator, compiler, simulator and live runtime all walk without owning it::

    Menu("main", prompt="custom/main-menu",
         options={"1": "sales", "2": "service"}, operator="front_desk", failure="front_desk")

Every backend dispatches on ``visit_name`` (see :mod:`callflow.model.visitor`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal

from callflow.contract import IDENT, lowered_key
from callflow.model.limits import (
    CallerIdPrefix,
    Label,
    Penalty,
    Priority,
    Range,
    RingSeconds,
    Seconds,
)
from callflow.model.prompts import Prompt, Prompts, as_tuple
from callflow.model.recording import Recording
from callflow.model.schedule import Hours, as_date

# What a branch may test: the customer attributes the CRM lookup sets.
BranchAttribute = Literal["tier", "segment", "language", "region", "tags"]
#: which greeting a voicemail plays before the beep
VoicemailGreeting = Literal["unavailable", "busy", "none"]
QueueStrategy = Literal[
    "ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom", "rrordered"
]


@dataclass(frozen=True, kw_only=True)
class Node:
    """Base of every flow node. ``label`` is a free-text name for people (escaped
    wherever it is emitted)."""

    id: str
    label: Label = ""

    visit_name: ClassVar[str] = "node"
    #: whether reaching this node puts the caller in touch with a person
    reaches_person: ClassVar[bool] = False

    def edges(self) -> dict[str, str | None]:
        """Outgoing references by role (``"options['1']"`` -> ``"sales"``); None = unset."""
        return {}

    def destination(self) -> str | None:
        """``kind:target`` when a call that reaches this node has arrived somewhere
        (a queue, a person, a mailbox, a hang-up); None for steps on the way."""
        return None

    #: whether the node answers the call on entering it: it plays prompts or listens
    #: for digits. Until then the caller hears ringing and the carrier bills nothing;
    #: dials and queues leave answering to the person who picks up.
    plays_media: ClassVar[bool] = False

    def needs_media(self) -> bool:
        """Whether the call is answered when it enters this node (``plays_media``)."""
        return self.plays_media


@dataclass(frozen=True, kw_only=True)
class Play(Node):
    """Play one or more prompts, then continue at ``next``."""

    prompts: Prompts = Prompts(required=True)
    next: str
    visit_name: ClassVar[str] = "play"
    plays_media: ClassVar[bool] = True

    def edges(self) -> dict[str, str | None]:
        return {"next": self.next}


@dataclass(frozen=True, kw_only=True)
class Goto(Node):
    """Continue at another node (useful to give a shared step a name of its own)."""

    target: str
    visit_name: ClassVar[str] = "goto"

    def edges(self) -> dict[str, str | None]:
        return {"target": self.target}


@dataclass(frozen=True, kw_only=True)
class Retry:
    """One way a try of a :class:`Retrying` node fails: what is played then and where the
    call goes (``jump``; None = try again, or ``failure`` once the tries are used up)."""

    role: Literal["on_timeout", "invalid"]
    jump: str | None
    prompt: tuple[Prompt, ...]
    #: whether the caller was waited for the whole ``timeout`` first (silence)
    waited: bool


@dataclass(frozen=True, kw_only=True)
class Retrying(Node):
    """What :class:`Menu` and :class:`Ask` share: play ``prompt``, wait ``timeout``
    seconds for a key, ``tries`` prompts in all (Adhearsion's vocabulary).

    - on a key the node does not accept, ``invalid_prompt`` is played and the node
      repeats, or the call goes to ``invalid`` if set; on silence likewise with
      ``timeout_prompt`` / ``on_timeout``.
    - once ``tries`` are used up the call goes to ``failure`` (None: a hang-up).

    The one definition of that loop's paths (:meth:`silence`, :meth:`wrong_key`,
    :meth:`retry_edges`) that the flow machine, the compiler, lint and validation use.
    """

    prompt: Prompts = Prompts(required=True)
    timeout: Seconds = 5
    tries: Annotated[int, Range(1, 10, integer=True)] = 3
    invalid_prompt: Prompts = Prompts()
    timeout_prompt: Prompts = Prompts()
    invalid: str | None = None
    on_timeout: str | None = None
    failure: str | None = None

    @property
    def silence(self) -> Retry:
        """What happens when the caller presses nothing for ``timeout`` seconds."""
        return Retry(
            role="on_timeout", jump=self.on_timeout, prompt=self.timeout_prompt, waited=True
        )

    @property
    def wrong_key(self) -> Retry:
        """What happens when the caller presses a key the node does not accept."""
        return Retry(role="invalid", jump=self.invalid, prompt=self.invalid_prompt, waited=False)

    def retries(self) -> tuple[Retry, Retry]:
        """Both ways a try fails, silence first."""
        return self.silence, self.wrong_key

    def retry_edges(self) -> dict[str, str | None]:
        """The loop's outgoing references by role: ``invalid``, ``on_timeout``, ``failure``."""
        return {"invalid": self.invalid, "on_timeout": self.on_timeout, "failure": self.failure}

    @property
    def can_fail(self) -> bool:
        """Whether ``failure`` can be reached: some failed try repeats the node (with both
        ``on_timeout`` and ``invalid`` set, every failed try jumps away first)."""
        return self.on_timeout is None or self.invalid is None

    def silent_targets(self) -> list[str | None]:
        """Where a caller who never presses a key goes: ``on_timeout``, else (after the
        tries) ``failure``."""
        return [self.on_timeout if self.on_timeout is not None else self.failure]


@dataclass(frozen=True, kw_only=True)
class Menu(Retrying):
    """Play ``prompt`` and wait for one digit (Adhearsion's vocabulary).

    - ``options``: digit -> node id (digits ``0-9``, ``*``, ``#``).
    - ``operator``: node reached by ``0`` (the zero-out to a person).
    - ``timeout``, ``tries``, ``invalid_prompt``/``invalid``,
      ``timeout_prompt``/``on_timeout`` and ``failure``: see :class:`Retrying`; an
      invalid digit is one not in :meth:`choices`.
    """

    # Re-declared in each frozen subclass: mypy (2.4) types a descriptor field that a
    # frozen dataclass inherits by what it accepts instead of what it holds
    # (tests/unit/test_model_types.py holds every class to this).
    prompt: Prompts = Prompts(required=True)
    invalid_prompt: Prompts = Prompts()
    timeout_prompt: Prompts = Prompts()
    options: Mapping[str, str]
    operator: str | None = None
    visit_name: ClassVar[str] = "menu"
    plays_media: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.options, Mapping):
            object.__setattr__(self, "options", dict(self.options))

    def choices(self) -> dict[str, str]:
        """Every digit the menu accepts, the operator's ``0`` included."""
        out = dict(self.options)
        if self.operator is not None:
            out.setdefault("0", self.operator)
        return out

    def edges(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {f"options[{d!r}]": t for d, t in sorted(self.options.items())}
        out["operator"] = self.operator
        return out | self.retry_edges()


@dataclass(frozen=True, kw_only=True)
class Ask(Retrying):
    """Ask one question answered with one digit (a survey question, "rate this call 1-5"
    after a queue), then continue at ``next``::

        Ask("rate", prompt="custom/rate-1-5", answers="12345", next="bye")

    - ``question``: the id the answer is stored under (the node id when not set).
    - ``answers``: the digits accepted as answers, each one of ``0-9`` (as in
      :class:`~callflow.model.campaigns.SurveyQuestion`; ``#`` ends the input, as in
      Asterisk's ``Read()``, and counts as silence; ``*`` is an invalid answer).
    - one answer per question: no per-answer targets (put a :class:`Branch`-like
      decision after it if needed; the answer is in ``CF_ANSWER_<question>``).
    - the answer is kept in the channel variable ``CF_ANSWER_<question>``, appended to
      ``CF_ANSWERS`` (``" rate:4"``), reported by the call's end event and written to
      the store as a ``SurveyResponse`` by the call-record writer.
    - ``timeout``, ``tries``, ``invalid_prompt``/``invalid``,
      ``timeout_prompt``/``on_timeout`` and ``failure`` work as in :class:`Menu` (see
      :class:`Retrying`); after ``failure`` (or when it is unset, a hang-up) no answer is
      recorded.
    - ``keys``: digits (not among ``answers``) that leave the question for another node
      instead of answering it, e.g. a survey's opt-out digit ``{"9": "optout"}``.
    """

    # Re-declared in each frozen subclass: mypy (2.4) types a descriptor field that a
    # frozen dataclass inherits by what it accepts instead of what it holds
    # (tests/unit/test_model_types.py holds every class to this).
    prompt: Prompts = Prompts(required=True)
    invalid_prompt: Prompts = Prompts()
    timeout_prompt: Prompts = Prompts()
    next: str
    answers: str = "12345"
    question: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)
    visit_name: ClassVar[str] = "ask"
    plays_media: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.keys, Mapping):
            object.__setattr__(self, "keys", dict(self.keys))

    @property
    def question_id(self) -> str:
        """The id the answer is stored under: ``question``, else the node id."""
        return self.question if self.question is not None else self.id

    def edges(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {"next": self.next}
        out.update({f"keys[{d!r}]": t for d, t in sorted(self.keys.items())})
        return out | self.retry_edges()


@dataclass(frozen=True, kw_only=True)
class LanguageSelect(Node):
    """Ask the caller to choose a language (digit -> language code such as ``"zh"``);
    prompts played afterwards use that language's sound files."""

    prompt: Prompts = Prompts(required=True)
    languages: Mapping[str, str]
    next: str
    timeout: Seconds = 5
    default: str | None = None
    visit_name: ClassVar[str] = "language_select"
    plays_media: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.languages, Mapping):
            object.__setattr__(self, "languages", dict(self.languages))

    def edges(self) -> dict[str, str | None]:
        return {"next": self.next}


@dataclass(frozen=True, kw_only=True)
class Dial(Node):
    """Ring a staff member or every member of a group for ``ring`` seconds.

    When nobody answers (or every device is busy) the call goes to ``no_answer``; when
    that is None the caller is hung up on. ``cid_prefix`` is put in front of the caller's
    name on the ringing phones ("VIP: ...")::

        Dial("front_desk", target="reception", ring=20, no_answer="main")
    """

    target: str
    ring: RingSeconds = 20
    no_answer: str | None = None
    cid_prefix: CallerIdPrefix = ""
    visit_name: ClassVar[str] = "dial"
    reaches_person: ClassVar[bool] = True

    def edges(self) -> dict[str, str | None]:
        return {"no_answer": self.no_answer}

    def destination(self) -> str | None:
        return f"dial:{self.target}"


@dataclass(frozen=True)
class Member:
    """A queue member: a staff id (or a group id, for all of its staff) and a penalty."""

    who: str
    penalty: Penalty = 0


@dataclass(frozen=True)
class PriorityRule:
    """Customer value -> queue priority (``QUEUE_PRIO``; a higher number is served first).

    ``tiers`` maps the customer's tier, as the CRM lookup sets it, to a priority; unknown
    callers and unlisted tiers get ``default``::

        PriorityRule({"vip": 10, "gold": 5}, default=0)
    """

    tiers: Mapping[str, Priority] = field(default_factory=dict)
    default: Priority = 0

    def priority_for(self, tier: str | None) -> int:
        """The ``QUEUE_PRIO`` of a caller whose ``CF_TIER`` is ``tier`` (None: no
        lookup), as the compiled queue computes it: the key
        ``${FILTER(a-z0-9_,${TOLOWER(tier)})}`` (ASCII lowering, like Asterisk) compared
        with each rule tier in sorted order, the last match winning; else ``default``.
        The one place this decision is made for the simulator, the live runtime's
        hand-off model and the forecast."""
        key = lowered_key(IDENT, tier) if tier is not None else None
        priority = self.default
        for name, value in sorted(self.tiers.items()):
            if key == name:
                priority = value
        return priority


@dataclass(frozen=True, kw_only=True)
class Queue(Node):
    """An Asterisk queue and the step that puts a caller into it.

    The caller waits at a priority given by ``priority`` (the site's rule unless set
    here). With ``manager_first`` seconds, a caller whose CRM record names an account
    manager rings that manager first (if the manager's device is not busy or
    unavailable), then joins the queue. After ``max_wait`` seconds, or when the queue
    cannot take the call (no members, full), the caller goes to ``overflow``::

        Queue("sales", members=["sales"], max_wait=120, overflow="sales_vm",
              manager_first=15)
    """

    members: Sequence[Member | str]
    strategy: QueueStrategy = "rrmemory"
    ring: RingSeconds = 15
    retry: Annotated[int, Range(1, 600, integer=True)] = 5
    wrapup: Annotated[int, Range(0, 3600, integer=True)] = 0
    max_wait: Annotated[int, Range(1, 14400, integer=True)] | None = None
    overflow: str | None = None
    maxlen: Annotated[int, Range(0, 10000, integer=True)] = 0
    announce_position: bool = True
    announce_holdtime: bool = False
    announce_frequency: Annotated[int, Range(1, 3600, integer=True)] = 30
    joinempty: str = "yes"
    leavewhenempty: str = "no"
    music: str = "default"
    priority: PriorityRule | None = None
    manager_first: RingSeconds | None = None
    cid_prefix: CallerIdPrefix = ""
    #: this queue's recording policy; None: the site's (docs/recording.md)
    recording: Recording | None = None
    visit_name: ClassVar[str] = "queue"
    reaches_person: ClassVar[bool] = True

    def __post_init__(self) -> None:
        members = as_tuple(self.members)
        if isinstance(members, tuple):  # anything else is reported by validation
            members = tuple(Member(m) if isinstance(m, str) else m for m in members)
        object.__setattr__(self, "members", members)

    @property
    def member_list(self) -> tuple[Member, ...]:
        """The members, each as a :class:`Member` (plain strings are made penalty-0)."""
        return tuple(m if isinstance(m, Member) else Member(m) for m in self.members)

    def edges(self) -> dict[str, str | None]:
        return {"overflow": self.overflow}

    def destination(self) -> str | None:
        return f"queue:{self.id}"


@dataclass(frozen=True, kw_only=True)
class Voicemail(Node):
    """Let the caller leave a message in ``mailbox`` (digits), then hang up."""

    mailbox: str
    greeting: VoicemailGreeting = "unavailable"
    email: str | None = None
    visit_name: ClassVar[str] = "voicemail"
    plays_media: ClassVar[bool] = True

    def destination(self) -> str | None:
        return f"voicemail:{self.mailbox}"


@dataclass(frozen=True, kw_only=True)
class Hangup(Node):
    """Play optional prompts, then end the call."""

    prompts: Prompts = Prompts()
    visit_name: ClassVar[str] = "hangup"

    def needs_media(self) -> bool:
        return bool(self.prompts)

    def destination(self) -> str | None:
        return "hangup"


@dataclass(frozen=True, kw_only=True)
class TimeCondition(Node):
    """Route by the clock: ``open`` during ``hours``, ``holiday`` on ``holidays`` (or
    ``closed`` if no holiday target), ``closed`` otherwise. ``timezone`` defaults to the
    site's. Holidays are whole local days: ``datetime.date`` objects or ISO strings
    (``"2026-10-01"``), which are read as dates here so every backend sees dates."""

    hours: Sequence[Hours]
    open: str
    closed: str
    holidays: Sequence[dt.date] = ()
    holiday: str | None = None
    timezone: str | None = None
    visit_name: ClassVar[str] = "time_condition"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hours", as_tuple(self.hours))
        holidays = as_tuple(self.holidays)
        if isinstance(holidays, tuple):
            holidays = tuple(as_date(d) for d in holidays)
            if all(isinstance(d, dt.date) for d in holidays):  # else reported by validation
                holidays = tuple(sorted(set(holidays)))
        object.__setattr__(self, "holidays", holidays)

    def edges(self) -> dict[str, str | None]:
        return {"open": self.open, "closed": self.closed, "holiday": self.holiday}

    def route(self, *, holiday: bool, is_open: bool) -> tuple[str, str]:
        """``(why, target)`` on a holiday or at a time that is open or not: the one
        statement of which target wins (the flow machine and lint's after-hours check)."""
        if holiday:
            return "holiday", self.holiday or self.closed
        return ("open", self.open) if is_open else ("closed", self.closed)


@dataclass(frozen=True, kw_only=True)
class Branch(Node):
    """Route on a customer attribute set by the CRM lookup.

    ``cases`` are tried in order (for ``tags``: the first case whose tag the customer
    has); callers matching none, unknown callers included, go to ``default``::

        Branch("by_tier", attribute="tier", cases={"vip": "vip_desk"}, default="main")
    """

    attribute: BranchAttribute
    cases: Mapping[str, str]
    default: str
    visit_name: ClassVar[str] = "branch"

    def __post_init__(self) -> None:
        if isinstance(self.cases, Mapping):
            object.__setattr__(self, "cases", dict(self.cases))

    def edges(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {f"cases[{k!r}]": v for k, v in self.cases.items()}
        out["default"] = self.default
        return out


@dataclass(frozen=True, kw_only=True)
class Lookup(Node):
    """Ask the CRM who is calling (a FastAGI call to the site's lookup server).

    On success the call carries the customer's id, tier, account manager, language,
    segment, region and tags; if the server is down, slow or fails, the call continues
    as an unknown caller at default priority. Either way it goes on to ``next``.
    """

    next: str
    visit_name: ClassVar[str] = "lookup"

    def edges(self) -> dict[str, str | None]:
        return {"next": self.next}


def human_first(
    id: str, *, target: str, ring: int = 20, then: str, label: str = "", cid_prefix: str = ""
) -> Dial:
    """A flow whose first voice is a person (DOMAIN.md §3): ring ``target`` (a group or a
    staff member) and only if nobody answers within ``ring`` seconds go on to ``then``
    (typically a short menu)::

        human_first("greeting", target="front_desk", ring=15, then="main")
    """
    return Dial(
        id=id,
        label=label or "human first",
        target=target,
        ring=ring,
        no_answer=then,
        cid_prefix=cid_prefix,
    )


ALL_NODE_TYPES: tuple[type[Node], ...] = (
    Play,
    Goto,
    Menu,
    Ask,
    LanguageSelect,
    Dial,
    Queue,
    Voicemail,
    Hangup,
    TimeCondition,
    Branch,
    Lookup,
)
