"""Bad input to validate, compile, lint, simulate, graph and forecast: one clear message
naming what and where, a non-zero exit, never a traceback (issue 9).

The harness is tests/badinput.py; other command groups keep their corpora in their own
files."""

from __future__ import annotations

import pytest

from tests.badinput import GOOD_SITE, Case, assert_clean, check, run_real

#: what each command needs besides SITE to get as far as loading it
COMMANDS = {
    "validate": [],
    "compile": ["-o", "{tmp}/out"],
    "lint": [],
    "simulate": ["--entry", "100"],
    "graph": [],
    "forecast": ["--queue", "desk", "--arrivals", "vip=5", "--aht", "200"],
}

#: (id, SITE argument, files, words the message must contain)
LOADER_PROBLEMS = [
    ("missing-file", "nope.py", {}, ["nope.py", "no such file"]),
    ("not-a-file", "nosuch", {}, ["nosuch", "no such file"]),
    ("directory", "{tmp}/d", {"d/x.py": ""}, ["is a directory"]),
    ("syntax-error", "bad.py", {"bad.py": "site = (\n"}, ["bad.py", "SyntaxError", "line 1"]),
    (
        "raises-on-import",
        "boom.py",
        {"boom.py": "x = 1\nraise ValueError('boom at import')\n"},
        ["boom.py", "ValueError", "boom at import", "line 2"],
    ),
    ("no-site", "empty.py", {"empty.py": "x = 1\n"}, ["empty.py", "defines no 'site'"]),
    ("wrong-name", "good.py:other", {"good.py": GOOD_SITE}, ["good.py:other", "'other'"]),
    ("not-a-site", "one.py:x", {"one.py": "x = 1\n"}, ["'x' is a int", "not a callflow Site"]),
    (
        "sys-exit",
        "exit.py",
        {"exit.py": "import sys\nsys.exit(3)\n"},
        ["exit.py", "sys.exit(3)"],
    ),
    (
        "raising-factory",
        "factory.py",
        {"factory.py": "def site():\n    raise RuntimeError('no database')\n"},
        ["factory.py", "site()", "RuntimeError", "no database", "line 2"],
    ),
    (
        "factory-returns-junk",
        "junk.py",
        {"junk.py": "def site():\n    return 5\n"},
        ["'site' is a int"],
    ),
    ("no-module", "no_such_module_xyz:site", {}, ["no_such_module_xyz", "ModuleNotFoundError"]),
    ("empty", "", {}, ["no site given"]),
    ("only-a-name", ":site", {}, ["no site given"]),
]

SITE_HEAD = """\
from callflow import *
STAFF = [Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))]
"""

#: sites that load but do not validate: (id, file text, words of the diagnostic)
INVALID_SITES = [
    (
        "string-numbers",
        SITE_HEAD
        + """site = Site(name="s", entries={"100": "m"}, staff=STAFF, nodes=[
    Menu(id="m", prompt="p", options={"1": "desk"}, timeout="5", tries="3", operator="desk"),
    Queue(id="desk", members=["desk"], max_wait="60", overflow="vm"),
    Voicemail(id="vm", mailbox="1")])
""",
        ["site.nodes['desk'].max_wait", "CF132"],
    ),
    (
        "misspelled-timezone",
        SITE_HEAD
        + """site = Site(name="s", entries={"100": "tc"}, staff=STAFF, timezone="Asia/Shanghia",
    nodes=[TimeCondition(id="tc", hours=[Hours("mon-fri", "09:00", "17:00")], open="desk",
                         closed="vm"),
           Queue(id="desk", members=["desk"], max_wait=60, overflow="vm"),
           Voicemail(id="vm", mailbox="1")])
""",
        ["site.timezone", "Asia/Shanghia", "CF112"],
    ),
    (
        "integer-node-id",
        SITE_HEAD
        + """site = Site(name="s", entries={"100": 5}, staff=STAFF, nodes=[
    Goto(id=5, target="desk"),
    Queue(id="desk", members=["desk"], max_wait=60, overflow="vm"),
    Voicemail(id="vm", mailbox="1")])
""",
        ["site.nodes[0].id", "not int 5", "CF132"],
    ),
]

