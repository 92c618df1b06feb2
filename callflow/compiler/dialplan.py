"""Model -> IR: one context per node, plus the site's entry, hooks and staff contexts.

Context names: ``cf-<site>-<node>`` for nodes, ``cf-<site>-entry`` for the dialled
numbers, ``cf-<site>-hooks`` for the hang-up handler, ``cf-<site>-staff`` for
account-manager dialling, ``cf-<site>-compiled`` for the compiled version of live
entries.

A live entry (``Site(live=True)`` or ``live_entries``) first tries the site's Stasis
application ``callflow-<site>`` (the live runtime, which sets up the call exactly as the
entry below would); when the application is not connected ``Stasis()`` fails at once and
the call runs ``cf-<site>-compiled,<number>,1``, the same flow compiled. The runtime hands
calls back by continuing at ``cf-<site>-<node>,s,1`` or at the step after ``Stasis()``.

Node ids cannot contain ``-``, so internal contexts such as ``cf-<site>-<node>-holidays``
never collide with a node's.

The channel variables below are the contract between the compiled dialplan, the CRM
lookup server, the live runtime and the tests:

- ``CF_SITE``, ``CF_ENTRY``; ``CF_TRACE``: node ids visited, space-separated;
  ``CF_DEST``: where the call arrived (``queue:sales``, ``dial:alice``, ``voicemail:100``,
  ``hangup``); ``CF_PATH``: ``queue``, ``manager`` or ``manager-then-queue``.
- set by the Lookup node from the lookup server's one-variable answer ``CF_CRM`` (see
  :data:`callflow.model.variables.ANSWER_VAR`): ``CF_LOOKUP`` (``ok``, else
  ``failed``), ``CF_CUSTOMER_ID``, ``CF_TIER``, ``CF_MANAGER`` (a staff id), ``CF_LANG``,
  ``CF_SEGMENT``, ``CF_REGION``, ``CF_TAGS`` (tags joined by ``.``),
  ``CF_CUSTOMER_NAME``. All of them are filtered before use: a wrong value can only
  make a caller unknown, never change what the dialplan runs.
- ``CF_NOW``: a Unix time that time conditions use instead of the clock (tests).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

from callflow.compiler import phones, recording
from callflow.compiler.devstate import LOCKED_STATE, any_equal, release, take_phone
from callflow.compiler.escape import base64_literal, comment, conf_arg
from callflow.compiler.ir import (
    CompiledSite,
    Context,
    Extension,
    Mailbox,
    QueueConf,
    QueueMember,
    Step,
)
from callflow.contract import (
    AMDSTATUS,
    ANSWER_FIELDS,
    ANSWER_VAR,
    AUTOANSWER_EXTEN,
    BRANCH_VARS,
    CALLERID_NAME,
    CALLERID_NUM,
    CAMPAIGN_EXTEN,
    CF_ABANDONED,
    CF_AGENT,
    CF_AGENT_PIN,
    CF_AMD,
    CF_ANSWERS,
    CF_ATTEMPT,
    CF_BRANCH_KEY,
    CF_CAMPAIGN,
    CF_CLOCK,
    CF_CONNECTED,
    CF_CRM_LANG,
    CF_CUSTOMER_NAME,
    CF_DEST,
    CF_DEVSTATE,
    CF_ENTRY,
    CF_FREE,
    CF_LANG,
    CF_LEFT_MS,
    CF_LOOKUP,
    CF_MANAGER,
    CF_MANAGER_KEY,
    CF_NOW,
    CF_OPTOUT,
    CF_PATH,
    CF_PIN_KEY,
    CF_PRIO,
    CF_READ,
    CF_SITE,
    CF_TIER,
    CF_TIER_KEY,
    CF_TRACE,
    CF_TRIES,
    CF_WAIT_START_MS,
    CF_WAITED_MS,
    CF_WEEK,
    CHANNEL_LANGUAGE,
    COMPILED_NODE,
    CUSTOMER_VARS,
    DIGITS,
    END_EVENT,
    HANGUP_EXTEN,
    HANGUP_HANDLER_EXTEN,
    HANGUP_HANDLER_PUSH,
    HOOKS_NODE,
    IDENT,
    NUMBER,
    READ_KEYS,
    STAFF_NODE,
    TAG_LIST,
    UPPER,
    answer_entry,
    answer_var,
    app_name,
    campaign_context,
    campaign_entry,
    campaign_queue,
    connected_context,
    context_name,
    entry_context,
    hangup_handler,
    mailbox_context,
    moh_class,
    queue_name,
)
from callflow.model.agents import campaign_agents
from callflow.model.campaigns import (
    GREETING_END_SILENCE_MS,
    GREETING_MAX_SECONDS,
    Campaign,
    CampaignMessage,
    OptOut,
    manager_prompt,
)
from callflow.model.nodes import (
    Ask,
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
    Retry,
    Retrying,
    TimeCondition,
    Voicemail,
    VoicemailGreeting,
)
from callflow.model.prompts import Prompt
from callflow.model.site import Site
from callflow.model.visitor import NodeVisitor

#: customer variables the lookup sets; cleared when it fails
#: Queue() outcomes after which the caller is still with us and goes to overflow
QUEUE_GAVE_UP = ("TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL")

#: the agent leg of an agent-mode campaign (``campaign-<id>-agents``) and the trace entry
#: of an abandoned customer (``campaign-<id>-abandoned``)
AGENTS_PART = "agents"
ABANDONED_PART = "abandoned"
#: CF_DEST and CF_PATH of a customer waiting for agents; CF_PATH once a pinned agent is rung
QUEUE_DEST = "queue:"
QUEUE_PATH = "queue"
PIN_PATH = "agent"
#: the abandon message starts this many ms before the limit: Asterisk's timer wakes the
#: channel a few ms late, and the limit is a legal maximum
ABANDON_MARGIN_MS = 100
#: the agent-leg variables a campaign call starts without (the dialer reads them)
AGENT_LEG_VARS = (CF_CONNECTED, CF_AGENT, CF_WAITED_MS, CF_ABANDONED)

#: VoiceMail()'s option for each greeting (every value of the model's Literal; a test holds
#: the two together)
GREETING_FLAGS: dict[VoicemailGreeting, str] = {"unavailable": ",u", "busy": ",b", "none": ",s"}


__all__ = ["DialplanCompiler", "app_name", "build", "context_name", "queue_name"]


def var(name: str) -> str:
    """A variable's value in dialplan: ``${NAME}``."""
    return f"${{{name}}}"


