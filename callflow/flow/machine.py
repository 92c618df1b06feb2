"""The flow machine: what each node does and where the call goes next, written once.

:class:`FlowMachine` is a :class:`~callflow.model.visitor.NodeVisitor` whose handlers are
generators of :mod:`~callflow.flow.effects` (wazo-calld's call states, sans I/O): a
handler yields what should happen (play these prompts, wait for a digit, set this
variable) and returns the next node id. It never waits, reads a clock or touches a
channel, so the offline simulator and the live ARI runtime drive the very same
decisions, and the dialplan compiler renders them (the three-way tests hold them
together)::

    machine = FlowMachine(site)
    steps = machine.visit(site.node_map["main"])   # a generator: drive it with send()

Queues, dials and voicemail are handed to their compiled context (:class:`HandOff`);
:class:`~callflow.flow.compiled.CompiledModel` is what those contexts do, for the
simulator.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Container, Generator, Sequence
from typing import Any, Final

from callflow.contract import (
    ANSWER_FIELDS,
    BRANCH_VARS,
    CALLERID_NAME,
    CALLERID_NUM,
    CF_AMD,
    CF_ANSWERS,
    CF_ATTEMPT,
    CF_CAMPAIGN,
    CF_CUSTOMER_NAME,
    CF_DEST,
    CF_ENTRY,
    CF_LANG,
    CF_LOOKUP,
    CF_MANAGER,
    CF_NOW,
    CF_OPTOUT,
    CF_PATH,
    CF_SITE,
    CF_TRACE,
    CHANNEL_LANGUAGE,
    CUSTOMER_VARS,
    DIGITS,
    HANGUP_HANDLER_PUSH,
    IDENT,
    READ_TERMINATOR,
    TAG_LIST,
    UPPER,
    answer_entry,
    answer_var,
    asterisk_filter,
    hangup_handler,
    lookup_number,
    lowered_key,
)
from callflow.flow.effects import (
    Answer,
    Clock,
    DetectMachine,
    Effect,
    Enter,
    Found,
    GetVar,
    HandOff,
    Hangup,
    Lookup,
    Note,
    Play,
    SetVar,
    Steps,
    WaitDigit,
    WaitSilence,
)
from callflow.model import nodes
from callflow.model.campaigns import (
    GREETING_END_SILENCE_MS,
    GREETING_MAX_SECONDS,
    AnsweredFlow,
    Campaign,
    CampaignMessage,
    OptOut,
    manager_prompt,
)
from callflow.model.prompts import Prompt
from callflow.model.schedule import week_key
from callflow.model.site import Site
from callflow.model.visitor import NodeVisitor

#: an empty value from the CRM leaves these as they were (the caller's choice, the network's)
KEPT_WHEN_EMPTY: Final = frozenset({CF_LANG, CALLERID_NAME, CALLERID_NUM})


def prompts(value: object) -> tuple[Prompt, ...]:
    """A node's prompt field as the tuple the model normalised it to."""
    return value if isinstance(value, tuple) else ()


def enter(node: nodes.Node) -> Steps:
    """Entering a node: it is recorded, and a node that plays or listens answers the
    call first (:meth:`~callflow.model.nodes.Node.needs_media`), as the compiled
    context's ``Answer()`` does."""
    yield Enter(node)
    if node.needs_media():
        yield Answer()
    return None


def goto(target: str | None, why: str) -> Steps:
    """``goto(target)`` of the compiler: no target is the hooks' ``hangup`` extension,
    which sets ``CF_DEST=hangup`` and hangs up."""
    if target is None:
        yield Hangup(f"{why}: not set", dest="hangup")
        return None
    yield Note("goto", f"{why} -> {target}")
    return target


def apply_lookup(found: Found | None) -> Steps:
    """What a Lookup does with the CRM's answer (``None``: the lookup failed)."""
    if found is None:
        yield SetVar(CF_LOOKUP, "failed")
        for name in CUSTOMER_VARS:
            yield SetVar(name, "")
        yield Note("lookup", "failed: unknown caller")
        return None
    values = {name: value for name, value in found.items() if name != CF_LOOKUP}
    customer = any(name in ANSWER_FIELDS for name in values)
    if customer:  # every field is set, empty ones cleared, as the compiled node does
        values = {name: "" for name in ANSWER_FIELDS} | values
        values[CALLERID_NAME] = values[CF_CUSTOMER_NAME]
    for name, value in values.items():
        if value or name not in KEPT_WHEN_EMPTY:
            yield SetVar(name, value)
    yield SetVar(CF_LOOKUP, "ok")
    yield Note("lookup", "found" if customer else "not found: unknown caller")
    return None


def is_open(node: nodes.TimeCondition, local: dt.datetime) -> bool:
    """Whether ``local`` (the node's local time) falls in its opening hours."""
    key = week_key(local)
    return any(lo <= key < hi for hours in node.hours for lo, hi in hours.ranges())