#: a node type no backend knows, that validation has no reason to refuse
UNKNOWN_NODE = (
    SITE_HEAD
    + """from dataclasses import dataclass
from typing import ClassVar

@dataclass(frozen=True, kw_only=True)
class Fax(Node):
    visit_name: ClassVar[str] = "fax"
    def destination(self):
        return "fax"

site = Site(name="s", entries={"100": "m"}, staff=STAFF, nodes=[
    Menu(id="m", prompt="p", options={"1": "desk", "2": "fx"}, operator="desk"),
    Fax(id="fx"),
    Queue(id="desk", members=["desk"], max_wait=60, overflow="vm"),
    Voicemail(id="vm", mailbox="1")])
"""
)


def _loader_cases() -> list[Case]:
    return [
        Case(f"{cmd}-{pid}", [cmd, spec, *extra], expect=words, files=files, exit_code=1)
        for cmd, extra in COMMANDS.items()
        for pid, spec, files, words in LOADER_PROBLEMS
    ]


def _invalid_site_cases() -> list[Case]:
    return [
        Case(
            f"{cmd}-{sid}",
            [cmd, "site.py", *extra],
            expect=words,
            files={"site.py": text},
            exit_code=1,
        )
        for cmd, extra in COMMANDS.items()
        for sid, text, words in INVALID_SITES
    ]


def _good(cid: str, *argv: str, expect: list[str], exit_code: int | None = 2, **files: str) -> Case:
    return Case(
        cid, list(argv), expect=expect, files={"good.py": GOOD_SITE, **files}, exit_code=exit_code
    )