def filtered(allowed: str, name: str, *, lower: bool = False) -> str:
    """``${FILTER(allowed,${NAME})}``, with ``TOLOWER()`` inside when ``lower`` (the
    simulator and the runtime use :func:`callflow.contract.lowered_key` for this)."""
    value = f"${{TOLOWER({var(name)})}}" if lower else var(name)
    return f"${{FILTER({allowed},{value})}}"


class DialplanCompiler(NodeVisitor[list[Context]]):
    """Compile each node of a site into its context(s)."""

    backend = "the dialplan compiler"

    def __init__(self, site: Site) -> None:
        self.site = site
        # Steps are immutable, so the many identical jumps of a large site share one
        # object each (a 10k-menu site has ~70k of them).
        self._gotos: dict[tuple[str | None, str | None], Step] = {}

    # -- helpers -------------------------------------------------------------------------
    def ctx(self, node_id: str) -> str:
        return context_name(self.site.name, node_id)

    def goto(self, target: str | None, *, label: str | None = None) -> Step:
        step = self._gotos.get((target, label))
        if step is None:
            where = (
                f"{self.ctx(HOOKS_NODE)},{HANGUP_EXTEN},1"
                if target is None
                else f"{self.ctx(target)},s,1"
            )
            step = self._gotos[(target, label)] = Step("Goto", where, label=label)
        return step

    def enter(self, node: Node) -> list[Step]:
        note = comment(node.label) if node.label else ""
        steps = [Step("Set", f"{CF_TRACE}={var(CF_TRACE)} {node.id}", comment=note)]
        dest = node.destination()
        if dest is not None:
            steps.append(Step("Set", f"{CF_DEST}={dest}"))
        if node.needs_media():  # the caller hears ringing, unbilled, until here
            steps.append(Step("Answer"))
        return steps

    @staticmethod
    def play(prompts: Iterable[Prompt], app: str = "Playback") -> list[Step]:
        return [Step(app, p.file, comment=comment(p.text) if p.text else "") for p in prompts]

    def devices(self, who: str) -> str:
        return "&".join(p.device for p in self.site.people(who))

    def node_context(self, node: Node, *extensions: Extension, comment_text: str = "") -> Context:
        kind = type(node).__name__
        text = f"{kind} {node.id}" + (f": {comment(node.label)}" if node.label else "")
        return Context(self.ctx(node.id), tuple(extensions), comment=comment_text or text)

    # -- nodes -----------------------------------------------------------------------------
    def visit_play(self, node: Play) -> list[Context]:
        steps = self.enter(node) + self.play(node.prompts) + [self.goto(node.next)]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_goto(self, node: Goto) -> list[Context]:
        steps = [*self.enter(node), self.goto(node.target)]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_hangup(self, node: Hangup) -> list[Context]:
        steps = self.enter(node) + self.play(node.prompts) + [Step("Hangup")]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_menu(self, node: Menu) -> list[Context]:
        prompts = node.prompt
        start = [
            *self.enter(node),
            Step("Set", f"{CF_TRIES}=0"),
            Step("Set", f"{CF_TRIES}=$[{var(CF_TRIES)} + 1]", label="prompt"),
            *self.play(prompts, "Background"),
            Step("WaitExten", _seconds(node.timeout)),
        ]
        exts = [Extension("s", tuple(start))]
        for digit, target in sorted(node.choices().items()):
            exts.append(Extension(digit, (self.goto(target),)))
        exts.append(Extension("i", tuple(self.retry(node, node.wrong_key))))
        exts.append(Extension("t", tuple(self.retry(node, node.silence))))
        return [self.node_context(node, *exts)]

    def retry(self, node: Retrying, failed: Retry) -> list[Step]:
        """A failed try (``failed``: ``node.silence`` or ``node.wrong_key``): its prompt,
        then its jump, or the prompt again while tries are left, then ``failure``."""
        if failed.jump is not None:
            return [*self.play(failed.prompt), self.goto(failed.jump)]
        return [
            *self.play(failed.prompt),
            Step("GotoIf", f"$[{var(CF_TRIES)} < {node.tries}]?s,prompt"),
            self.goto(node.failure),
        ]

    def visit_ask(self, node: Ask) -> list[Context]:
        """Read() one digit; the read value is only ever used through FILTER(), so a
        digit is never evaluated as an expression (nor can anything else be)."""
        prompts = node.prompt
        question = node.question_id
        answer = f"${{FILTER({node.answers},{var(CF_READ)})}}"
        steps = [
            *self.enter(node),
            Step("Set", f"{CF_TRIES}=0"),
            Step("Set", f"{CF_TRIES}=$[{var(CF_TRIES)} + 1]", label="prompt"),
            Step(
                "Read",
                f"{CF_READ},{'&'.join(p.file for p in prompts)},1,,1,{_seconds(node.timeout)}",
                comment=" / ".join(comment(p.text) for p in prompts if p.text),
            ),
            Step("Set", f"{CF_READ}={filtered(READ_KEYS, CF_READ)}"),
            Step("GotoIf", f'$["{var(CF_READ)}" = ""]?timeout'),
            *(
                Step("GotoIf", f'$["{var(CF_READ)}" = "{key}"]?{self.ctx(target)},s,1')
                for key, target in sorted(node.keys.items())
            ),
            Step("GotoIf", f'$["{answer}" = ""]?invalid'),
            Step("Set", f"{answer_var(question)}={answer}"),
            Step("Set", f"{CF_ANSWERS}={var(CF_ANSWERS)}{answer_entry(question, answer)}"),
            self.goto(node.next),
        ]
        invalid = self.retry(node, node.wrong_key)
        timeout = self.retry(node, node.silence)
        steps += [dataclasses.replace(invalid[0], label="invalid"), *invalid[1:]]
        steps += [dataclasses.replace(timeout[0], label="timeout"), *timeout[1:]]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_campaign_message(self, node: CampaignMessage) -> list[Context]:
        """Playback() the message; a ``manager:<file>`` prompt plays the account
        manager's own ``<file>-<manager>`` (the manager id filtered to a-z0-9_), and
        ``<file>`` when that one cannot be played."""
        steps = self.enter(node) + self.message_steps(node.prompts)
        steps.append(self.goto(node.next))
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_opt_out(self, node: OptOut) -> list[Context]:
        steps = [
            *self.enter(node),
            Step("Set", f"{CF_OPTOUT}=1", comment="the do-not-call list"),
            *self.play(node.prompts),
            Step("Hangup"),
        ]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def campaign_contexts(self, campaign: Campaign) -> list[Context]:
        """The context the dialer originates a campaign's calls into
        (:func:`~callflow.contract.campaign_context`, extension ``s``), then the answered
        leg's nodes. The dialer's only input, ``CF_ATTEMPT`` (and ``CF_MANAGER`` for a
        manager's own message), is filtered before anything reads it."""
        site = self.site
        flow = campaign.answered_flow(site.node_map)
        steps = [
            Step("Set", f"{CF_SITE}={site.name}"),
            Step("Set", f"{CF_CAMPAIGN}={campaign.id}"),
            Step("Set", f"{CF_ATTEMPT}={filtered(IDENT, CF_ATTEMPT)}"),
            Step("Set", f"{CF_MANAGER}={filtered(IDENT, CF_MANAGER)}"),
            Step("Set", f"{CF_ENTRY}="),
            Step("Set", f"{CF_TRACE}="),
            Step("Set", f"{CF_DEST}="),
            Step("Set", f"{CF_PATH}="),
            Step("Set", f"{CF_AMD}="),
            Step("Set", f"{CF_OPTOUT}="),
            *((Step("Set", f"{name}=") for name in AGENT_LEG_VARS) if campaign.agent_mode else ()),
            Step("Set", f"{CHANNEL_LANGUAGE}={site.language}"),
            Step("Set", f"{HANGUP_HANDLER_PUSH}={hangup_handler(site.name)}"),
            Step("Answer"),
        ]
        if campaign.amd != "off":
            steps += [
                Step("AMD", comment=f"answering machine: {campaign.amd}"),
                Step("Set", f"{CF_AMD}={filtered(UPPER, AMDSTATUS)}"),
                Step("GotoIf", f'$["{var(CF_AMD)}" = "MACHINE"]?machine'),
            ]
        steps += recording.campaign_steps(site, campaign.recording)
        if campaign.live:
            steps.append(
                Step(
                    "Stasis", f"{app_name(site.name)},{campaign_entry(campaign.id)}", comment="live"
                )
            )
        agents = campaign.agent_mode and campaign.kind == "followup"
        if agents:
            steps.append(self.goto(campaign.node_id(AGENTS_PART)))
        else:
            steps.append(self.goto(flow.start))
        if campaign.amd == "hangup":
            steps.append(self.goto(None, label="machine"))
        elif campaign.amd == "message":
            steps += [
                Step(
                    "WaitForSilence",
                    f"{GREETING_END_SILENCE_MS},1,{GREETING_MAX_SECONDS}",
                    label="machine",
                    comment="the end of the greeting",
                ),
                self.goto(flow.machine),
            ]
        label = comment(campaign.label) if campaign.label else campaign.id
        out = [
            Context(
                campaign_context(site.name, campaign.id),
                (Extension(CAMPAIGN_EXTEN, tuple(steps)),),
                comment=f"{campaign.kind} campaign {label}: the answered call",
            )
        ]
        if agents:  # a human goes to the agents; a machine is hung up on
            out.append(self.agent_leg(campaign))
            return out
        for node in flow.nodes:
            out.extend(self.visit(node))
        return out

    def message_steps(self, prompts: Iterable[Prompt]) -> list[Step]:
        """Playback() each prompt; a ``manager:<file>`` prompt plays the account
        manager's own ``<file>-<manager>`` (the id filtered to a-z0-9_), falling back to
        ``<file>`` when that one cannot be played."""
        steps = []
        for p in prompts:
            own = manager_prompt(p.file, var(CF_MANAGER_KEY))
            note = comment(p.text) if p.text else ""
            if own is None:
                steps.append(Step("Playback", p.file, comment=note))
                continue
            steps += [
                Step("Set", f"{CF_MANAGER_KEY}={filtered(IDENT, CF_MANAGER)}"),
                Step("Playback", own[0], comment=note or "the account manager's own recording"),
                Step("ExecIf", f'$["${{PLAYBACKSTATUS}}" != "SUCCESS"]?Playback({own[1]})'),
            ]
        return steps

    def agent_leg(self, campaign: Campaign) -> Context:
        """An agent-mode follow-up's answered customer (after AMD): the pinned agent
        (``CF_AGENT_PIN``, a staff id the dialer reserved for a protected tier), then
        the customer's account manager (``CF_MANAGER``) when their phone is free, each
        for at most half of the time left, then the campaign queue, all within
        ``abandon.limit_seconds`` of the start (``CF_WAIT_START_MS``, ms).

        ``Dial()`` takes its timeout in ms precision; app_queue's timeout counts whole
        seconds (``time(NULL) >= expire``), so the queue's bound is
        ``TIMEOUT(absolute)``, set to the ms left (``ast_channel_setwhentohangup_tv``):
        when it expires the channel continues at extension ``T``, the abandon: it sets
        ``CF_WAITED_MS`` and ``CF_ABANDONED=1`` and plays ``abandon_message``. An
        agent's answer runs ``cf-<site>-connected`` on the agent's channel, which
        cancels that timeout and sets ``CF_CONNECTED``/``CF_AGENT``/``CF_WAITED_MS`` on
        the customer's channel."""
        site = self.site
        name = campaign.node_id(AGENTS_PART)
        limit_ms = round(campaign.abandon.limit_seconds * 1000) - ABANDON_MARGIN_MS
        now_ms = "${STRFTIME(,,%s%3q)}"
        left = Step("Set", f"{CF_LEFT_MS}=$[{limit_ms} - ({now_ms} - {var(CF_WAIT_START_MS)})]")
        out_of_time = Step("GotoIf", f"$[{var(CF_LEFT_MS)} <= 0]?T,1")
        connected = connected_context(site.name)
        predial = f"b({connected}^{AUTOANSWER_EXTEN}^1)"
        half = f"$[{var(CF_LEFT_MS)} / 2000]"
        queue = campaign_queue(site.name, campaign.id)
        steps = [
            Step("Set", f"{CF_TRACE}={var(CF_TRACE)} {name}"),
            Step("Set", f"{CF_DEST}={QUEUE_DEST}{queue}"),
            Step("Set", f"{CF_PATH}={QUEUE_PATH}"),
            Step("Set", f"{CF_WAIT_START_MS}={now_ms}", comment="the customer starts waiting"),
            *self.staff_first(
                CF_PIN_KEY,
                CF_AGENT_PIN,
                PIN_PATH,
                half,
                skip="manager",
                options=f"{predial}U({connected}^{var(CF_PIN_KEY)})",
                before=(left, out_of_time),
            ),
        ]
        manager = self.staff_first(
            CF_MANAGER_KEY,
            CF_MANAGER,
            "manager",
            half,
            skip="queue",
            options=f"{predial}U({connected}^{var(CF_MANAGER_KEY)})",
            before=(left, out_of_time),
        )
        manager[0] = dataclasses.replace(manager[0], label="manager")
        manager.insert(3, Step("GotoIf", f'$["{var(CF_MANAGER_KEY)}" = "{var(CF_PIN_KEY)}"]?queue'))
        steps += manager
        steps += [
            Step("Set", f"{CF_PATH}=manager-then-queue"),
            dataclasses.replace(left, label="queue"),
            out_of_time,
            Step("Set", f"TIMEOUT(absolute)=$[{var(CF_LEFT_MS)} / 1000]", comment="the limit"),
            Step(
                "Queue",
                f"{queue},r{predial},,,{math.ceil(campaign.abandon.limit_seconds) + 1},,"
                f"{connected}",
            ),
            Step("Set", "TIMEOUT(absolute)=0"),
            Step("GotoIf", f'$["{var(CF_CONNECTED)}" = "1"]?answered'),
            Step("Goto", "T,1", comment="left the queue unanswered"),
            Step("Hangup", label="answered"),
        ]
        abandon = [
            Step("Set", "TIMEOUT(absolute)=0"),
            Step("Set", f"{CF_WAITED_MS}=$[{now_ms} - {var(CF_WAIT_START_MS)}]"),
            Step("Set", f"{CF_ABANDONED}=1", comment="no agent within the limit"),
            Step("Set", f"{CF_TRACE}={var(CF_TRACE)} {campaign.node_id(ABANDONED_PART)}"),
            *self.message_steps(campaign.abandon_message),
            Step("Hangup"),
        ]
        label = comment(campaign.label) if campaign.label else campaign.id
        return Context(
            self.ctx(name),
            (Extension("s", tuple(steps)), Extension("T", tuple(abandon))),
            comment=f"campaign {label}: the answered customer waits for an agent",
        )

    def connected_context(self) -> Context | None:
        """The agent leg of agent-mode campaigns (``cf-<site>-connected``).

        ``s``: run on the agent's channel when they answer (``Dial(U())``, ``Queue()``'s
        gosub), before the two are bridged. ``MASTER_CHANNEL()`` is the channel whose
        uniqueid is the agent channel's linkedid: the customer's channel, which the
        dialer originated with the attempt id as its id. It cancels the customer's
        abandon timeout, then sets ``CF_WAITED_MS``, ``CF_AGENT`` and, last,
        ``CF_CONNECTED=1`` there (each a VarSet event of the customer's channel). The
        agent is ``ARG1`` (a staff id) or, from the queue, the staff member whose device
        is ``MEMBERINTERFACE`` (queues.conf ``setinterfacevar``).

        ``autoanswer``: the pre-dial Gosub (``b()``) on each agent channel: a SIP phone
        is asked to answer by itself (``Alert-Info: info=alert-autoanswer`` and
        ``Call-Info: ;answer-after=0``, understood by most desk and soft phones)."""
        campaigns = [c for c in self.site.campaigns if c.agent_mode and c.kind == "followup"]
        if not campaigns:
            return None
        agents = {p.id: p for c in campaigns for p in campaign_agents(self.site, c)}
        master = "MASTER_CHANNEL"
        now_ms = "${STRFTIME(,,%s%3q)}"
        steps = [
            Step("Set", f"{master}(TIMEOUT(absolute))=0", comment="connected: no abandon"),
            Step("Set", f"{CF_PIN_KEY}={filtered(IDENT, 'ARG1')}"),
            Step("GotoIf", f'$["{var(CF_PIN_KEY)}" != ""]?known'),
            *(
                Step(
                    "ExecIf",
                    f'$["${{MEMBERINTERFACE}}" = "{p.device}"]?Set({CF_PIN_KEY}={p.id})',
                    comment=comment(p.name),
                )
                for p in sorted(agents.values(), key=lambda p: p.id)
            ),
            Step(
                "Set",
                f"{master}({CF_WAITED_MS})=$[{now_ms} - ${{{master}({CF_WAIT_START_MS})}}]",
                label="known",
            ),
            Step("Set", f"{master}({CF_AGENT})={var(CF_PIN_KEY)}"),
            Step("Set", f"{master}({CF_CONNECTED})=1"),
            Step("Return"),
        ]
        autoanswer = [
            Step("GotoIf", '$["${CHANNEL(channeltype)}" != "PJSIP"]?done'),
            Step("Set", "PJSIP_HEADER(add,Alert-Info)=info=alert-autoanswer"),
            Step("Set", "PJSIP_HEADER(add,Call-Info)=\\;answer-after=0"),
            Step("Return", label="done"),
        ]
        return Context(
            connected_context(self.site.name),
            (Extension("s", tuple(steps)), Extension(AUTOANSWER_EXTEN, tuple(autoanswer))),
            comment="agent leg of agent-mode campaigns: reports the connection",
        )

    def campaign_queue_conf(self, campaign: Campaign) -> QueueConf:
        """The campaign queue: the people of ``connect_to`` as members (the lines the
        site's queues use), one call per agent (``ringinuse=no``), the longest-idle
        agent first, customers join and stay even when every agent is busy (the abandon
        limit, not the queue, ends the wait), every waiting customer rings a free agent
        at once (``autofill``; app_queue's default rings for the first in line only and
        rechecks the others once a second), nothing announced."""
        ring = max(1, math.ceil(campaign.abandon.limit_seconds))
        settings = (
            ("strategy", "leastrecent"),
            ("timeout", str(ring)),
            ("retry", "1"),
            ("wrapuptime", "0"),
            ("maxlen", "0"),
            ("joinempty", "yes"),
            ("leavewhenempty", "no"),
            ("announce-position", "no"),
            ("announce-holdtime", "no"),
            ("announce-frequency", "0"),
            ("periodic-announce-frequency", "0"),
            ("setinterfacevar", "yes"),
            ("autofill", "yes"),
            ("ringinuse", "no"),
        )
        members = tuple(
            QueueMember(p.device, 0, conf_arg(p.name)) for p in campaign_agents(self.site, campaign)
        )
        label = comment(campaign.label) if campaign.label else campaign.id
        return QueueConf(
            campaign_queue(self.site.name, campaign.id),
            settings,
            members,
            comment=f"agents of campaign {label}",
        )

    def visit_language_select(self, node: LanguageSelect) -> list[Context]:
        prompts = node.prompt
        start = [
            *self.enter(node),
            *self.play(prompts, "Background"),
            Step("WaitExten", _seconds(node.timeout)),
        ]
        exts = [Extension("s", tuple(start))]
        for digit, lang in sorted(node.languages.items()):
            exts.append(Extension(digit, (*_set_language(lang), self.goto(node.next))))
        fallback = _set_language(node.default) if node.default else []
        exts.append(Extension("i", (*fallback, self.goto(node.next))))
        exts.append(Extension("t", (*fallback, self.goto(node.next))))
        return [self.node_context(node, *exts)]

    def visit_dial(self, node: Dial) -> list[Context]:
        steps = self.enter(node)
        if node.cid_prefix:
            steps.append(
                Step(
                    "Set", f"{CALLERID_NAME}={base64_literal(node.cid_prefix)}{var(CALLERID_NAME)}"
                )
            )
        # only phones that are free (device state) and that no other call is about to
        # ring (the person's ring lock): a busy desk phone gets no second call
        steps.append(Step("Set", f"{CF_FREE}="))
        people = sorted(self.site.people(node.target), key=lambda p: p.id)
        for person in people:
            skip = f"next-{person.id}"
            steps += [
                *take_phone(self.site.name, person, skip),
                Step("Set", f"{CF_FREE}={var(CF_FREE)}&{person.device}"),
                Step("NoOp", label=skip),
            ]
        before, record = recording.dial_steps(self.site, node.id)
        steps += [
            *before,
            Step("Set", "DIALSTATUS=BUSY"),
            Step("GotoIf", f'$["{var(CF_FREE)}" = ""]?gone'),
            Step("Dial", f"${{{CF_FREE}:1}},{node.ring}" + (f",{record}" if record else "")),
            *(release(self.site.name, p.id) for p in people),
            Step("GotoIf", '$["${DIALSTATUS}" = "ANSWER"]?answered'),
            self.goto(node.no_answer, label="gone"),
            Step("Hangup", label="answered"),
        ]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_queue(self, node: Queue) -> list[Context]:
        rule = self.site.rule_for(node)
        steps = self.enter(node)
        steps += [
            Step("Set", f"{CF_PATH}=queue"),
            Step("Set", f"{CF_TIER_KEY}={filtered(IDENT, CF_TIER, lower=True)}"),
            Step("Set", f"QUEUE_PRIO={rule.default}"),
        ]
        for tier, prio in sorted(rule.tiers.items()):
            steps.append(
                Step("ExecIf", f'$["{var(CF_TIER_KEY)}" = "{tier}"]?Set(QUEUE_PRIO={prio})')
            )
        steps.append(Step("Set", f"{CF_PRIO}=${{QUEUE_PRIO}}"))
        if node.cid_prefix:
            steps.append(
                Step(
                    "Set", f"{CALLERID_NAME}={base64_literal(node.cid_prefix)}{var(CALLERID_NAME)}"
                )
            )
        before, record = recording.queue_steps(self.site, node)
        steps += before
        if node.manager_first:
            steps += self.staff_first(
                CF_MANAGER_KEY,
                CF_MANAGER,
                "manager",
                str(node.manager_first),
                skip="join",
                options=recording.manager_option(self.site, node),
            )
            steps.append(Step("Set", f"{CF_PATH}=manager-then-queue"))
        qargs = f"{queue_name(self.site.name, node.id)},,,,{node.max_wait}"
        if record:  # the 7th argument: a gosub on the agent's channel once connected
            qargs += f",,{record}"
        steps += [
            Step("Queue", qargs, label="join"),
            Step("GotoIf", f"$[{any_equal('QUEUESTATUS', QUEUE_GAVE_UP)}]?overflow"),
            Step("Hangup", label="answered"),
            self.goto(node.overflow, label="overflow"),
        ]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def staff_first(
        self,
        key: str,
        source: str,
        path: str,
        seconds: str,
        *,
        skip: str,
        options: str = "",
        before: Iterable[Step] = (),
    ) -> list[Step]:
        """Ring one staff member named by the variable ``source`` (filtered into ``key``)
        through the staff context, only when that person exists and their phone is free
        (:func:`~callflow.compiler.devstate.take_phone`): ``CF_PATH=path``, ``Dial`` for
        ``seconds`` with ``options``; jumps to ``skip`` when there is nobody to ring and
        to ``answered`` when they answered. ``before`` runs just before the dial."""
        staff = self.ctx(STAFF_NODE)
        args = f"{seconds},{options}" if options else seconds
        return [
            Step("Set", f"{key}={filtered(IDENT, source)}"),
            Step("GotoIf", f'$["{var(key)}" = ""]?{skip}'),
            Step("GotoIf", f"${{DIALPLAN_EXISTS({staff},{var(key)},1)}}?:{skip}"),
            Step("Set", f"{CF_PATH}={path}"),
            *before,
            Step("Set", "DIALSTATUS="),
            Step("Gosub", f"{staff},{var(key)},1({args})"),
            Step("GotoIf", '$["${DIALSTATUS}" = "ANSWER"]?answered'),
        ]

    def visit_voicemail(self, node: Voicemail) -> list[Context]:
        flag = GREETING_FLAGS[node.greeting]
        steps = [
            *self.enter(node),
            Step("VoiceMail", f"{node.mailbox}@{mailbox_context(self.site.name)}{flag}"),
            Step("Hangup"),
        ]
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_time_condition(self, node: TimeCondition) -> list[Context]:
        tz = node.timezone or self.site.timezone
        holidays_ctx = f"{self.ctx(node.id)}-holidays"
        steps = [
            *self.enter(node),
            Step("Set", f"{CF_CLOCK}={filtered(DIGITS, CF_NOW)}"),
            Step("ExecIf", f'$["{var(CF_CLOCK)}" = ""]?Set({CF_CLOCK}=${{EPOCH}})'),
        ]
        if node.holidays:
            day = f"${{STRFTIME({var(CF_CLOCK)},{tz},%Y%m%d)}}"
            steps.append(Step("GotoIf", f"${{DIALPLAN_EXISTS({holidays_ctx},{day},1)}}?holiday"))
        steps.append(Step("Set", f"{CF_WEEK}=${{STRFTIME({var(CF_CLOCK)},{tz},%u%H%M)}}"))
        ranges = sorted({r for h in node.hours for r in h.ranges()})
        for lo, hi in ranges:
            steps.append(Step("GotoIf", f"$[{var(CF_WEEK)} >= {lo} & {var(CF_WEEK)} < {hi}]?open"))
        steps += [
            self.goto(node.closed),
            self.goto(node.open, label="open"),
        ]
        if node.holidays:
            steps.append(self.goto(node.holiday or node.closed, label="holiday"))
        out = [
            self.node_context(
                node, Extension("s", tuple(steps)), comment_text=f"TimeCondition {node.id} ({tz})"
            )
        ]
        if node.holidays:
            days = tuple(
                Extension(d.strftime("%Y%m%d"), (Step("NoOp", d.isoformat()),))
                for d in node.holidays
            )
            out.append(Context(holidays_ctx, days, comment=f"holidays of {node.id}"))
        return out

    def visit_branch(self, node: Branch) -> list[Context]:
        name = BRANCH_VARS[node.attribute]
        steps = self.enter(node)
        if node.attribute == "tags":
            steps.append(Step("Set", f"{CF_BRANCH_KEY}=.{filtered(TAG_LIST, name, lower=True)}."))
            for value, target in node.cases.items():
                steps.append(
                    Step(
                        "GotoIf",
                        f'${{REGEX("[.]{value}[.]" {var(CF_BRANCH_KEY)})}}?{self.ctx(target)},s,1',
                    )
                )
        else:
            steps.append(Step("Set", f"{CF_BRANCH_KEY}={filtered(IDENT, name, lower=True)}"))
            for value, target in node.cases.items():
                steps.append(
                    Step(
                        "GotoIf",
                        f'$["{var(CF_BRANCH_KEY)}" = "{value.lower()}"]?{self.ctx(target)},s,1',
                    )
                )
        steps.append(self.goto(node.default))
        return [self.node_context(node, Extension("s", tuple(steps)))]

    def visit_lookup(self, node: Lookup) -> list[Context]:
        """Ask the CRM under a bound Asterisk itself enforces.

        res_agi waits for a FastAGI server's commands without any timeout, so a server
        that accepts and never answers would hold the call: ``TIMEOUT(absolute)`` soft
        hangs the channel after the site's ``lookup.timeout`` seconds, ``AGIEXITONHANGUP`` makes
        ``AGI()`` return on that (and on a real hang-up, so the end event still comes),
        and the ``T`` extension carries on as an unknown caller. The caller's number is
        passed explicitly, filtered to digits and ``+``; the lookup never trusts the
        AGI environment's ``agi_callerid``.
        """
        lookup = self.site.lookup
        after = self.goto(node.next)
        number = filtered(NUMBER, CALLERID_NUM)
        steps = [
            *self.enter(node),
            Step("Set", f"{CF_LOOKUP}="),
            Step("Set", f"{ANSWER_VAR}="),
            Step("Set", "AGIEXITONHANGUP=yes"),
            Step("Set", f"TIMEOUT(absolute)={_seconds(lookup.timeout)}", comment="hung CRM"),
            Step("AGI", agi_target(lookup.url, lookup.script, self.site.name, number)),
            Step("Set", "TIMEOUT(absolute)=0"),
            Step(
                "GotoIf",
                f'$["${{AGISTATUS}}" = "SUCCESS" & "${{CUT({ANSWER_VAR},.,1)}}" = "ok:{number}"]'
                "?found",
                comment="an answer about this caller's number, not another's",
            ),
            Step(
                "Set",
                f"{CF_LOOKUP}=failed",
                label="failed",
                comment="lookup down, slow or failed: unknown caller",
            ),
            *(Step("Set", f"{v}=") for v in CUSTOMER_VARS),
            after,
            *unpack_answer(),
            after,
        ]
        bound = (Step("Goto", "s,failed", comment=f"no answer within {lookup.timeout:g}s"),)
        return [self.node_context(node, Extension("s", tuple(steps)), Extension("T", bound))]

    # -- site-wide contexts ------------------------------------------------------------------
    def entry_steps(self, number: str, target: str) -> tuple[Step, ...]:
        return (
            Step("Set", f"{CF_SITE}={self.site.name}"),
            Step("Set", f"{CF_ENTRY}={number}"),
            Step("Set", f"{CF_TRACE}="),
            Step("Set", f"{CF_DEST}="),
            Step("Set", f"{CF_PATH}="),
            Step("Set", f"{CHANNEL_LANGUAGE}={self.site.language}"),
            Step("Set", f"{HANGUP_HANDLER_PUSH}={hangup_handler(self.site.name)}"),
            *recording.entry_steps(self.site),
            self.goto(target),
        )

    def entry_context(self) -> Context:
        exts = []
        for number, target in sorted(self.site.entries.items()):
            if self.site.is_live(number):
                steps: tuple[Step, ...] = (
                    Step("Stasis", f"{app_name(self.site.name)},{number}", comment="live"),
                    Step("Goto", f"{self.ctx(COMPILED_NODE)},{number},1"),
                )
            else:
                steps = self.entry_steps(number, target)
            exts.append(Extension(number, steps))
        label = comment(self.site.label) if self.site.label else self.site.name
        return Context(
            entry_context(self.site.name), tuple(exts), comment=f"entry points of {label}"
        )

    def compiled_entry_context(self) -> Context | None:
        """The compiled flow of each live entry: its fallback and the runtime's hand-back."""
        exts = [
            Extension(number, self.entry_steps(number, target))
            for number, target in sorted(self.site.entries.items())
            if self.site.is_live(number)
        ]
        if not exts:
            return None
        return Context(self.ctx(COMPILED_NODE), tuple(exts), comment="live entries, compiled")

    def hooks_context(self) -> Context:
        end = (
            *recording.report_steps(self.site),
            Step(
                "UserEvent",
                ",".join(
                    [
                        END_EVENT,
                        *(
                            f"{field}: {var(name) if allowed is None else filtered(allowed, name)}"
                            for field, (name, allowed) in recording.end_fields(self.site).items()
                        ),
                    ]
                ),
            ),
            Step("Return"),
        )
        hangup = (Step("Set", f"{CF_DEST}=hangup"), Step("Hangup"))
        return Context(
            self.ctx(HOOKS_NODE),
            (Extension(HANGUP_HANDLER_EXTEN, end), Extension(HANGUP_EXTEN, hangup)),
            comment="hang-up handler: reports where the call went",
        )

    def staff_context(self) -> Context | None:
        if not any(q.manager_first for q in self.site.queues()) and not any(
            c.agent_mode for c in self.site.campaigns
        ):
            return None
        exts = []
        for person in sorted(self.site.staff_map.values(), key=lambda p: p.id):
            steps = (
                *take_phone(self.site.name, person, "away", "locked"),
                Step("Dial", f"{person.device},${{ARG1}},${{ARG2}}"),
                release(self.site.name, person.id),
                Step("Return"),
                Step("Set", f"{CF_DEVSTATE}={LOCKED_STATE}", label="locked"),
                Step("Set", f"DIALSTATUS={var(CF_DEVSTATE)}", label="away"),
                Step("Return"),
            )
            exts.append(Extension(person.id, steps))
        return Context(
            self.ctx(STAFF_NODE),
            tuple(exts),
            comment="account managers (and pinned agents), rung before a queue",
        )

    def queue_conf(self, node: Queue) -> QueueConf:
        settings = [
            ("strategy", node.strategy),
            ("timeout", str(node.ring)),
            ("retry", str(node.retry)),
            ("wrapuptime", str(node.wrapup)),
            ("maxlen", str(node.maxlen)),
            ("joinempty", node.joinempty),
            ("leavewhenempty", node.leavewhenempty),
            ("musicclass", moh_class(self.site.name, node.music)),
            ("announce-position", "yes" if node.announce_position else "no"),
            ("announce-holdtime", "yes" if node.announce_holdtime else "no"),
            ("announce-frequency", str(node.announce_frequency)),
            ("ringinuse", "no"),
        ]
        members: dict[str, QueueMember] = {}
        for m in node.member_list:
            for person in sorted(self.site.people(m.who), key=lambda p: p.id):
                members.setdefault(
                    person.device, QueueMember(person.device, m.penalty, conf_arg(person.name))
                )
        label = comment(node.label) if node.label else node.id
        return QueueConf(
            queue_name(self.site.name, node.id),
            tuple(settings),
            tuple(members.values()),
            comment=label,
        )


