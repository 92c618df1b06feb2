"""Outbound campaigns: after-sales follow-ups, satisfaction surveys, recorded messages.

Declared with the site so they are validated with it; running them is the dialer's job::

    Campaign("service_followup", kind="followup", audience=Audience(tags=("serviced",)),
             window=CallingWindow(hours=(Hours("mon-sat", "10:00", "19:00"),)),
             connect_to="customer_care")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Final, Literal

from callflow.contract import campaign_entry
from callflow.model.limits import CampaignRingSeconds, Label, Range, Seconds
from callflow.model.nodes import Ask, Dial, Goto, Hangup, Node
from callflow.model.prompts import Prompt, Prompts, as_tuple
from callflow.model.recording import Recording
from callflow.model.schedule import Hours

CampaignKind = Literal["followup", "survey", "playback"]
#: what answering-machine detection does: ``off`` (no AMD()), ``hangup`` (a machine is
#: hung up on), ``message`` (a machine gets the message once its greeting has ended)
AmdMode = Literal["off", "hangup", "message"]
#: how calls are paced and who takes an answered call (docs/outbound.md, "Dial modes"):
#:
#: - ``unattended``: up to ``concurrency`` calls at once; the answered leg runs by itself
#:   (a survey, a recorded message) or rings ``connect_to`` like any Dial;
#: - ``preview``: each contact is offered to a free agent first (an event and
#:   ``callflow campaign offers``/``accept``/``skip``) and dialled once accepted;
#: - ``progressive``: one call per free agent of the campaign queue, never more;
#: - ``predictive``: dial ahead of free agents, paced to keep the measured abandon rate
#:   at or under ``abandon.target`` (progressive until there are enough samples).
DialMode = Literal["unattended", "preview", "progressive", "predictive"]
#: the modes whose answered calls wait for an agent of the campaign queue
AGENT_MODES: Final = ("preview", "progressive", "predictive")
#: over which calls the abandon rate is measured: the last 30 days (US TSR), the last
#: 24 hours (UK Ofcom), or the whole campaign
AbandonWindow = Literal["30d", "24h", "campaign"]
#: a follow-up customer whose own account manager is on another call: ``group`` (the
#: campaign queue takes the call) or ``wait`` (the contact is scheduled for the manager)
ManagerBusy = Literal["group", "wait"]
#: a message file written ``manager:<file>`` is the customer's own account manager's
#: recording, ``<file>-<manager id>``, falling back to ``<file>`` (DOMAIN.md §4)
MANAGER_PREFIX: Final = "manager:"
#: what a machine's greeting must end with before ``amd="message"`` plays the message:
#: ``WaitForSilence(<ms of silence>,1,<give up after s>)``
GREETING_END_SILENCE_MS: Final = 1500
GREETING_MAX_SECONDS: Final = 40


@dataclass(frozen=True)
class Audience:
    """Which customers a campaign calls: all conditions must hold (empty = any)."""

    tiers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallingWindow:
    """When customers may be called, in *their* time zone (falling back to ``timezone``)."""

    hours: tuple[Hours, ...]
    timezone: str | None = None


@dataclass(frozen=True)
class AbandonControl:
    """When an answered customer counts as abandoned and what the dialer does about it.

    A live-answered call with no agent connected within ``limit_seconds`` hears the
    campaign's ``abandon_message`` (the "safe-harbour" message naming the caller) and is
    abandoned. The rate (abandoned / live-answered calls over ``window``) is kept at or
    under ``target`` by the predictive pacer; ``machine_correction`` adds the UK regulator's
    estimate of live calls that AMD mistook for machines. A number whose call was
    abandoned is not called again for ``lockout_hours``."""

    limit_seconds: Annotated[float, Range(1, 15)] = 2
    target: Annotated[float, Range(0, 0.2)] = 0.03
    window: AbandonWindow = "30d"
    machine_correction: bool = False
    #: the share of AMD "machine" verdicts that were live people, for the correction
    #: (Ofcom asks for a reasoned estimate: measure it on the campaign's own calls)
    false_positive_rate: Annotated[float, Range(0, 1)] = 0.05
    lockout_hours: Annotated[int, Range(0, 720, integer=True)] = 72


@dataclass(frozen=True)
class SurveyQuestion:
    """One survey question: a prompt and the digits that are valid answers."""

    id: str
    prompt: Prompt | str
    answers: str = "12345"
    timeout: Seconds = 6


@dataclass(frozen=True, kw_only=True)
class Campaign:
    """An outbound campaign.

    - ``followup``: call the customer and connect them to ``connect_to`` (a group or queue).
    - ``survey``: ask ``questions``; answers are stored with the call record.
    - ``playback``: play ``message`` (e.g. a consultant's own recording, DOMAIN.md §4).
    """

    id: str
    kind: CampaignKind
    audience: Audience = field(default_factory=Audience)
    window: CallingWindow | None = None
    message: Prompts = Prompts()
    questions: tuple[SurveyQuestion, ...] = ()
    connect_to: str | None = None
    caller_id: str | None = None
    max_attempts: Annotated[int, Range(1, 20, integer=True)] = 3
    retry_after_minutes: Annotated[int, Range(1, 10080, integer=True)] = 60
    concurrency: Annotated[int, Range(1, 1000, integer=True)] = 2
    label: Label = ""
    #: what the dialer originates to: a channel technology, ``{number}`` for the E.164
    #: number (``"PJSIP/{number}@trunk"``, ``"Local/{number}@outbound"``)
    endpoint: str = "PJSIP/{number}@trunk"
    #: how long the callee's phone rings before the attempt is a no-answer
    ring_seconds: CampaignRingSeconds = 30
    amd: AmdMode = "off"
    #: the digit that, pressed instead of a survey answer, opts the number out of every
    #: campaign (``CF_OPTOUT=1``, the do-not-call list); None: no opt-out digit
    opt_out_digit: str | None = "9"
    #: played after the last survey question
    goodbye: Prompts = Prompts(default="vm-goodbye")
    #: played to a callee who opted out, before the hang-up
    opt_out_message: Prompts = Prompts(default="vm-goodbye")
    #: run the answered flow live on the flow machine (``Stasis(callflow-<site>,
    #: campaign-<id>)`` after AMD), with the compiled flow as the fallback
    live: bool = False
    # Compliance (callflow.outbound.compliance, docs/outbound.md): public holidays of
    # ``country`` (ISO 3166 code, via the holidays package) and the site's own
    # ``holidays`` are not called; ``workdays`` are make-up working days (called with
    # Monday's hours); caps per number over all campaigns: attempts per callee-local day
    # and per rolling 24 h (None: no cap; max_attempts is the per-campaign cap).
    country: str | None = None
    holidays: tuple[dt.date, ...] = ()
    workdays: tuple[dt.date, ...] = ()
    max_per_day: Annotated[int, Range(1, 100, integer=True)] | None = None
    max_per_24h: Annotated[int, Range(1, 100, integer=True)] | None = None
    # Agent-connected outbound (callflow.dialer.pacing, docs/outbound.md). In the agent
    # modes an answered human waits in the campaign queue (``connect_to``'s members; the
    # customer's account manager first) for at most ``abandon.limit_seconds``.
    dial_mode: DialMode = "unattended"
    abandon: AbandonControl = field(default_factory=AbandonControl)
    #: what an abandoned customer hears: who called and how to call back (US TSR)
    abandon_message: Prompts = Prompts()
    #: customers of these tiers are only dialled when a free agent is already reserved
    #: for them: never dialled ahead, never abandoned by pacing
    protected_tiers: tuple[str, ...] = ("vip",)
    manager_busy: ManagerBusy = "group"
    #: how long an offered contact waits for an agent to accept it (``preview``)
    preview_seconds: Annotated[int, Range(5, 3600, integer=True)] = 60
    #: recorded from the callee's answer; None: the site's policy (docs/recording.md)
    recording: Recording | None = None

    @property
    def agent_mode(self) -> bool:
        """Whether answered calls wait for an agent (``preview``/``progressive``/
        ``predictive``)."""
        return self.dial_mode in AGENT_MODES

    def __post_init__(self) -> None:
        object.__setattr__(self, "questions", as_tuple(self.questions))

    # ---- the answered leg as flow nodes ---------------------------------------------------
    def node_id(self, part: str) -> str:
        """The id of one generated node of the answered leg: ``campaign-<id>-<part>``.
        User node ids cannot contain ``-``, so these never collide with a site's nodes."""
        return f"{campaign_entry(self.id)}-{part}"

    def answered_flow(self, site_nodes: Container[str] = ()) -> AnsweredFlow:
        """The answered call as flow nodes, run by every backend like any flow:

        - ``message`` (when set): a :class:`CampaignMessage` (``campaign-<id>-message``);
        - a survey's questions: one :class:`~callflow.model.nodes.Ask` each
          (``campaign-<id>-q-<question>``; the opt-out digit leads to ``optout``), then
          the goodbye (``campaign-<id>-bye``, a Hangup);
        - ``optout``: :class:`OptOut`, sets ``CF_OPTOUT=1``, plays ``opt_out_message``,
          hangs up;
        - ``machine``: what an answering machine gets with ``amd="message"``: the message,
          then a hang-up.
        - a follow-up goes on to ``connect_to`` after the message: the site's node of that
          id (``site_nodes``), else a Dial of that group or person (``campaign-<id>-connect``).
        """
        nodes: list[Node] = []
        bye = self.node_id("bye")
        optout = self.node_id("optout")
        questions = [q for q in self.questions if isinstance(q, SurveyQuestion)]
        after_message = self.node_id(f"q-{questions[0].id}") if questions else bye
        connect: Node | None = None
        if self.kind == "followup" and self.connect_to is not None:
            if self.connect_to in site_nodes:
                connect = Goto(id=self.node_id("connect"), target=self.connect_to)
            else:
                connect = Dial(id=self.node_id("connect"), target=self.connect_to, ring=30)
            after_message = connect.id
            questions = []
        message = self.message
        if message:
            nodes.append(
                CampaignMessage(id=self.node_id("message"), prompts=message, next=after_message)
            )
        keys = {self.opt_out_digit: optout} if self.opt_out_digit and questions else {}
        for i, q in enumerate(questions):
            nxt = self.node_id(f"q-{questions[i + 1].id}") if i + 1 < len(questions) else bye
            nodes.append(
                Ask(
                    id=self.node_id(f"q-{q.id}"),
                    question=q.id,
                    prompt=q.prompt,
                    answers=q.answers,
                    timeout=q.timeout,
                    keys=keys,
                    next=nxt,
                    failure=bye,
                )
            )
        goodbye = self.goodbye if questions else ()
        if connect is not None:
            nodes.append(connect)
        else:
            nodes.append(Hangup(id=bye, prompts=goodbye))
        if keys:
            nodes.append(OptOut(id=optout, prompts=self.opt_out_message))
        machine = None
        if self.amd == "message" and message:
            machine = self.node_id("machine")
            nodes.append(CampaignMessage(id=machine, prompts=message, next=None))
        return AnsweredFlow(start=nodes[0].id, machine=machine, nodes=tuple(nodes))


@dataclass(frozen=True)
class AnsweredFlow:
    """A campaign's answered leg: its nodes, where a human starts (``start``) and where an
    answering machine goes with ``amd="message"`` (``machine``; None otherwise)."""

    start: str
    machine: str | None
    nodes: tuple[Node, ...]

    @property
    def node_map(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}


@dataclass(frozen=True, kw_only=True)
class CampaignMessage(Node):
    """Play a campaign's message, then continue at ``next`` (None: hang up). A prompt
    written ``manager:<file>`` plays ``<file>-<CF_MANAGER>`` (the account manager's own
    recording; the dialer passes the manager id, filtered to ``a-z0-9_``) and, when that
    file cannot be played, ``<file>``."""

    prompts: Prompts = Prompts(required=True)
    next: str | None = None
    visit_name: ClassVar[str] = "campaign_message"

    def edges(self) -> dict[str, str | None]:
        return {"next": self.next}

    def destination(self) -> str | None:
        return "hangup" if self.next is None else None


@dataclass(frozen=True, kw_only=True)
class OptOut(Node):
    """The callee opted out: set ``CF_OPTOUT=1`` (the end event reports it and the
    call-record writer puts the number on the do-not-call list), play ``prompts``,
    hang up."""

    prompts: Prompts = Prompts()
    visit_name: ClassVar[str] = "opt_out"

    def destination(self) -> str | None:
        return "hangup"


def manager_prompt(file: str, manager: str) -> tuple[str, str] | None:
    """For a ``manager:<file>`` prompt, the per-manager file and its fallback::

    manager_prompt("manager:custom/followup", "alice")
    # ('custom/followup-alice', 'custom/followup')

    None for an ordinary prompt file."""
    if not file.startswith(MANAGER_PREFIX):
        return None
    base = file.removeprefix(MANAGER_PREFIX)
    return f"{base}-{manager}", base