OPTION_CASES = [
    # lint
    _good(
        "lint-negative-arrivals",
        "lint",
        "good.py",
        "--arrivals",
        "desk:vip=-5",
        expect=["--arrivals", "vip=-5", "from 0 to"],
    ),
    _good(
        "lint-nan-arrivals",
        "lint",
        "good.py",
        "--arrivals",
        "desk:vip=nan",
        expect=["--arrivals", "vip=nan"],
    ),
    _good(
        "lint-arrivals-unknown-queue",
        "lint",
        "good.py",
        "--arrivals",
        "ghost:vip=5",
        expect=["--arrivals", "'ghost' is not a queue"],
    ),
    _good(
        "lint-arrivals-no-queue",
        "lint",
        "good.py",
        "--arrivals",
        "vip=5",
        expect=["--arrivals", "QUEUE:tier=N"],
    ),
    _good(
        "lint-arrivals-twice",
        "lint",
        "good.py",
        "--arrivals",
        "desk:vip=5,vip=6",
        expect=["--arrivals", "'vip' is given twice"],
    ),
    _good("lint-aht-zero", "lint", "good.py", "--aht", "0", expect=["--aht"]),
    _good("lint-aht-inf", "lint", "good.py", "--aht", "inf", expect=["--aht"]),
    _good(
        "lint-max-depth-negative", "lint", "good.py", "--max-depth", "-1", expect=["--max-depth"]
    ),
    _good(
        "lint-max-seconds-nan",
        "lint",
        "good.py",
        "--max-seconds",
        "nan",
        expect=["--max-seconds", "not a finite number"],
    ),
    _good(
        "lint-prompt-seconds-negative",
        "lint",
        "good.py",
        "--prompt-seconds",
        "-5",
        expect=["--prompt-seconds"],
    ),
    _good(
        "lint-sounds-missing",
        "lint",
        "good.py",
        "--sounds",
        "/nonexistent/sounds",
        expect=["--sounds", "/nonexistent/sounds"],
    ),
    _good(
        "lint-arrivals-absurd",
        "lint",
        "good.py",
        "--arrivals",
        "desk:vip=1e308",
        expect=["--arrivals", "from 0 to 1,000,000"],
    ),
    Case(
        "lint-sounds-not-wav",
        ["lint", "good.py", "--sounds", "snd"],
        exit_code=1,
        files={"good.py": GOOD_SITE, "snd/custom/main.wav": "not a wav file"},
        expect=["snd/custom/main.wav", "cannot read its length"],
    ),
    Case(
        "lint-sounds-truncated-wav",
        ["lint", "good.py", "--sounds", "snd"],
        exit_code=1,
        files={"good.py": GOOD_SITE, "snd/en/custom/main.wav": b"RIFF\0\0\0\0WAVEfmt "},
        expect=["snd/en/custom/main.wav", "cannot read its length"],
    ),
    # simulate
    Case(
        "simulate-sounds-not-wav",
        ["simulate", "good.py", "--entry", "100", "--sounds", "snd"],
        files={"good.py": GOOD_SITE, "snd/custom/main.wav": "RIFF"},
        exit_code=1,
        expect=["snd/custom/main.wav", "cannot read its length"],
    ),
    _good(
        "simulate-prompt-seconds-nan",
        "simulate",
        "good.py",
        "--entry",
        "100",
        "--prompt-seconds",
        "nan",
        expect=["--prompt-seconds", "not a finite number"],
    ),
    _good(
        "simulate-prompt-seconds-negative",
        "simulate",
        "good.py",
        "--entry",
        "100",
        "--prompt-seconds",
        "-5",
        expect=["--prompt-seconds"],
    ),
    _good(
        "simulate-answer-ghost",
        "simulate",
        "good.py",
        "--entry",
        "100",
        "--answer",
        "ghost",
        expect=["--answer", "'ghost' is not a dial", "front"],
    ),
    _good(
        "simulate-answer-a-queue",
        "simulate",
        "good.py",
        "--entry",
        "100",
        "--answer",
        "desk",
        expect=["--answer", "'desk' is not a dial"],
    ),
    _good(
        "simulate-overflow-ghost",
        "simulate",
        "good.py",
        "--entry",
        "100",
        "--overflow",
        "ghost",
        expect=["--overflow", "'ghost' is not a queue", "desk"],
    ),
    _good(
        "simulate-sounds-missing",
        "simulate",
        "good.py",
        "--entry",
        "100",
        "--sounds",
        "/nonexistent",
        expect=["--sounds", "/nonexistent"],
    ),
    _good(
        "simulate-unknown-entry",
        "simulate",
        "good.py",
        "--entry",
        "999",
        expect=["'999'", "entries: 100"],
        exit_code=1,
    ),
    _good(
        "simulate-bad-time",
        "simulate",
        "good.py",
        "--entry",
        "100",
        "--at",
        "yesterday",
        expect=["--at", "'yesterday'"],
    ),
    # forecast
    _good(
        "forecast-nan-arrivals",
        "forecast",
        "good.py",
        "--queue",
        "desk",
        "--arrivals",
        "vip=nan",
        "--aht",
        "200",
        expect=["--arrivals", "vip=nan"],
    ),
    _good(
        "forecast-arrivals-no-rate",
        "forecast",
        "good.py",
        "--queue",
        "desk",
        "--arrivals",
        "vip",
        "--aht",
        "200",
        expect=["--arrivals", "'vip' is not tier=calls_per_hour"],
    ),
    _good(
        "forecast-des-calls-negative",
        "forecast",
        "good.py",
        "--queue",
        "desk",
        "--arrivals",
        "vip=5",
        "--aht",
        "200",
        "--des-calls",
        "-1",
        expect=["--des-calls"],
    ),
    _good(
        "forecast-sl-negative",
        "forecast",
        "good.py",
        "--queue",
        "desk",
        "--arrivals",
        "vip=5",
        "--aht",
        "200",
        "--sl",
        "-1",
        expect=["--sl"],
    ),
    _good(
        "forecast-agents-negative",
        "forecast",
        "good.py",
        "--queue",
        "desk",
        "--arrivals",
        "vip=5",
        "--aht",
        "200",
        "--agents",
        "-3",
        expect=["--agents", "-3"],
    ),
    _good(
        "forecast-aht-zero",
        "forecast",
        "good.py",
        "--queue",
        "desk",
        "--arrivals",
        "vip=5",
        "--aht",
        "0",
        expect=["--aht"],
    ),
    _good(
        "forecast-queue-ghost",
        "forecast",
        "good.py",
        "--queue",
        "ghost",
        "--arrivals",
        "vip=5",
        "--aht",
        "200",
        expect=["--queue", "'ghost' is not a queue"],
    ),
    _good(
        "forecast-queue-is-a-menu",
        "forecast",
        "good.py",
        "--queue",
        "main",
        "--arrivals",
        "vip=5",
        "--aht",
        "200",
        expect=["--queue", "'main' is not a queue"],
    ),
    Case(
        "compile-lone-surrogate",
        ["compile", "sur.py", "-o", "out"],
        exit_code=1,
        files={"sur.py": GOOD_SITE.replace("ring=15,", 'ring=15, label="a\\ud800b",')},
        expect=["site.nodes['front'].label", "lone surrogate", "CF134", "nothing written"],
    ),
    # output paths
    _good(
        "compile-output-is-a-file",
        "compile",
        "good.py",
        "-o",
        "good.py",
        expect=["good.py is a file, not a directory"],
    ),
    _good(
        "compile-output-under-a-file",
        "compile",
        "good.py",
        "-o",
        "good.py/sub",
        expect=["good.py is a file, not a directory"],
    ),
    _good(
        "graph-output-dir-missing",
        "graph",
        "good.py",
        "-o",
        "{tmp}/missing/flow.mmd",
        expect=["-o", "{tmp}/missing does not exist"],
    ),
    _good("graph-output-is-a-dir", "graph", "good.py", "-o", "{tmp}", expect=["is a directory"]),
    _good("graph-png-needs-output", "graph", "good.py", "--format", "png", expect=["-o FILE"]),
    # a node type the backend cannot handle
    Case(
        "graph-unknown-node",
        ["graph", "fax.py"],
        files={"fax.py": UNKNOWN_NODE},
        expect=["graph can't", "Fax", "'fx'"],
        exit_code=1,
    ),
    Case(
        "lint-unknown-node",
        ["lint", "fax.py"],
        files={"fax.py": UNKNOWN_NODE},
        expect=["lint can't", "Fax", "'fx'"],
        exit_code=1,
    ),
    Case(
        "validate-unknown-node",
        ["validate", "fax.py"],
        files={"fax.py": UNKNOWN_NODE},
        expect=["validate can't", "Fax", "'fx'"],
        exit_code=1,
    ),
    Case(
        "simulate-unknown-node",
        ["simulate", "fax.py", "--entry", "100"],
        files={"fax.py": UNKNOWN_NODE},
        expect=["validate can't", "Fax", "'fx'"],
        exit_code=1,
    ),
]