def unpack_answer() -> list[Step]:
    """The steps that turn the lookup's one-variable answer (``CF_CRM``, see
    :data:`~callflow.model.variables.ANSWER_VAR`) into the customer's channel variables.

    Each field is base64 and is decoded straight into ``Set()``, whose value is never
    evaluated again, so a CRM value cannot become dialplan (``LEN()`` only counts it).
    A found customer's fields are all set, empty ones cleared, except that a customer
    without a language keeps the one the caller chose and one without a name keeps the
    caller's ``CALLERID(name)``.
    """

    def field(name: str) -> str:
        return f"${{BASE64_DECODE(${{CUT({ANSWER_VAR},.,{ANSWER_FIELDS.index(name) + 2})}}):1}}"

    return [
        Step("Set", f"{CF_LOOKUP}=ok", label="found"),
        Step(
            "GotoIf",
            f"$[${{LEN(${{CUT({ANSWER_VAR},.,2)}})}} = 0]?done",
            comment="not in the CRM",
        ),
        *(Step("Set", f"{name}={field(name)}") for name in ANSWER_FIELDS if name != CF_LANG),
        Step("Set", f"{CF_CRM_LANG}={field(CF_LANG)}"),
        Step("GotoIf", f"$[${{LEN({var(CF_CRM_LANG)})}} = 0]?name", comment="no language on file"),
        Step("Set", f"{CF_LANG}={var(CF_CRM_LANG)}"),
        Step("GotoIf", f"$[${{LEN({var(CF_CUSTOMER_NAME)})}} = 0]?done", label="name"),
        Step("Set", f"{CALLERID_NAME}={var(CF_CUSTOMER_NAME)}"),
        Step("Set", f"{CF_CRM_LANG}=", label="done"),
        Step("Set", f"{ANSWER_VAR}="),
    ]