class FlowMachine(NodeVisitor[Steps]):
    """The meaning of every node, as effect generators (see the module docstring)."""

    backend = "the flow machine"
    #: the nodes whose handler hands the call to their compiled context
    handed_off: Final = frozenset({"dial", "queue", "voicemail"})

    def __init__(self, site: Site) -> None:
        self.site = site

    # ---- the entry -------------------------------------------------------------------------
    def start(self, entry: str) -> Steps:
        """What the compiled entry extension does before its first Goto."""
        yield SetVar(CF_SITE, self.site.name)
        yield SetVar(CF_ENTRY, entry)
        yield SetVar(CF_TRACE, "")
        yield SetVar(CF_DEST, "")
        yield SetVar(CF_PATH, "")
        yield SetVar(CHANNEL_LANGUAGE, self.site.language)
        yield SetVar(HANGUP_HANDLER_PUSH, hangup_handler(self.site.name))
        # not answered: the caller hears ringing until a node needs media (see enter)
        return self.site.entries[entry]

    def answered_flow(self, campaign: Campaign) -> AnsweredFlow:
        return campaign.answered_flow(self.site.node_map)

    def start_campaign(self, campaign: Campaign) -> Steps:
        """What a campaign's compiled context does before its first Goto (see
        :meth:`callflow.compiler.dialplan.DialplanCompiler.campaign_contexts`): the
        dialer's variables filtered, the hang-up handler, AMD. Returns where the answered
        call starts (None: a machine hung up on)."""
        flow = self.answered_flow(campaign)
        yield SetVar(CF_SITE, self.site.name)
        yield SetVar(CF_CAMPAIGN, campaign.id)
        yield SetVar(CF_ATTEMPT, asterisk_filter(IDENT, (yield GetVar(CF_ATTEMPT))))
        yield SetVar(CF_MANAGER, asterisk_filter(IDENT, (yield GetVar(CF_MANAGER))))
        for name in (CF_ENTRY, CF_TRACE, CF_DEST, CF_PATH, CF_AMD, CF_OPTOUT):
            yield SetVar(name, "")
        yield SetVar(CHANNEL_LANGUAGE, self.site.language)
        yield SetVar(HANGUP_HANDLER_PUSH, hangup_handler(self.site.name))
        yield Answer()
        if campaign.amd != "off":
            status = asterisk_filter(UPPER, (yield DetectMachine()))
            yield SetVar(CF_AMD, status)
            yield Note("amd", status or "-")
            if status == "MACHINE":
                if campaign.amd == "hangup":
                    yield Hangup("answering machine", dest="hangup")
                    return None
                yield WaitSilence(GREETING_END_SILENCE_MS, GREETING_MAX_SECONDS)
                yield Note("goto", f"machine -> {flow.machine}")
                return flow.machine
        yield Note("goto", f"answered -> {flow.start}")
        return flow.start

    # ---- helpers ---------------------------------------------------------------------------
    @staticmethod
    def ask(prompt: Sequence[Prompt], timeout: float) -> Steps:
        """Background(prompt) then WaitExten(timeout): the digit pressed, or None."""
        digit = yield Play(tuple(prompt), barge_in=True)
        if digit is None:
            digit = yield WaitDigit(timeout)
        return digit  # type: ignore[no-any-return]

    # ---- nodes -----------------------------------------------------------------------------
    def visit_play(self, node: nodes.Play) -> Steps:
        yield from enter(node)
        yield Play(prompts(node.prompts))
        return (yield from goto(node.next, "next"))

    def visit_goto(self, node: nodes.Goto) -> Steps:
        yield from enter(node)
        return (yield from goto(node.target, "target"))

    def visit_hangup(self, node: nodes.Hangup) -> Steps:
        yield from enter(node)
        yield Play(prompts(node.prompts))
        yield Hangup()
        return None

    def tries(
        self,
        node: nodes.Retrying,
        accepted: Container[str],
        silent: Container[str] = (),
    ) -> Generator[Effect, Any, tuple[str | None, str | None]]:
        """The retry loop of menus and questions (Adhearsion's ``invalid``, ``timeout``,
        ``failure``, ``tries``): prompt, wait, and on silence (or a key in ``silent``) or a
        key not ``accepted`` play the node's prompt for it and jump, try again or fail.
        Returns ``(key, None)`` for an accepted key, else ``(None, next node id)``."""
        tries = 0
        while True:
            tries += 1
            key = yield from self.ask(prompts(node.prompt), node.timeout)
            if key is None or key in silent:
                yield Note("timeout", f"try {tries} of {node.tries}")
                failed = node.silence
            elif key in accepted:
                yield Note("press", key)
                return key, None
            else:
                yield Note("press", f"{key} (invalid)")
                failed = node.wrong_key
            yield Play(prompts(failed.prompt))
            if failed.jump is not None:
                return None, (yield from goto(failed.jump, failed.role))
            if tries >= node.tries:
                return None, (yield from goto(node.failure, "failure"))

    def visit_menu(self, node: nodes.Menu) -> Steps:
        yield from enter(node)
        choices = node.choices()
        key, target = yield from self.tries(node, choices)
        if key is None:
            return target
        return (yield from goto(choices[key], f"key {key}"))

    def visit_ask(self, node: nodes.Ask) -> Steps:
        yield from enter(node)
        # Read() ends its input on '#': the compiled node sees silence
        accepted = set(node.answers) | set(node.keys)
        key, target = yield from self.tries(node, accepted, silent=READ_TERMINATOR)
        if key is None:
            return target
        if key in node.keys:
            return (yield from goto(node.keys[key], f"key {key}"))
        question = node.question_id
        yield Note("answer", f"{question}:{key}")
        yield SetVar(answer_var(question), key)
        answers = yield GetVar(CF_ANSWERS)
        yield SetVar(CF_ANSWERS, f"{answers}{answer_entry(question, key)}")
        return (yield from goto(node.next, "next"))

    def visit_campaign_message(self, node: CampaignMessage) -> Steps:
        yield Enter(node)
        files: list[Prompt] = []
        for p in prompts(node.prompts):
            own = manager_prompt(p.file, "")
            if own is None:
                files.append(p)
            else:
                manager = asterisk_filter(IDENT, (yield GetVar(CF_MANAGER)))
                files.append(Prompt(f"{own[1]}-{manager}", p.text, p.seconds))
        yield Play(tuple(files))
        return (yield from goto(node.next, "next"))

    def visit_opt_out(self, node: OptOut) -> Steps:
        yield Enter(node)
        yield SetVar(CF_OPTOUT, "1")
        yield Play(prompts(node.prompts))
        yield Hangup()
        return None

    def visit_language_select(self, node: nodes.LanguageSelect) -> Steps:
        yield from enter(node)
        key = yield from self.ask(prompts(node.prompt), node.timeout)
        if key is None:
            yield Note("timeout")
            language = node.default
        else:
            yield Note("press", key if key in node.languages else f"{key} (invalid)")
            language = node.languages.get(key, node.default)
        if language:
            yield SetVar(CHANNEL_LANGUAGE, language)
            yield SetVar(CF_LANG, language)
            yield Note("language", language)
        return (yield from goto(node.next, "next"))

    def visit_dial(self, node: nodes.Dial) -> Steps:
        return (yield HandOff(node))  # type: ignore[no-any-return]

    def visit_queue(self, node: nodes.Queue) -> Steps:
        return (yield HandOff(node))  # type: ignore[no-any-return]

    def visit_voicemail(self, node: nodes.Voicemail) -> Steps:
        return (yield HandOff(node))  # type: ignore[no-any-return]

    def visit_time_condition(self, node: nodes.TimeCondition) -> Steps:
        yield from enter(node)
        now = asterisk_filter(DIGITS, (yield GetVar(CF_NOW)))
        zone = zoneinfo.ZoneInfo(node.timezone or self.site.timezone)
        try:
            local = dt.datetime.fromtimestamp(int(now) if now else (yield Clock()), zone)
        except (OverflowError, OSError, ValueError):  # a CF_NOW no clock can show
            local = dt.datetime.fromtimestamp((yield Clock()), zone)
        holiday = local.date() in node.holidays
        open_ = not holiday and is_open(node, local)
        why, target = node.route(holiday=holiday, is_open=open_)
        if holiday:
            yield Note("clock", f"{local:%Y-%m-%d %a %H:%M} holiday")
        else:
            yield Note("clock", f"{local:%Y-%m-%d %a %H:%M} key {week_key(local)}: {why}")
        return (yield from goto(target, why))

    def visit_branch(self, node: nodes.Branch) -> Steps:
        yield from enter(node)
        value = yield GetVar(BRANCH_VARS[node.attribute])
        if node.attribute == "tags":
            key = f".{lowered_key(TAG_LIST, value)}."
            for tag, target in node.cases.items():
                if f".{tag}." in key:
                    return (yield from goto(target, f"tags has {tag}"))
        else:
            key = lowered_key(IDENT, value)
            for case, target in node.cases.items():
                if key == case.lower():
                    return (yield from goto(target, f"{node.attribute} = {case}"))
        return (yield from goto(node.default, f"default ({node.attribute} {key!r})"))

    def visit_lookup(self, node: nodes.Lookup) -> Steps:
        yield from enter(node)
        yield SetVar(CF_LOOKUP, "")
        number = lookup_number((yield GetVar(CALLERID_NUM)))
        found = yield Lookup(number)
        yield from apply_lookup(found)
        return (yield from goto(node.next, "next"))