CASES = _loader_cases() + _invalid_site_cases() + OPTION_CASES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_fails_cleanly(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.parametrize(
    "case",
    [
        Case(
            "real-sys-exit",
            ["lint", "exit.py"],
            files={"exit.py": "import sys\nsys.exit(3)\n"},
            expect=["sys.exit(3)"],
            exit_code=1,
        ),
        Case(
            "real-invalid-site",
            ["graph", "site.py"],
            files={"site.py": INVALID_SITES[1][1]},
            expect=["CF112", "Asia/Shanghia"],
            exit_code=1,
        ),
        Case(
            "real-option",
            [
                "forecast",
                "good.py",
                "--queue",
                "desk",
                "--arrivals",
                "vip=1",
                "--aht",
                "100",
                "--agents",
                "-3",
            ],
            files={"good.py": GOOD_SITE},
            expect=["--agents"],
            exit_code=2,
        ),
    ],
    ids=lambda c: c.id,
)
def test_the_real_entry_point_fails_cleanly(case, tmp_path):
    assert_clean(case, tmp_path, run_real(case, tmp_path))


def test_the_harness_catches_a_crash(tmp_path, monkeypatch):
    """The harness itself fails on an escaping exception (so a green run means something)."""
    import callflow.graph

    monkeypatch.setattr(callflow.graph, "to_mermaid", lambda site: 1 / 0)
    crash = Case("crash", ["graph", "site.py"], files={"site.py": GOOD_SITE})
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        check(crash, tmp_path)


def test_good_input_still_works(tmp_path):
    """The same commands succeed on the good site (the corpus fails for its own reasons)."""
    from tests.badinput import run_cli

    for cmd, extra in COMMANDS.items():
        case = Case(cmd, [cmd, "good.py", *extra], files={"good.py": GOOD_SITE})
        result = run_cli(case, tmp_path)
        assert result.exit_code == 0, (cmd, result.output)
