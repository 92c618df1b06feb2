"""Lint: depth and time to a person per entry, and the CF2xx flow smells."""

import datetime as dt
import json
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from callflow import (
    Dial,
    Goto,
    Hangup,
    Hours,
    LanguageSelect,
    Menu,
    Node,
    Play,
    PriorityRule,
    Prompt,
    Queue,
    Site,
    Staff,
    TimeCondition,
    Voicemail,
)
from callflow.analysis import (
    LintConfig,
    QueueLoad,
    _Analysis,
    lint,
    prompt_timer,
    sound_seconds,
)
from callflow.cli import main
from callflow.errors import UnsupportedNode
from callflow.loader import load_site
from callflow.validate import validate

ROOT = Path(__file__).resolve().parents[2]
FOUR_S = str(ROOT / "examples/four_s_dealer.py")
STAFF = [Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))]


def codes(report):
    return sorted({d.code for d in report.diagnostics})


def test_4s_dealer_depth_and_time_to_a_person_per_entry():
    report = lint(load_site(FOUR_S))
    by = {e.entry: e for e in report.entries}
    assert by["8000"].depth == 1 and by["8001"].depth == 1
    # human first: the front desk rings at once
    assert by["8000"].typical_seconds == 0
    # 8001: one 3 s menu prompt, then an option
    assert by["8001"].typical_seconds == 3
    # worst: greeting rings out (15), one failed try of the menu (3 + 5 timeout), the
    # prompt again (3), care answers just before its max_wait (240)
    assert by["8000"].worst_seconds == 15 + 8 + 3 + 240
    assert by["8000"].worst_path[-2:] == ("main", "care")
    assert report.errors == 0
    assert "CF210" in codes(report)  # sales has one group of two people and VIPs first


def deep_site(levels=6):
    nodes = []
    for i in range(levels):
        nxt = f"m{i + 1}" if i + 1 < levels else "desk"
        nodes.append(
            Menu(
                id=f"m{i}",
                prompt=Prompt("p", seconds=4),
                options={"1": nxt},
                operator="desk",
                timeout=5,
                tries=2,
                failure="desk",
            )
        )
    nodes.append(Queue(id="desk", members=["desk"], max_wait=60, overflow="vm"))
    nodes.append(Voicemail(id="vm", mailbox="100"))
    return Site(name="deep", entries={"100": "m0"}, staff=STAFF, nodes=nodes)


def test_a_six_level_menu_is_flagged_with_the_slow_path():
    report = lint(deep_site(), LintConfig(max_depth=3, max_seconds=120))
    (e,) = report.entries
    assert e.depth == 6
    assert e.depth_path == ("m0", "m1", "m2", "m3", "m4", "m5")
    # each level: one failed try (4 + 5) then the prompt again (4) = 13 s; the last menu
    # failed twice (2 x 9 s) to its failure, the desk queue; the queue answers at 60 s
    assert e.worst_seconds == 5 * 13 + 18 + 60
    assert e.worst_path == ("m0", "m1", "m2", "m3", "m4", "m5", "desk")
    # typical: six prompts of 4 s
    assert e.typical_seconds == 24
    msgs = {d.code: d.message for d in report.diagnostics}
    assert "6 menu levels (limit 3): m0 > m1 > m2 > m3 > m4 > m5" in msgs["CF201"]
    assert "143s (limit 120s)" in msgs["CF202"]
    assert report.errors == 2


