"""Whole-site checks: every problem, with a path into the model and a stable code.

    problems = validate(site)          # list of Diagnostic, errors and warnings
    check(site)                        # raises ValidationError listing every error

Codes are stable and documented in ``docs/errors.md``. The compiler calls :func:`check`
first, so nothing that fails here ever reaches a dialplan.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import typing
import zoneinfo
from collections import deque
from collections.abc import Iterator
from functools import cache
from typing import Any

from callflow.errors import Diagnostic, Severity, ValidationError
from callflow.model.agents import campaign_agents
from callflow.model.campaigns import MANAGER_PREFIX, Campaign
from callflow.model.fieldcheck import TOO_LONG, check_fields, check_value, shown
from callflow.model.limits import APP_ARGS_BYTES
from callflow.model.nodes import (
    Ask,
    Branch,
    Dial,
    LanguageSelect,
    Lookup,
    Menu,
    Node,
    PriorityRule,
    Queue,
    Retrying,
    TimeCondition,
    Voicemail,
)
from callflow.model.phones import Trunk
from callflow.model.prompts import Prompt, prompt_fields
from callflow.model.recording import Recording
from callflow.model.schedule import ScheduleError
from callflow.model.site import Site
from callflow.model.staff import Staff
from callflow.model.visitor import NodeVisitor

IDENT = re.compile(r"[a-z][a-z0-9_]{0,31}")
DEVICE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.@+-]{1,64}(/n)?")
SOUND = re.compile(r"[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,4}")
ENTRY = re.compile(r"s|\+?[0-9*#]{1,24}")
DIGIT = re.compile(r"[0-9*#]")
#: what an Ask accepts: digits only (``#`` ends Read(), the store keeps 0-9)
ANSWER = re.compile(r"[0-9]{1,10}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
MAILBOX = re.compile(r"[0-9]{1,10}")
#: what a staff phone dials to reach a colleague
EXTENSION = re.compile(r"[0-9]{2,8}")
#: a carrier's number as it arrives in the request URI
DID = re.compile(r"\+?[0-9]{3,20}")
#: a trunk's host, or an address/network that identifies it
HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?:/[0-9]{1,2})?|\[?[0-9A-Fa-f:.]{2,45}\]?(?:/[0-9]{1,3})?"
)
SIP_USER = re.compile(r"[A-Za-z0-9+._-]{1,64}")
COUNTRY = re.compile(r"[a-z]{2}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
#: FastAGI ``agi://host[:port]``, or ``agi:/path/to/program`` for a classic AGI script
LOOKUP_URL = re.compile(r"agi://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|agi:/[A-Za-z0-9_./-]{1,250}")
QUEUE_EMPTY = re.compile(
    r"(yes|no|strict|loose|((paused|penalty|inuse|ringing|unavailable|invalid|unknown|wrapup),?)+)"
)

#: a campaign's dial template: a channel technology, then only characters that cannot end
#: or split the originate's endpoint (no ``,``, ``&``, ``(``, ``$``, blanks...), with
#: ``{number}`` once
ENDPOINT = re.compile(
    r"(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@+:=/-]*\{number\}[A-Za-z0-9_.@+:=/-]*"
)

#: where recordings go under Asterisk's monitor directory: a relative folder path
RECORDING_DIR = re.compile(r"[a-z0-9_-]{1,32}(/[a-z0-9_-]{1,32}){0,3}")

#: node ids the compiler uses for contexts of its own
RESERVED = frozenset(
    {"entry", "hangup", "staff", "hooks", "compiled", "inbound", "phones", "connected"}
)
#: roles whose None means "the call ends here" (an implicit exit)
HANGUP_WHEN_UNSET = frozenset({"failure", "no_answer", "overflow"})


def validate(site: Site) -> list[Diagnostic]:
    """Every problem in ``site``, errors and warnings, sorted by path then code."""
    return sorted(set(_Checker(site).run()))


def check(site: Site) -> list[Diagnostic]:
    """Raise :class:`ValidationError` if ``site`` has errors; return its warnings."""
    found = validate(site)
    if any(d.severity is Severity.ERROR for d in found):
        raise ValidationError(found)
    return found


def known_country(code: str) -> bool:
    """Whether the holidays package has public holidays for the ISO 3166 *code*."""
    import holidays

    return code.upper() in holidays.list_supported_countries()


def valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _npath(node: Node) -> str:
    return f"site.nodes[{shown(node.id)}]"


def _item_path(kind: str, item: object, index: int) -> str:
    """``site.nodes['main']`` for an item with a text id, else ``site.nodes[3]``."""
    ident = getattr(item, "id", None)
    return f"site.{kind}[{shown(ident)}]" if isinstance(ident, str) else f"site.{kind}[{index}]"


@cache
def _site_hints() -> dict[str, object]:
    return typing.get_type_hints(Site, include_extras=True)


class _Checker(NodeVisitor[Iterator[Diagnostic]]):
    """Types first (every field against its annotation, see
    :mod:`callflow.model.fieldcheck`), then the meaning of each well-typed part, then the
    flow graph, which is only analysed when the whole site is well typed.

    Each node type's own checks are its ``visit_<node>`` method (one dispatch with lint,
    graph and the flow machine): a node type without one raises
    :class:`~callflow.errors.UnsupportedNode` before anything is checked."""

    backend = "validate"

    def __init__(self, site: Site) -> None:
        self.site = site
        items = site.nodes if isinstance(site.nodes, tuple) else ()
        self.has_lookup = any(isinstance(n, Lookup) for n in items)
        self.bad_fields: set[str] = set()
        self.ill_typed = False
        self.nodes: list[Node] = []
        self.staff: list[Staff] = []
        self.campaigns: list[Campaign] = []
        self.trunks: list[Trunk] = []

    def run(self) -> Iterator[Diagnostic]:
        self.require(self.site.nodes)
        yield from self.check_types()
        yield from self.check_site()
        yield from self.check_staff()
        yield from self.check_phones()
        for node in self.nodes:
            yield from self.check_node(node)
        seen: set[str] = set()
        for c in self.campaigns:
            if c.id in seen:  # two contexts of one name: the dialplan would merge them
                path = f"site.campaigns[{shown(c.id)}]"
                yield self.err(path, "CF155", f"duplicate campaign id {c.id!r}")
            seen.add(c.id)
            yield from self.check_campaign(c)
        if not self.ill_typed:
            yield from self.check_graph()

    def check_types(self) -> list[Diagnostic]:
        """Every field of the site and of everything in it against its annotation; what
        is well typed is kept for the checks that follow."""
        out: list[Diagnostic] = []
        hints = _site_hints()
        lists: dict[str, tuple[type, list[Any]]] = {
            "nodes": (Node, self.nodes),
            "staff": (Staff, self.staff),
            "campaigns": (Campaign, self.campaigns),
            "trunks": (Trunk, self.trunks),
        }
        for f in dataclasses.fields(Site):
            value = getattr(self.site, f.name)
            path = f"site.{f.name}"
            if f.name not in lists:
                if not check_value(value, path, hints[f.name], out, f.name):
                    self.bad_fields.add(f.name)
                continue
            kind, good = lists[f.name]
            if not isinstance(value, tuple):
                out.append(Diagnostic(path, "CF132", f"expected a list, not {shown(value)}"))
                self.bad_fields.add(f.name)
                continue
            for i, item in enumerate(value):
                if not isinstance(item, kind):
                    code = "CF130" if kind is Node else "CF132"
                    what = {
                        Node: "a flow node",
                        Staff: "a Staff",
                        Campaign: "a Campaign",
                        Trunk: "a Trunk",
                    }[kind]
                    out.append(Diagnostic(f"{path}[{i}]", code, f"{shown(item)} is not {what}"))
                    self.ill_typed = True
                elif check_fields(item, _item_path(f.name, item, i), out):
                    good.append(item)
                else:
                    self.ill_typed = True
        self.ill_typed = self.ill_typed or bool(self.bad_fields)
        return out

    def ok(self, *names: str) -> bool:
        """Whether these fields of the site are well typed."""
        return not self.bad_fields.intersection(names)

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    def err(path: str, code: str, message: str) -> Diagnostic:
        return Diagnostic(path, code, message)

    @staticmethod
    def warn(path: str, code: str, message: str) -> Diagnostic:
        return Diagnostic(path, code, message, Severity.WARNING)

    def ident(self, path: str, value: object, what: str) -> Iterator[Diagnostic]:
        if not isinstance(value, str) or not IDENT.fullmatch(value):
            yield self.err(
                path,
                "CF103",
                f"{what} {shown(value)} is not a valid identifier "
                "(lower-case letter, then up to 31 of a-z, 0-9, _)",
            )

    def target(self, path: str, value: str | None) -> Iterator[Diagnostic]:
        if value is not None and value not in self.site.node_map:
            yield self.err(path, "CF101", f"unknown target {shown(value)}")

    def prompt_fields(self, path: str, obj: Node | Campaign) -> Iterator[Diagnostic]:
        for name, prompts in prompt_fields(obj):
            yield from self.prompts(f"{path}.{name}", prompts)

    def prompts(self, path: str, prompts: tuple[Prompt, ...]) -> Iterator[Diagnostic]:
        for i, p in enumerate(prompts):
            if not isinstance(p, Prompt) or not SOUND.fullmatch(p.file) or ".." in p.file:
                shown = p.file if isinstance(p, Prompt) else p
                yield self.err(
                    f"{path}[{i}]",
                    "CF114",
                    f"sound file {shown!r} is not a safe name (letters, digits, _ and -, "
                    "folders separated by /, no extension)",
                )

    def priority_rule(self, path: str, rule: PriorityRule) -> Iterator[Diagnostic]:
        # the priorities' range is part of their type (limits.Priority)
        for tier in rule.tiers:
            yield from self.ident(f"{path}.tiers[{tier!r}]", tier, "tier")

    # -- site, staff ---------------------------------------------------------------------
    def check_site(self) -> Iterator[Diagnostic]:
        s = self.site
        if self.ok("name"):
            yield from self.ident("site.name", s.name, "site name")
        if self.ok("timezone") and not valid_timezone(s.timezone):
            yield self.err("site.timezone", "CF112", f"unknown time zone {s.timezone!r}")
        if self.ok("language") and not LANGUAGE.fullmatch(s.language):
            yield self.err(
                "site.language",
                "CF120",
                f"language {s.language!r} is not a language code like 'en' or 'zh'",
            )
        if self.ok("lookup"):
            yield from self.check_lookup()
        if self.ok("priority"):
            yield from self.priority_rule("site.priority", s.priority)
        if self.ok("entries", "live_entries"):
            yield from self.check_entries()
        if self.ok("recording", "live", "live_entries", "entries"):
            yield from self.recording("site.recording", s.recording)
        seen: set[str] = set()
        for node in self.nodes:
            if node.id in seen:
                yield self.err(_npath(node), "CF102", f"duplicate node id {node.id!r}")
            seen.add(node.id)

    def recording(self, path: str, policy: Recording, *, own: str = "") -> Iterator[Diagnostic]:
        """A recording policy (docs/recording.md): its folder, its announcement; ``own``
        is ``queue`` or ``campaign`` for their own policy (a site recording every call
        from entry makes a queue's moot)."""
        site = self.site.recording
        if not RECORDING_DIR.fullmatch(policy.directory):
            yield self.err(
                f"{path}.directory",
                "CF170",
                f"recording directory {policy.directory!r} is not a relative folder "
                "(a-z, 0-9, _ and -, up to 4 levels separated by /)",
            )
        yield from self.prompts(f"{path}.announcement", policy.announcement)
        if policy.announcement and not policy.on:
            yield self.warn(
                f"{path}.announcement", "CF171", "mode='off' records nothing: never played"
            )
        live = [n for n in self.site.entries if self.site.is_live(n)]
        if not own and policy.mode == "entry" and live:
            yield self.err(
                f"{path}.mode",
                "CF172",
                f"recording from entry is not available on live entries ({', '.join(live)}): "
                "use mode='agent' (queues and dials run compiled, so it records live too) "
                "or make the entries compiled",
            )
        if own == "queue" and site.mode == "entry":
            yield self.warn(
                path,
                "CF173",
                "ignored: the site records every call from entry (site.recording)",
            )

    def check_lookup(self) -> Iterator[Diagnostic]:
        s = self.site
        if not LOOKUP_URL.fullmatch(s.lookup.url):
            yield self.err(
                "site.lookup.url",
                "CF126",
                f"lookup url {s.lookup.url!r} is neither agi://host[:port] "
                "nor agi:/path/to/program",
            )
        yield from self.ident("site.lookup.script", s.lookup.script, "lookup script")

    def check_entries(self) -> Iterator[Diagnostic]:
        s = self.site
        if not s.entries:
            yield self.err("site.entries", "CF106", "a site needs at least one entry point")
        for number, node_id in s.entries.items():
            path = f"site.entries[{number!r}]"
            if not isinstance(number, str) or not ENTRY.fullmatch(number):
                yield self.err(
                    path,
                    "CF106",
                    f"entry {number!r} is not a dialled number (digits, *, #, leading +) or 's'",
                )
            yield from self.target(path, node_id)
        for i, number in enumerate(s.live_entries):
            if number not in s.entries:
                yield self.err(
                    f"site.live_entries[{i}]", "CF131", f"live entry {number!r} is not an entry"
                )

    def check_staff(self) -> Iterator[Diagnostic]:
        seen: set[str] = set()
        groups = set(self.site.groups)
        for person in self.staff:
            path = f"site.staff[{shown(person.id)}]"
            yield from self.ident(path, person.id, "staff id")
            if person.id in seen:
                yield self.err(path, "CF117", f"duplicate staff id {person.id!r}")
            seen.add(person.id)
            if person.id in groups:
                yield self.err(
                    path,
                    "CF118",
                    f"staff id {person.id!r} is also a group name; dials would be ambiguous",
                )
            if not isinstance(person.device, str) or not DEVICE.fullmatch(person.device):
                yield self.err(
                    f"{path}.device",
                    "CF113",
                    f"device {person.device!r} is not a dial string like PJSIP/1001",
                )
            for g in person.groups:
                yield from self.ident(f"{path}.groups", g, "group")
            if person.mailbox is not None and not MAILBOX.fullmatch(person.mailbox):
                yield self.err(
                    f"{path}.mailbox", "CF119", f"mailbox {person.mailbox!r} must be 1-10 digits"
                )

    # -- phones and numbers ------------------------------------------------------------------
    def check_phones(self) -> Iterator[Diagnostic]:
        """Extensions, trunks and the numbers (DIDs) they map to entries (CF301-CF307)."""
        entries = self.site.entries if self.ok("entries") else {}
        extensions: dict[str, str] = {}
        for person in self.staff:
            path = f"site.staff[{shown(person.id)}]"
            ext = person.extension
            if ext is not None:
                if not EXTENSION.fullmatch(ext):
                    yield self.err(
                        f"{path}.extension",
                        "CF301",
                        f"extension {ext!r} is not 2-8 digits (what a desk phone dials)",
                    )
                elif ext in extensions:
                    yield self.err(
                        f"{path}.extension",
                        "CF301",
                        f"extension {ext!r} is also {extensions[ext]!r}'s; "
                        "each person needs their own",
                    )
                elif ext in entries:
                    yield self.err(
                        f"{path}.extension",
                        "CF301",
                        f"extension {ext!r} is also an entry number; staff phones dial both",
                    )
                extensions.setdefault(ext, person.id)
            if person.extension is None and person.did is not None:
                yield self.err(
                    f"{path}.did", "CF302", "a direct number (did) needs an extension to ring"
                )
        dids: dict[str, str] = {
            p.did: f"site.staff[{shown(p.id)}]" for p in self.staff if p.did is not None
        }
        for person in self.staff:
            if person.did is not None and not DID.fullmatch(person.did):
                yield self.err(
                    f"site.staff[{shown(person.id)}].did",
                    "CF302",
                    f"direct number {person.did!r} is not a phone number (digits, leading +)",
                )
        seen: set[str] = set()
        for trunk in self.trunks:
            path = f"site.trunks[{shown(trunk.id)}]"
            yield from self.ident(path, trunk.id, "trunk id")
            if trunk.id in seen:
                yield self.err(path, "CF303", f"duplicate trunk id {trunk.id!r}")
            seen.add(trunk.id)
            for name in ("host", *(f"match[{i}]" for i in range(len(trunk.match)))):
                value = trunk.host if name == "host" else trunk.match[int(name[6:-1])]
                if not HOST.fullmatch(value):
                    yield self.err(
                        f"{path}.{name}",
                        "CF304",
                        f"{value!r} is not a host name or IP address (network)",
                    )
            if trunk.register and not SIP_USER.fullmatch(trunk.username):
                yield self.err(
                    f"{path}.username",
                    "CF304",
                    f"a registering trunk needs a SIP user name, not {trunk.username!r} "
                    "(letters, digits, + . _ -)",
                )
            if trunk.caller_id and not DID.fullmatch(trunk.caller_id):
                yield self.err(
                    f"{path}.caller_id",
                    "CF304",
                    f"caller_id {trunk.caller_id!r} is not a phone number (digits, leading +)",
                )
            if not trunk.codecs:
                yield self.err(f"{path}.codecs", "CF304", "a trunk needs at least one codec")
            for did, entry in trunk.numbers.items():
                where = f"{path}.numbers[{did!r}]"
                if not isinstance(did, str) or not DID.fullmatch(did):
                    yield self.err(
                        where, "CF302", f"number {did!r} is not a phone number (digits, leading +)"
                    )
                elif did in dids:
                    yield self.err(where, "CF302", f"number {did!r} is also {dids[did]}'s")
                else:
                    dids[did] = where
                if entry not in entries:
                    yield self.err(
                        where,
                        "CF305",
                        f"number {did!r} maps to {shown(entry)}, which is not an entry "
                        f"(entries: {', '.join(sorted(entries)) or 'none'})",
                    )
            if trunk.default is not None and trunk.default not in entries:
                yield self.err(
                    f"{path}.default",
                    "CF305",
                    f"default {shown(trunk.default)} is not an entry "
                    f"(entries: {', '.join(sorted(entries)) or 'none'})",
                )
        if self.ok("phones"):
            phones = self.site.phones
            if not HOST.fullmatch(phones.bind):
                yield self.err(
                    "site.phones.bind", "CF304", f"bind {phones.bind!r} is not an address"
                )
            if not phones.codecs:
                yield self.err("site.phones.codecs", "CF304", "staff phones need a codec")
        if self.ok("country", "timezone") and not COUNTRY.fullmatch(self.site.tone_zone):
            yield self.err(
                "site.country",
                "CF306",
                f"country {self.site.country!r} is not a two-letter country code like 'cn'",
            )

    # -- nodes -------------------------------------------------------------------------------
    def check_node(self, node: Node) -> Iterator[Diagnostic]:
        path = _npath(node)
        yield from self.ident(path, node.id, "node id")
        if node.id in RESERVED:
            yield self.err(path, "CF123", f"node id {node.id!r} is reserved; choose another")
        for role, ref in node.edges().items():
            yield from self.target(f"{path}.{role}", ref)
        yield from self.prompt_fields(path, node)
        yield from self.visit(node, path)

    def _nothing_more(self, node: Node, path: str) -> Iterator[Diagnostic]:
        """Nodes whose fields' types, targets and prompts say everything."""
        return iter(())

    visit_play = visit_hangup = visit_goto = visit_lookup = _nothing_more

    def retrying(self, node: Retrying, path: str, what: str) -> Iterator[Diagnostic]:
        """What Menu and Ask share (the retry fields' ranges are their types)."""
        if not node.prompt:
            yield self.err(f"{path}.prompt", "CF114", f"{what} needs a prompt")

    def visit_menu(self, node: Menu, path: str) -> Iterator[Diagnostic]:
        yield from self.retrying(node, path, "a menu")
        for digit in node.options:
            if not isinstance(digit, str) or not DIGIT.fullmatch(digit):
                yield self.err(
                    f"{path}.options[{digit!r}]",
                    "CF105",
                    f"option {digit!r} is not one digit (0-9, *, #)",
                )
        if node.operator is not None and "0" in node.options and node.options["0"] != node.operator:
            yield self.err(
                f"{path}.operator",
                "CF105",
                "digit '0' is used twice: by options['0'] and by operator",
            )
        if not node.choices():
            yield self.err(f"{path}.options", "CF105", "a menu needs at least one option")

    def visit_ask(self, node: Ask, path: str) -> Iterator[Diagnostic]:
        yield from self.retrying(node, path, "a question")
        if node.question is not None:
            yield from self.ident(f"{path}.question", node.question, "question id")
        for digit in node.keys:
            if not isinstance(digit, str) or not DIGIT.fullmatch(digit) or digit == "#":
                yield self.err(
                    f"{path}.keys[{digit!r}]", "CF105", f"key {digit!r} is not one key 0-9 or *"
                )
            elif digit in node.answers:
                yield self.err(
                    f"{path}.keys[{digit!r}]", "CF105", f"key {digit!r} is also an answer"
                )
        answers = node.answers
        if not answers or not ANSWER.fullmatch(answers) or len(set(answers)) != len(answers):
            yield self.err(
                f"{path}.answers",
                "CF136",
                f"answers {shown(answers)} must be distinct digits 0-9, at least one "
                "(# ends the input and * is no answer the store keeps)",
            )

    def visit_language_select(self, node: LanguageSelect, path: str) -> Iterator[Diagnostic]:
        for digit, lang in node.languages.items():
            p = f"{path}.languages[{digit!r}]"
            if not isinstance(digit, str) or not DIGIT.fullmatch(digit):
                yield self.err(p, "CF105", f"option {digit!r} is not one digit (0-9, *, #)")
            if not isinstance(lang, str) or not LANGUAGE.fullmatch(lang):
                yield self.err(
                    p, "CF120", f"language {lang!r} is not a language code like 'en' or 'zh'"
                )
        if node.default is not None and not LANGUAGE.fullmatch(node.default):
            yield self.err(
                f"{path}.default", "CF120", f"language {node.default!r} is not a language code"
            )

    def visit_dial(self, node: Dial, path: str) -> Iterator[Diagnostic]:
        people = self.site.people(node.target)
        if not people:
            yield self.err(
                f"{path}.target", "CF104", f"unknown staff member or group {node.target!r}"
            )
        # Dial(dev1&dev2&...,ring): one config line and one argument buffer in Asterisk
        size = sum(len(p.device) + 1 for p in people if isinstance(p.device, str)) + 8
        if size > APP_ARGS_BYTES - 200:
            yield self.err(
                f"{path}.target",
                TOO_LONG,
                f"ringing the {len(people)} devices of {node.target!r} needs a Dial() argument "
                f"of {size} bytes; Asterisk keeps {APP_ARGS_BYTES} (use a Queue for a group "
                "this large)",
            )

    def visit_queue(self, node: Queue, path: str) -> Iterator[Diagnostic]:
        if not node.members:
            yield self.err(f"{path}.members", "CF127", "a queue needs members")
        for m in node.member_list:
            p = f"{path}.members[{m.who!r}]"
            if not self.site.people(m.who):
                yield self.err(p, "CF104", f"unknown staff member or group {m.who!r}")
        if node.max_wait is None:
            yield self.err(
                f"{path}.max_wait",
                "CF111",
                "a queue needs max_wait so callers are never held forever",
            )
        if node.overflow is None:
            yield self.err(
                f"{path}.overflow",
                "CF111",
                "a queue needs an overflow destination for callers who wait too long",
            )
        for name in ("joinempty", "leavewhenempty"):
            value = getattr(node, name)
            if not isinstance(value, str) or not QUEUE_EMPTY.fullmatch(value):
                yield self.err(
                    f"{path}.{name}", "CF129", f"{name} {value!r} is not an app_queue setting"
                )
        yield from self.ident(f"{path}.music", node.music, "music class")
        if node.priority is not None:
            yield from self.priority_rule(f"{path}.priority", node.priority)
        if node.recording is not None:
            yield from self.recording(f"{path}.recording", node.recording, own="queue")
        if (node.manager_first or node.priority) and not self.has_lookup:
            yield self.warn(
                path,
                "CF125",
                "routes by customer value but the site has no Lookup node; "
                "every caller will be unknown",
            )

    def visit_voicemail(self, node: Voicemail, path: str) -> Iterator[Diagnostic]:
        if not isinstance(node.mailbox, str) or not MAILBOX.fullmatch(node.mailbox):
            yield self.err(
                f"{path}.mailbox", "CF119", f"mailbox {node.mailbox!r} must be 1-10 digits"
            )
        if node.email is not None and not EMAIL.fullmatch(node.email):
            yield self.err(f"{path}.email", "CF119", f"email {node.email!r} is not a plain address")

    def visit_time_condition(self, node: TimeCondition, path: str) -> Iterator[Diagnostic]:
        tz = node.timezone or self.site.timezone
        if node.timezone is not None and not valid_timezone(node.timezone):
            yield self.err(f"{path}.timezone", "CF112", f"unknown time zone {tz!r}")
        if not node.hours:
            yield self.err(f"{path}.hours", "CF115", "a time condition needs opening hours")
        for i, h in enumerate(node.hours):
            try:
                h.ranges()
            except ScheduleError as exc:
                yield self.err(f"{path}.hours[{i}]", "CF115", str(exc))

    def visit_branch(self, node: Branch, path: str) -> Iterator[Diagnostic]:
        check = LANGUAGE if node.attribute == "language" else IDENT
        for value in node.cases:
            if not isinstance(value, str) or not check.fullmatch(value):
                yield self.err(
                    f"{path}.cases[{value!r}]",
                    "CF121",
                    f"case {value!r} is not a valid {node.attribute} value",
                )
        if not self.has_lookup:
            yield self.warn(
                path, "CF125", "branches on customer data but the site has no Lookup node"
            )

    # -- campaigns -------------------------------------------------------------------------------
    def check_campaign(self, c: Campaign) -> Iterator[Diagnostic]:
        path = f"site.campaigns[{shown(c.id)}]"
        yield from self.ident(path, c.id, "campaign id")
        if c.recording is not None:
            yield from self.recording(f"{path}.recording", c.recording, own="campaign")
        if c.window is None:
            yield self.err(
                f"{path}.window",
                "CF122",
                "a campaign needs a calling window so customers are not called at night",
            )
        else:
            if c.window.timezone is not None and not valid_timezone(c.window.timezone):
                yield self.err(
                    f"{path}.window.timezone", "CF112", f"unknown time zone {c.window.timezone!r}"
                )
            for i, h in enumerate(c.window.hours):
                try:
                    h.ranges()
                except ScheduleError as exc:
                    yield self.err(f"{path}.window.hours[{i}]", "CF115", str(exc))
        if isinstance(c.country, str) and not known_country(c.country):
            yield self.err(
                f"{path}.country",
                "CF122",
                f"country {c.country!r} is not an ISO 3166 code with public holidays "
                "(e.g. CN, US, GB)",
            )
        for name, prompts in prompt_fields(c):
            if name == "message":  # ``manager:<file>`` names the managers' copies of <file>
                prompts = tuple(
                    dataclasses.replace(p, file=p.file.removeprefix(MANAGER_PREFIX))
                    if isinstance(p, Prompt)
                    else p
                    for p in prompts
                )
            yield from self.prompts(f"{path}.{name}", prompts)
        if not ENDPOINT.fullmatch(c.endpoint) or c.endpoint.count("{number}") != 1:
            yield self.err(
                f"{path}.endpoint",
                "CF150",
                f"endpoint {shown(c.endpoint)} must be a channel technology (PJSIP, SIP, IAX2, "
                "DAHDI, Local), '/', and '{number}' once, with only letters, digits and "
                "_ . @ + : = / - around it (e.g. 'PJSIP/{number}@trunk')",
            )
        if c.amd == "message" and not c.message:
            yield self.err(
                f"{path}.amd",
                "CF152",
                "amd='message' leaves the message on answering machines: set message",
            )
        if c.amd != "off" and c.kind == "followup":
            yield self.err(f"{path}.amd", "CF152", "a follow-up connects a person: use amd='off'")
        if c.opt_out_digit is not None:
            taken = [q.id for q in c.questions if c.opt_out_digit in q.answers]
            if not DIGIT.fullmatch(c.opt_out_digit) or c.opt_out_digit == "#":
                yield self.err(
                    f"{path}.opt_out_digit",
                    "CF153",
                    f"opt-out digit {shown(c.opt_out_digit)} must be one key 0-9 or * "
                    "(# ends the input)",
                )
            elif taken:
                yield self.err(
                    f"{path}.opt_out_digit",
                    "CF153",
                    f"opt-out digit {c.opt_out_digit!r} is also an answer of question(s) "
                    f"{', '.join(taken)}",
                )
        if c.kind == "playback" and not c.message:
            yield self.err(f"{path}.message", "CF122", "a playback campaign needs a message")
        if c.kind == "survey" and not c.questions:
            yield self.err(f"{path}.questions", "CF122", "a survey needs questions")
        if c.agent_mode and c.kind != "followup":
            yield self.err(
                f"{path}.dial_mode",
                "CF156",
                f"dial_mode={c.dial_mode!r} connects answered calls to agents: only a "
                "follow-up has agents (use 'unattended')",
            )
        if c.agent_mode and not c.abandon_message:
            yield self.err(
                f"{path}.abandon_message",
                "CF156",
                f"dial_mode={c.dial_mode!r} can abandon an answered call: set abandon_message "
                "(who called and how to call back)",
            )
        if c.agent_mode and c.message:
            yield self.err(
                f"{path}.message",
                "CF156",
                f"dial_mode={c.dial_mode!r} connects the customer to an agent within "
                f"{c.abandon.limit_seconds:g} s of answering: a message first would abandon "
                "every call; leave message empty",
            )
        if c.agent_mode and c.live:
            yield self.err(
                f"{path}.live",
                "CF156",
                f"dial_mode={c.dial_mode!r} runs the agent leg in the compiled dialplan only "
                "(the flow machine has no campaign queue): set live=False",
            )
        if (
            c.agent_mode
            and c.kind == "followup"
            and c.connect_to is not None
            and not campaign_agents(self.site, c)
            and (self.site.people(c.connect_to) or c.connect_to in self.site.node_map)
        ):
            yield self.err(
                f"{path}.connect_to",
                "CF156",
                f"dial_mode={c.dial_mode!r} needs agents: connect_to {c.connect_to!r} must be "
                "a group, a staff member or a queue with staff members",
            )
        if c.kind == "followup" and c.connect_to is None:
            yield self.err(
                f"{path}.connect_to", "CF122", "a follow-up needs connect_to (a group or queue)"
            )
        if c.connect_to is not None and not (
            self.site.people(c.connect_to) or c.connect_to in self.site.node_map
        ):
            yield self.err(
                f"{path}.connect_to",
                "CF104",
                f"unknown group, staff member or node {c.connect_to!r}",
            )
        for q in c.questions:
            qp = f"{path}.questions[{q.id!r}]"
            yield from self.ident(qp, q.id, "question id")
            prompt = q.prompt if isinstance(q.prompt, Prompt) else Prompt(q.prompt)
            yield from self.prompts(f"{qp}.prompt", (prompt,))
            if (
                not q.answers
                or not ANSWER.fullmatch(q.answers)
                or len(set(q.answers)) != len(q.answers)
            ):
                yield self.err(
                    f"{qp}.answers",
                    "CF105",
                    f"answers {q.answers!r} must be distinct digits 0-9 (asked as an Ask node)",
                )
        for tier in c.protected_tiers:
            yield from self.ident(f"{path}.protected_tiers", tier, "tier")
        for tier in itertools.chain(c.audience.tiers, c.audience.tags, c.audience.regions):
            yield from self.ident(f"{path}.audience", tier, "audience value")
        if c.caller_id is not None and not re.fullmatch(r"\+?[0-9]{3,20}", c.caller_id):
            yield self.err(
                f"{path}.caller_id", "CF106", f"caller id {c.caller_id!r} must be digits"
            )

    # -- the graph -------------------------------------------------------------------------------
    def check_graph(self) -> Iterator[Diagnostic]:
        nodes = self.site.node_map
        reachable = reach(self.site, list(self.site.entries.values()))
        for c in self.site.campaigns:
            if c.connect_to in nodes:
                reachable |= reach(self.site, [c.connect_to])
        for node_id, node in nodes.items():
            if node_id not in reachable:
                yield self.warn(_npath(node), "CF108", "unreachable: no entry point leads here")
        exits = can_exit(self.site)
        for node_id, node in nodes.items():
            if node_id not in exits:
                yield self.err(
                    _npath(node),
                    "CF109",
                    "loop with no exit: a call here can never reach a destination",
                )
        to_person = person_reachable(self.site)
        for node in nodes.values():
            if isinstance(node, Menu) and node.id not in to_person:
                yield self.err(
                    _npath(node),
                    "CF110",
                    "menu has no way to a person "
                    "(add an operator or an option leading to a queue or dial)",
                )


def successors(node: Node) -> list[str]:
    return [t for t in node.edges().values() if t is not None]


def reach(site: Site, starts: list[str]) -> set[str]:
    """Every node id reachable from ``starts`` (known ids only)."""
    seen: set[str] = set()
    todo = deque(s for s in starts if s in site.node_map)
    while todo:
        cur = todo.popleft()
        if cur in seen:
            continue
        seen.add(cur)
        todo.extend(t for t in successors(site.node_map[cur]) if t in site.node_map)
    return seen


def backwards(site: Site, targets: set[str]) -> set[str]:
    """Every node id from which one of ``targets`` can be reached (the targets included).

    One search over the reversed graph: linear in the size of the flow, however many
    menus loop back to the top.
    """
    callers: dict[str, list[str]] = {}
    for nid, node in site.node_map.items():
        for t in successors(node):
            callers.setdefault(t, []).append(nid)
    seen = set(targets)
    todo = deque(targets)
    while todo:
        for prev in callers.get(todo.popleft(), ()):
            if prev not in seen:
                seen.add(prev)
                todo.append(prev)
    return seen


def can_exit(site: Site) -> set[str]:
    """Node ids from which a call can end somewhere (a destination or an implicit hang-up)."""
    ends = {
        nid
        for nid, n in site.node_map.items()
        if n.destination() is not None
        or any(ref is None and role in HANGUP_WHEN_UNSET for role, ref in n.edges().items())
    }
    return backwards(site, ends)


def person_reachable(site: Site) -> set[str]:
    """Node ids from which a call can reach a person (a queue or a dial)."""
    return backwards(site, {nid for nid, n in site.node_map.items() if n.reaches_person})


def reaches_person(site: Site, start: str) -> bool:
    return start in person_reachable(site)