def agi_target(url: str, script: str, *args: str) -> str:
    """The ``AGI()`` argument for a lookup ``url``: FastAGI ``agi://host:port`` gives
    ``agi://host:port/script,args``; a classic program ``agi:/path/to/callflow-agi`` (one
    process per call, for sites that run no server) gives ``/path/to/callflow-agi,script,args``.
    """
    if url.startswith("agi:") and not url.startswith("agi://"):
        return ",".join((url.removeprefix("agi:"), script, *args))
    return ",".join((f"{url}/{script}", *args))


def _seconds(value: float) -> str:
    return f"{value:g}"


def _set_language(lang: str) -> list[Step]:
    return [Step("Set", f"{CHANNEL_LANGUAGE}={lang}"), Step("Set", f"{CF_LANG}={lang}")]


def build(site: Site) -> CompiledSite:
    """Compile a (validated) site to IR. Use :func:`callflow.compiler.compile_site`."""
    comp = DialplanCompiler(site)
    contexts = [comp.entry_context(), comp.hooks_context()]
    record = recording.record_context_for(site)
    if record is not None:
        contexts.append(record)
    compiled_entries = comp.compiled_entry_context()
    if compiled_entries is not None:
        contexts.append(compiled_entries)
    staff = comp.staff_context()
    if staff is not None:
        contexts.append(staff)
    for node in sorted(site.nodes, key=lambda n: n.id):
        contexts.extend(comp.visit(node))
    for campaign in sorted(site.campaigns, key=lambda c: c.id):
        contexts.extend(comp.campaign_contexts(campaign))
    connected = comp.connected_context()
    if connected is not None:
        contexts.append(connected)
    contexts += phones.inbound_contexts(site)
    staff_phones = phones.staff_phones_context(site)
    if staff_phones is not None:
        contexts.append(staff_phones)
    queues = tuple(comp.queue_conf(q) for q in sorted(site.queues(), key=lambda q: q.id))
    queues += tuple(
        comp.campaign_queue_conf(c)
        for c in sorted(site.campaigns, key=lambda c: c.id)
        if c.agent_mode and c.kind == "followup"
    )
    boxes = {
        n.mailbox: Mailbox(mailbox_context(site.name), n.mailbox, n.mailbox, n.email or "")
        for n in site.nodes
        if isinstance(n, Voicemail)
    }
    for person in site.staff_map.values():  # staff phones reach their owner's mailbox
        if person.mailbox and person.extension:
            boxes.setdefault(
                person.mailbox,
                Mailbox(mailbox_context(site.name), person.mailbox, person.mailbox),
            )
    pjsip = phones.pjsip_sections(site)
    return CompiledSite(
        site=site.name,
        contexts=tuple(contexts),
        queues=queues,
        mailboxes=tuple(boxes[k] for k in sorted(boxes)),
        entry_context=entry_context(site.name),
        pjsip=pjsip,
        moh=phones.moh_sections(site),
        endpoints=tuple(s.name for s in pjsip if dict(s.settings).get("type") == "endpoint"),
        tone_zone=site.tone_zone,
    )