def test_cli_lint_exits_non_zero_on_errors_and_prints_json():
    runner = CliRunner()
    ok = runner.invoke(main, ["lint", FOUR_S, "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert [e["entry"] for e in data["entries"]] == ["8000", "8001"]
    bad = runner.invoke(main, ["lint", FOUR_S, "--max-seconds", "60"])
    assert bad.exit_code == 1 and "[CF202]" in bad.output


def test_smells_dead_ends_silent_loops_zero_out_options_overflow():
    site = Site(
        name="smelly",
        entries={"1": "m"},
        staff=STAFF,
        nodes=[
            Menu(
                id="m",
                prompt="p",
                options={"1": "q", "2": "q", "3": "q", "4": "d", "5": "info"},
                on_timeout="again",
                invalid="m",
            ),
            Play(id="again", prompts="p", next="m"),
            Play(id="info", prompts="p", next="bye"),
            Queue(id="q", members=["desk"], max_wait=60, overflow="bye"),
            Dial(id="d", target="desk"),
            Hangup(id="bye"),
        ],
    )
    report = lint(site)
    found = codes(report)
    for code in ("CF203", "CF205", "CF206", "CF207", "CF209", "CF204"):
        assert code in found, code
    dead = [d.path for d in report.diagnostics if d.code == "CF203"]
    assert dead == ["site.nodes['info']"]


def test_after_hours_gap_is_reported_with_its_span():
    site = Site(
        name="gap",
        entries={"1": "tc"},
        staff=STAFF,
        nodes=[
            TimeCondition(
                id="tc",
                hours=[Hours("mon-fri", "09:00", "17:00")],
                open="q",
                closed="bye",
                holidays=[dt.date(2027, 1, 1)],
            ),
            Queue(id="q", members=["desk"], max_wait=60, overflow="vm"),
            Voicemail(id="vm", mailbox="1"),
            Hangup(id="bye"),
        ],
    )
    gaps = [d.message for d in lint(site).diagnostics if d.code == "CF208"]
    assert any("mon 17:00-tue 09:00" in g for g in gaps)
    assert any("fri 17:00-mon 09:00" in g for g in gaps)
    assert any("2027-01-01" in g for g in gaps)


def starving_site():
    return Site(
        name="vipq",
        entries={"1": "q"},
        staff=[Staff(f"a{i}", name="A", device=f"PJSIP/{i}", groups=("desk",)) for i in range(4)],
        priority=PriorityRule({"vip": 10}),
        nodes=[
            Queue(id="q", members=["desk"], max_wait=300, overflow="vm"),
            Voicemail(id="vm", mailbox="1"),
        ],
    )


def test_forecast_flags_vip_starvation():
    load = QueueLoad({"vip": 40, "standard": 10}, aht=240)
    report = lint(starving_site(), LintConfig(loads={"q": load}))
    (d,) = [d for d in report.diagnostics if d.code == "CF211"]
    assert "starves tier 'standard'" in d.message
    assert report.errors == 1
    # the same traffic without the VIP share is fine
    calm = lint(starving_site(), LintConfig(loads={"q": QueueLoad({"standard": 50}, aht=240)}))
    assert calm.errors == 0


def test_prompt_lengths_from_sound_files(tmp_path):
    (tmp_path / "en/custom").mkdir(parents=True)
    with wave.open(str(tmp_path / "en/custom/hi.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 12000)
    (tmp_path / "bye.gsm").write_bytes(b"\0" * 33 * 100)
    (tmp_path / "beep.ulaw").write_bytes(b"\0" * 4000)
    (tmp_path / "tone.sln").write_bytes(b"\0" * 8000)
    assert sound_seconds(tmp_path / "en/custom/hi.wav") == 1.5
    timer = prompt_timer(tmp_path, default=7)
    assert timer(Prompt("custom/hi")) == 1.5
    assert timer(Prompt("bye")) == 2.0
    assert timer(Prompt("beep")) == 0.5
    assert timer(Prompt("tone")) == 0.5
    assert timer(Prompt("custom/hi", seconds=9)) == 9
    assert timer(Prompt("missing")) == 7


# -- long and tangled flows ----------------------------------------------------------------------
def goto_chain(n):
    nodes = [Goto(id=f"g{i}", target=f"g{i + 1}") for i in range(n)]
    nodes += [Queue(id=f"g{n}", members=["desk"], max_wait=60, overflow="vm")]
    nodes += [Voicemail(id="vm", mailbox="1")]
    return Site(name="chain", entries={"1": "g0"}, staff=STAFF, nodes=nodes)


def test_a_10000_deep_goto_chain_is_analysed_without_recursion():
    # RecursionError at 1,000 before the walks were made iterative (speed: benchmarks/lint.py)
    (e,) = lint(goto_chain(10_000)).entries
    assert e.worst_seconds == 60 and e.typical_seconds == 0
    assert e.worst_path == tuple(f"g{i}" for i in range(10_001))


def test_a_3000_level_menu_chain_counts_every_level():
    (e,) = lint(deep_site(3000), LintConfig(max_depth=3000, max_seconds=1e9)).entries
    assert e.depth == 3000 and e.depth_path == tuple(f"m{i}" for i in range(3000))
    assert e.worst_seconds == 2999 * 13 + 18 + 60
    assert e.typical_seconds == 3000 * 4


def test_a_10000_step_silent_loop_is_found():
    n = 10_000
    nodes = [Play(id=f"p{i}", prompts=Prompt("p", seconds=1), next=f"p{i + 1}") for i in range(n)]
    nodes += [
        Menu(id=f"p{n}", prompt="p", options={"1": "q"}, operator="q", on_timeout="p0"),
        Queue(id="q", members=["desk"], max_wait=60, overflow="vm"),
        Voicemail(id="vm", mailbox="1"),
    ]
    site = Site(name="loop", entries={"1": "p0"}, staff=STAFF, nodes=nodes)
    (loop,) = [d for d in lint(site).diagnostics if d.code == "CF205"]
    assert loop.message.endswith(" > ".join([*(f"p{i}" for i in range(n + 1)), "p0"]))


def test_a_flow_with_too_many_routes_says_so():
    # ten menus that all lead to each other: 10! routes through them
    ids = [f"m{i}" for i in range(10)]
    nodes = [
        Menu(
            id=m,
            prompt=Prompt("p", seconds=1),
            options={str(d): t for d, t in enumerate((t for t in ids if t != m), start=1)},
            operator="q",
        )
        for m in ids
    ]
    nodes += [Queue(id="q", members=["desk"], max_wait=60, overflow="vm")]
    nodes += [Voicemail(id="vm", mailbox="1")]
    site = Site(name="tangle", entries={"1": "m0"}, staff=STAFF, nodes=nodes)
    report = lint(site)
    (note,) = [d for d in report.diagnostics if d.code == "CF214"]
    assert "'m0'" in note.message and note.severity.value == "warning"
    assert report.entries[0].worst_seconds is not None


def test_a_site_with_errors_is_not_analysed():
    site = Site(name="bad", entries={"1": "nowhere"}, staff=STAFF, nodes=[Hangup(id="bye")])
    report = lint(site)
    assert report.entries == ()
    assert report.errors >= 1 and {d.code for d in report.diagnostics} <= {
        d.code for d in validate(site)
    }


def test_a_node_type_lint_does_not_know_fails_loudly():
    @dataclass(frozen=True, kw_only=True)
    class Fax(Node):
        visit_name: ClassVar[str] = "fax"

        def destination(self):
            return "fax"

    site = Site(
        name="fax",
        entries={"1": "m"},
        staff=STAFF,
        nodes=[
            Menu(id="m", prompt="p", options={"1": "fx"}, operator="q"),
            Fax(id="fx"),
            Queue(id="q", members=["desk"], max_wait=60, overflow="vm"),
            Voicemail(id="vm", mailbox="1"),
        ],
    )
    with pytest.raises(UnsupportedNode, match=r"lint can't .* Fax \(id 'fx'\)"):
        lint(site)


# -- the component-wise longest routes agree with trying every route -------------------------------
def reference(site, cfg):
    """Worst time and menu depth per entry by trying every simple route (exponential: small
    flows only), as lint did before it split the flow into components."""
    a = _Analysis(site, cfg)
    out = {}
    for number, start in site.entries.items():
        best = {"worst": None, "depth": 0}

        def walk(nid, path, depth, cost, best=best):
            node = a.nodes[nid]
            depth += isinstance(node, (Menu, LanguageSelect))
            best["depth"] = max(best["depth"], depth)
            if node.reaches_person:
                total = cost + a.answer(node)
                best["worst"] = total if best["worst"] is None else max(best["worst"], total)
            for e in a.out[nid]:
                if e.target in a.nodes and e.target not in path:
                    walk(e.target, path | {e.target}, depth, cost + e.worst)

        walk(start, {start}, 0, 0.0)
        worst = best["worst"]
        out[number] = (best["depth"], None if worst is None else round(worst, 3))
    return out


@st.composite
def flows(draw):
    n = draw(st.integers(2, 8))
    ids = [f"n{i}" for i in range(n)]
    ref = st.sampled_from(ids)
    maybe = st.none() | ref
    secs = st.integers(1, 9)
    nodes = []
    for nid in ids:
        kind = draw(st.sampled_from(["menu", "menu", "play", "goto", "dial", "queue", "vm", "tc"]))
        if kind == "menu":
            options = draw(st.dictionaries(st.sampled_from("123"), ref, min_size=1))
            nodes.append(
                Menu(
                    id=nid,
                    prompt=Prompt("p", seconds=draw(secs)),
                    options=options,
                    operator=draw(maybe),
                    timeout=draw(secs),
                    tries=draw(st.integers(1, 3)),
                    on_timeout=draw(maybe),
                    invalid=draw(maybe),
                    failure=draw(maybe),
                )
            )
        elif kind == "play":
            nodes.append(Play(id=nid, prompts=Prompt("p", seconds=draw(secs)), next=draw(ref)))
        elif kind == "goto":
            nodes.append(Goto(id=nid, target=draw(ref)))
        elif kind == "dial":
            nodes.append(Dial(id=nid, target="desk", ring=draw(secs), no_answer=draw(maybe)))
        elif kind == "queue":
            nodes.append(Queue(id=nid, members=["desk"], max_wait=draw(secs), overflow=draw(ref)))
        elif kind == "vm":
            nodes.append(Voicemail(id=nid, mailbox="1"))
        else:
            hours = [Hours("mon-fri", "09:00", "17:00")]
            nodes.append(TimeCondition(id=nid, hours=hours, open=draw(ref), closed=draw(ref)))
    return Site(name="r", entries={"1": "n0", "2": draw(ref)}, staff=STAFF, nodes=nodes)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(flows())
def test_longest_routes_match_trying_every_route(site):
    report = lint(site)
    assume(report.entries)  # the flow validated
    expected = reference(site, LintConfig())
    for e in report.entries:
        assert (e.depth, e.worst_seconds) == expected[e.entry]
        if e.worst_path:  # the route given is a real, simple route of that length
            assert e.worst_path[0] == e.start and len(set(e.worst_path)) == len(e.worst_path)
