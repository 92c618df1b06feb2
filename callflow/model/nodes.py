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

from callflow.model.limits import (
    CallerIdPrefix,
    Label,
    Penalty,
    Priority,
    Range,
    RingSeconds,
    Seconds,
)
from callflow.model.prompts import Prompt, PromptLike, as_prompts, as_tuple
from callflow.model.schedule import Hours, as_date

# What a branch may test: the customer attributes the CRM lookup sets.
BranchAttribute = Literal["tier", "segment", "language", "region", "tags"]
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


@dataclass(frozen=True, kw_only=True)
class Play(Node):
    """Play one or more prompts, then continue at ``next``."""

    prompts: tuple[Prompt, ...] | PromptLike
    next: str
    visit_name: ClassVar[str] = "play"

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompts", as_prompts(self.prompts))

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
class Menu(Node):
    """Play ``prompt`` and wait for one digit (Adhearsion's vocabulary).

    - ``options``: digit -> node id (digits ``0-9``, ``*``, ``#``).
    - ``operator``: node reached by ``0`` (the zero-out to a person).
    - ``timeout`` seconds to wait after the prompt; ``tries`` prompts in all.
    - on an invalid digit, ``invalid_prompt`` is played and the menu repeats, or the call
      goes to ``invalid`` if set; on silence likewise with ``timeout_prompt`` / ``on_timeout``.
    - once ``tries`` are used up the call goes to ``failure``.
    """

    prompt: tuple[Prompt, ...] | PromptLike
    options: Mapping[str, str]
    operator: str | None = None
    timeout: Seconds = 5
    tries: Annotated[int, Range(1, 10, integer=True)] = 3
    invalid_prompt: tuple[Prompt, ...] | PromptLike | None = None
    timeout_prompt: tuple[Prompt, ...] | PromptLike | None = None
    invalid: str | None = None
    on_timeout: str | None = None
    failure: str | None = None
    visit_name: ClassVar[str] = "menu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompt", as_prompts(self.prompt))
        object.__setattr__(self, "invalid_prompt", as_prompts(self.invalid_prompt))
        object.__setattr__(self, "timeout_prompt", as_prompts(self.timeout_prompt))
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
        out["invalid"] = self.invalid
        out["on_timeout"] = self.on_timeout
        out["failure"] = self.failure
        return out


@dataclass(frozen=True, kw_only=True)
class Ask(Node):
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
      ``timeout_prompt``/``on_timeout`` and ``failure`` work as in :class:`Menu`; after
      ``failure`` (or when it is unset, a hang-up) no answer is recorded.
    - ``keys``: digits (not among ``answers``) that leave the question for another node
      instead of answering it, e.g. a survey's opt-out digit ``{"9": "optout"}``.
    """

    prompt: tuple[Prompt, ...] | PromptLike
    next: str
    answers: str = "12345"
    question: str | None = None
    timeout: Seconds = 5
    tries: Annotated[int, Range(1, 10, integer=True)] = 3
    invalid_prompt: tuple[Prompt, ...] | PromptLike | None = None
    timeout_prompt: tuple[Prompt, ...] | PromptLike | None = None
    invalid: str | None = None
    on_timeout: str | None = None
    failure: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)
    visit_name: ClassVar[str] = "ask"

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompt", as_prompts(self.prompt))
        object.__setattr__(self, "invalid_prompt", as_prompts(self.invalid_prompt))
        object.__setattr__(self, "timeout_prompt", as_prompts(self.timeout_prompt))
        if isinstance(self.keys, Mapping):
            object.__setattr__(self, "keys", dict(self.keys))

    @property
    def question_id(self) -> str:
        """The id the answer is stored under: ``question``, else the node id."""
        return self.question if self.question is not None else self.id

    def edges(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {
            "next": self.next,
            "invalid": self.invalid,
            "on_timeout": self.on_timeout,
            "failure": self.failure,
        }
        out.update({f"keys[{d!r}]": t for d, t in sorted(self.keys.items())})
        return out


@dataclass(frozen=True, kw_only=True)
class LanguageSelect(Node):
    """Ask the caller to choose a language (digit -> language code such as ``"zh"``);
    prompts played afterwards use that language's sound files."""

    prompt: tuple[Prompt, ...] | PromptLike
    languages: Mapping[str, str]
    next: str
    timeout: Seconds = 5
    default: str | None = None
    visit_name: ClassVar[str] = "language_select"

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompt", as_prompts(self.prompt))
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
        if tier is None:
            return self.default
        return self.tiers.get(tier.lower(), self.default)


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
    greeting: Literal["unavailable", "busy", "none"] = "unavailable"
    email: str | None = None
    visit_name: ClassVar[str] = "voicemail"

    def destination(self) -> str | None:
        return f"voicemail:{self.mailbox}"


@dataclass(frozen=True, kw_only=True)
class Hangup(Node):
    """Play optional prompts, then end the call."""

    prompts: tuple[Prompt, ...] | PromptLike | None = None
    visit_name: ClassVar[str] = "hangup"

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompts", as_prompts(self.prompts))

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
