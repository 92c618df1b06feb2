"""Reading back from Asterisk: is this the right Asterisk, and does it run this version?

check_etc_dir(Path("/etc/asterisk"), CliControl())       # refuses another Asterisk's dir
assert verify(CliControl(), tree.manifest(tree.current())) == []
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from callflow.deploy.control import AsteriskControl
from callflow.deploy.versions import Manifest, marker_context
from callflow.errors import DeployError

_COUNTS = re.compile(r"-= (\d+) extensions? \((\d+) priorit(?:y|ies)\) in (\d+) contexts?\. =-")
_CONTEXT = re.compile(r"\[ Context '(.+)' created by '.*' \]$")
# "  '100' =>          1. Answer()", "     [label]        2. ...", "  '100' => hint: PJSIP/100"
_PRIORITY = re.compile(r"\s+(?:'.*' =>|\[[^\]]*\])?\s*(?:\d+\.|hint:) ")
_MARKER = re.compile(r"NoOp\((callflow [^)]*)\)")
_QUEUE = re.compile(r"^(\S+) has \d+ calls? ", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RUNTIME_MEMBER = re.compile(r"\((?:dynamic|realtime)\)")
_ENDPOINT = re.compile(r"^\s*Endpoint:\s+([A-Za-z0-9_.+-][^\s/]*)", re.MULTILINE)
_MOH_CLASS = re.compile(r"^Class:\s+(\S+)", re.MULTILINE)
_CONFIG_DIR = re.compile(r"^\s*Configuration directory:\s*(.+?)\s*$", re.MULTILINE)


def check_etc_dir(etc_dir: Path, asterisk: AsteriskControl) -> Path:
    """``etc_dir`` if it is the configuration directory of the Asterisk ``asterisk``
    reaches (asked with ``core show settings``); otherwise :class:`DeployError`, before
    anything is written there."""
    if not etc_dir.is_dir():
        raise DeployError(f"{etc_dir} is not a directory; nothing was written")
    found = _CONFIG_DIR.search(asterisk.cli("core show settings"))
    if found is None:
        raise DeployError(
            "cannot tell which configuration directory Asterisk runs from: "
            "`core show settings` names no 'Configuration directory'; nothing was written"
        )
    running = Path(found.group(1))
    try:
        same = os.path.samefile(etc_dir, running)
    except OSError:
        same = False
    if not same:
        raise DeployError(
            f"{etc_dir} is not the configuration directory of the running Asterisk "
            f"(it reads {running}); nothing was written there"
        )
    return etc_dir


def verify(
    asterisk: AsteriskControl,
    expected: Manifest | None,
    *,
    gone: Sequence[str] = (),
    gone_queues: Sequence[str] = (),
    gone_endpoints: Sequence[str] = (),
    site: str | None = None,
) -> list[str]:
    """What Asterisk reports differently from ``expected``, one sentence per problem::

    assert verify(CliControl(), tree.manifest(tree.current())) == []

    The version marker (a context deploy appends to the version's extensions.conf) must
    name this version and its content hash: Asterisk parsed these very bytes, to their
    end. ``expected=None`` checks that the ``site`` is not loaded at all. ``gone`` names
    contexts and ``gone_queues`` queues that must no longer exist. Asterisk is asked once
    per kind of thing, so a site with thousands of contexts verifies as fast as a small one.
    """
    site = expected.site if expected else site
    marker = marker_context(site) if site else None
    contexts = dict(expected.contexts) if expected else {}
    names = [*contexts, *gone, *([marker] if marker else [])]
    loaded = _loaded(asterisk, names)
    problems = []
    if marker and expected and expected.files:  # versions older than the marker have none
        lines = loaded.get(marker)
        said = [m.group(1) for line in lines or [] if (m := _MARKER.search(line))]
        if lines is None:
            problems.append(
                f"the version marker ({marker}) is not loaded: Asterisk did not read "
                f"{expected.version}'s extensions.conf to its end"
            )
        elif said != [expected.marker]:
            problems.append(
                f"the version marker says {' / '.join(said) or 'nothing'}, "
                f"expected {expected.marker}"
            )
    elif marker and expected is None and marker in loaded:
        problems.append(f"the version marker {marker} is still loaded")
    for context, count in contexts.items():
        priorities = loaded.get(context)
        if priorities is None:
            problems.append(f"context {context} is not loaded")
        elif len(priorities) != count:
            problems.append(f"context {context} has {len(priorities)} priorities, expected {count}")
    problems += [f"context {c} was dropped but is still loaded" for c in gone if c in loaded]
    if (expected and expected.queues) or gone_queues:
        shown = asterisk.cli("queue show")
        queues = set(_QUEUE.findall(shown))
        wanted = expected.queues if expected else ()
        problems += [f"queue {q} is not loaded" for q in wanted if q not in queues]
        if expected and expected.members:
            problems += _member_problems(expected, _static_members(shown), queues)
        problems += [
            f"queue {q} was dropped but is still loaded" for q in gone_queues if q in queues
        ]
    problems += _phone_problems(asterisk, expected, gone_endpoints)
    if expected and expected.mailboxes:
        rows = asterisk.cli("voicemail show users").splitlines()
        boxes = {tuple(fields[:2]) for fields in map(str.split, rows) if len(fields) >= 2}
        for context, numbers in expected.mailboxes.items():
            missing = [n for n in numbers if (context, n) not in boxes]
            problems += [f"mailbox {n}@{context} is not loaded" for n in missing]
    return problems


def _phone_problems(
    asterisk: AsteriskControl, expected: Manifest | None, gone: Sequence[str]
) -> list[str]:
    problems = []
    endpoints = expected.endpoints if expected else ()
    if endpoints or gone:
        loaded = set(_ENDPOINT.findall(asterisk.cli("pjsip show endpoints")))
        problems += [f"pjsip endpoint {e} is not loaded" for e in endpoints if e not in loaded]
        problems += [
            f"pjsip endpoint {e} was dropped but is still loaded" for e in gone if e in loaded
        ]
    if expected and expected.moh_classes:
        classes = set(_MOH_CLASS.findall(asterisk.cli("moh show classes")))
        problems += [
            f"music-on-hold class {c} is not loaded"
            for c in expected.moh_classes
            if c not in classes
        ]
    if expected and endpoints and expected.tone_zone:
        shown = asterisk.cli(f"indication show {expected.tone_zone}")
        if not re.search(rf"^{re.escape(expected.tone_zone)}\s", shown, re.MULTILINE):
            problems.append(
                f"tone zone {expected.tone_zone} is not in indications.conf: add the country's "
                "tones (Asterisk's sample indications.conf has them)"
            )
    return problems


def _static_members(output: str) -> dict[str, list[str]]:
    """The member lines of each queue in a ``queue show`` answer, members added at run
    time (dynamic, realtime) left out: those are not in queues.conf."""
    members: dict[str, list[str]] = {}
    queue: list[str] | None = None  # the member lines of the queue being read
    in_members = False
    for raw in output.splitlines():
        plain = _ANSI.sub("", raw)
        line = plain.strip()
        if header := _QUEUE.match(plain):
            queue = members.setdefault(header.group(1), [])
            in_members = False
        elif line == "Members:":
            in_members = queue is not None
        elif not line or line.startswith(("No Callers", "Callers:", "No Members")):
            in_members = False
        elif in_members and queue is not None and not _RUNTIME_MEMBER.search(line):
            queue.append(line)
    return members


def _member_problems(
    expected: Manifest, members: dict[str, list[str]], loaded: set[str]
) -> list[str]:
    problems = []
    for queue, interfaces in expected.members.items():
        if queue not in loaded:
            continue  # already said
        shown = members.get(queue, [])
        missing = [
            i for i in interfaces if not any(f"({i})" in m or m.startswith(f"{i} ") for m in shown)
        ]
        problems += [f"queue {queue} has no member {i}" for i in missing]
        if not missing and len(shown) != len(interfaces):
            problems.append(
                f"queue {queue} has {len(shown)} members from its configuration, "
                f"expected {len(interfaces)}"
            )
    return problems


def foreign_contexts(
    asterisk: AsteriskControl, wanted: Iterable[str], ours: Iterable[str]
) -> list[str]:
    """Those of ``wanted`` that Asterisk runs but that ``ours`` (the contexts of the
    version running now) does not hold: they belong to the PBX or another site, and
    a version that defines them too would merge into them."""
    listing, _complete = _listing(asterisk.cli("dialplan show"))
    mine = set(ours)
    return sorted(c for c in set(wanted) if c in listing and c not in mine)


def _listing(output: str) -> tuple[dict[str, list[str]], bool]:
    """The priority lines of each context in a ``dialplan show`` answer, and whether
    they add up to the total Asterisk prints at the end (the format is understood)."""
    contexts: dict[str, list[str]] = {}
    lines: list[str] | None = None
    for line in output.splitlines():
        if header := _CONTEXT.match(line):
            lines = contexts.setdefault(header.group(1), [])
        elif lines is not None and _PRIORITY.match(line):
            lines.append(line)
    total = _COUNTS.search(output)
    complete = total is not None and int(total.group(2)) == sum(map(len, contexts.values()))
    return contexts, complete


def _loaded(asterisk: AsteriskControl, names: Sequence[str]) -> dict[str, list[str]]:
    """The priority lines of each of ``names`` that Asterisk has loaded.

    One ``dialplan show`` lists every context. If its priority lines do not add up to
    the total Asterisk prints at the end (a format this parser does not know), each
    context is asked for on its own and its count taken from Asterisk's total.
    """
    listing, complete = _listing(asterisk.cli("dialplan show"))
    if complete:
        return {name: listing[name] for name in names if name in listing}
    found = {}
    for name in names:
        output = asterisk.cli(f"dialplan show {name}")
        total = _COUNTS.search(output)
        if total and int(total.group(3)) > 0:
            # the count is Asterisk's; the lines (for the marker) are what could be parsed
            shown = _listing(output)[0].get(name, [])
            count = int(total.group(2))
            found[name] = [*shown, *[""] * (count - len(shown))][:count]
    return found
