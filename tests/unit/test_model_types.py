"""Model types that say what they hold, one dispatch for validation, one retry definition.

- every prompt field is a :class:`Prompts` field: written as a str/Prompt/list, held (and
  typed, for mypy too) as ``tuple[Prompt, ...]``; :func:`prompt_fields` lists them all;
- validation refuses a node type it has no check for, like every other backend;
- Menu and Ask share one :class:`Retrying` definition;
- mappings keyed by a model ``Literal`` cover exactly its values.
"""

from __future__ import annotations

import dataclasses
import pickle
import textwrap
import typing
from pathlib import Path
from typing import ClassVar

import pytest

from callflow import (
    Ask,
    Campaign,
    Hangup,
    Menu,
    Node,
    Play,
    PriorityRule,
    Prompt,
    Queue,
    Site,
    Staff,
)
from callflow.analysis import _Analysis, lint
from callflow.compiler.dialplan import GREETING_FLAGS, DialplanCompiler
from callflow.contract import BRANCH_VARS
from callflow.errors import UnsupportedNode
from callflow.flow.machine import FlowMachine
from callflow.graph import Drawer
from callflow.model.campaigns import CallingWindow
from callflow.model.nodes import (
    ALL_NODE_TYPES,
    BranchAttribute,
    Retrying,
    Voicemail,
    VoicemailGreeting,
)
from callflow.model.prompts import Prompts, prompt_field_names, prompt_fields
from callflow.model.schedule import Hours
from callflow.validate import _Checker, validate

ROOT = Path(__file__).resolve().parents[2]
MODEL_CLASSES: tuple[type, ...] = (*ALL_NODE_TYPES, Retrying, Campaign)
STAFF = [Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))]


def _mentions_prompt(annotation: object) -> bool:
    """Whether a field's annotation holds prompts in any form (a Prompt, a tuple of
    them, the Prompts field type)."""
    if annotation in (Prompt, Prompts):
        return True
    return any(_mentions_prompt(a) for a in typing.get_args(annotation))


# -- prompt fields ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_prompt_fields_are_every_field_whose_annotation_holds_prompts(cls):
    hints = typing.get_type_hints(cls)
    expected = {f.name for f in dataclasses.fields(cls) if _mentions_prompt(hints[f.name])}
    assert set(prompt_field_names(cls)) == expected
    # and every one of them is the descriptor (so it is held as a tuple, typed as one)
    for name in expected:
        assert isinstance(vars(cls).get(name), Prompts), f"{cls.__name__}.{name}"


def test_the_prompt_fields_of_the_classes_that_play_something():
    names = {cls.__name__: prompt_field_names(cls) for cls in MODEL_CLASSES}
    assert names["Menu"] == names["Ask"] == ("prompt", "invalid_prompt", "timeout_prompt")
    assert (names["Play"], names["Hangup"], names["LanguageSelect"]) == (
        ("prompts",),
        ("prompts",),
        ("prompt",),
    )
    assert "message" in names["Campaign"]
    # no other node class holds prompts (the annotation-derived test above says where)
    others = set(names) - {"Menu", "Ask", "Retrying", "Play", "Hangup", "LanguageSelect"}
    assert {n for n in others if names[n]} == {"Campaign"}


def test_prompt_input_is_held_as_a_tuple_of_prompts():
    welcome = Prompt("custom/welcome", text="Welcome")
    m = Menu(id="m", prompt="custom/main", options={"1": "x"}, invalid_prompt=[welcome, "b"])
    assert m.prompt == (Prompt("custom/main"),)
    assert m.invalid_prompt == (welcome, Prompt("b"))
    assert m.timeout_prompt == ()
    assert vars(m)["prompt"] == (Prompt("custom/main"),)  # stored under its own name
    assert dict(prompt_fields(m)) == {
        "prompt": (Prompt("custom/main"),),
        "invalid_prompt": (welcome, Prompt("b")),
        "timeout_prompt": (),
    }
    assert Hangup(id="bye").prompts == () and Hangup(id="b", prompts=None).prompts == ()
    assert Play(id="p", prompts=welcome, next="x").prompts == (welcome,)
    assert dataclasses.replace(m, timeout_prompt="t").timeout_prompt == (Prompt("t"),)
    assert pickle.loads(pickle.dumps(m)) == m
    assert m == Menu(id="m", prompt=[Prompt("custom/main")], options={"1": "x"},
                     invalid_prompt=(welcome, "b"))  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.prompt = ()  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'prompt'"):
        Menu(id="m", options={})  # type: ignore[call-arg]


def test_a_mistyped_prompt_is_reported_in_the_users_terms():
    site = Site(
        name="s",
        entries={"1": "m"},
        staff=STAFF,
        nodes=[
            Menu(id="m", prompt=5, options={"1": "q"}, operator="q"),  # type: ignore[arg-type]
            Queue(id="q", members=["desk"], max_wait=60, overflow="vm"),
            Voicemail(id="vm", mailbox="1"),
        ],
    )
    found = [d for d in validate(site) if d.path == "site.nodes['m'].prompt"]
    assert [(d.code, d.message) for d in found] == [
        ("CF132", "expected a list of Prompt or a Prompt or text, not int 5")
    ]


def test_prompt_fields_type_check_as_tuples_under_mypy(tmp_path):
    """mypy accepts a str where a prompt is written and types every prompt field, of every
    class, inherited or not, as ``tuple[Prompt, ...]`` (mypy 2.4 types an inherited
    descriptor field of a frozen dataclass by what it accepts unless it is re-declared)."""
    from mypy import api

    lines = [
        "from callflow.model.nodes import *",
        "from callflow.model.campaigns import *",
        "from callflow.model.prompts import Prompt",
    ]
    reveals = []
    for cls in MODEL_CLASSES:
        for name in prompt_field_names(cls):
            lines.append(f"def f_{cls.__name__}_{name}(x: {cls.__name__}) -> None:")
            lines.append(f"    reveal_type(x.{name})")
            reveals.append(f"{cls.__name__}.{name}")
    lines.append(
        textwrap.dedent("""
        Menu(id="m", prompt="custom/main", options={"1": "x"}, invalid_prompt=["a", "b"])
        Hangup(id="bye", prompts=Prompt("vm-goodbye"))
        Campaign(id="c", kind="playback", message="custom/msg")
        """)
    )
    source = tmp_path / "prompts_typed.py"
    source.write_text("\n".join(lines), encoding="utf-8")
    out, err, status = api.run(
        [str(source), "--strict", "--cache-dir", str(tmp_path / "cache"), "--no-incremental"]
    )
    revealed = [line for line in out.splitlines() if "Revealed type" in line]
    assert len(revealed) == len(reveals) >= 13, out + err
    assert all('"tuple[callflow.model.prompts.Prompt, ...]"' in line for line in revealed), out
    assert status == 0 and "error:" not in out, out


# -- one dispatch: validation refuses what it cannot check ---------------------------------------
class Fax(Node):
    visit_name: ClassVar[str] = "fax"

    def destination(self) -> str | None:
        return "hangup"


def fax_site() -> Site:
    return Site(
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


def test_validate_refuses_a_node_type_it_has_no_check_for():
    with pytest.raises(UnsupportedNode, match=r"validate can't render node Fax \(id 'fx'\)"):
        validate(fax_site())


def test_a_subclass_with_its_own_visit_name_needs_its_own_check():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Survey(Ask):
        visit_name: ClassVar[str] = "survey"

    site = Site(name="s", entries={"1": "s"}, nodes=[Survey(id="s", prompt="p", next="s")])
    with pytest.raises(UnsupportedNode, match="validate can't render node Survey"):
        validate(site)


def test_each_backend_refuses_with_its_own_name_before_validation():
    with pytest.raises(UnsupportedNode, match=r"lint can't render node Fax"):
        lint(fax_site())


@pytest.mark.parametrize(
    "backend", [_Checker, _Analysis, Drawer, FlowMachine, DialplanCompiler], ids=str
)
def test_every_backend_handles_every_node_type(backend):
    missing = [c.__name__ for c in ALL_NODE_TYPES if not hasattr(backend, f"visit_{c.visit_name}")]
    assert missing == []


# -- one retry definition ------------------------------------------------------------------------
def test_menu_and_ask_take_their_retry_fields_from_one_definition():
    shared = {f.name for f in dataclasses.fields(Retrying)}
    assert shared > {"prompt", "timeout", "tries", "invalid", "on_timeout", "failure"}
    for cls in (Menu, Ask):
        assert issubclass(cls, Retrying)
        assert shared <= {f.name for f in dataclasses.fields(cls)}
    ask = Ask(id="a", prompt="q", next="n", on_timeout="t", timeout_prompt="tp", failure="f")
    assert (ask.silence.role, ask.silence.jump, ask.silence.prompt) == (
        "on_timeout",
        "t",
        (Prompt("tp"),),
    )
    assert (ask.wrong_key.role, ask.wrong_key.jump, ask.wrong_key.waited) == (
        "invalid",
        None,
        False,
    )
    assert ask.edges() == {"next": "n"} | ask.retry_edges()
    assert ask.silent_targets() == ["t"]
    assert Ask(id="a", prompt="q", next="n", failure="f").silent_targets() == ["f"]


def test_a_caller_who_stays_silent_at_a_question_never_reaches_its_next():
    """Lint's silent-loop walk follows a question's silence paths (``on_timeout``, else
    ``failure``), as it does a menu's: menu -> question -> menu is no silent loop when
    silence at the question ends in a voicemail."""
    site = Site(
        name="s",
        entries={"1": "m"},
        staff=STAFF,
        nodes=[
            Menu(id="m", prompt="p", options={"1": "q"}, operator="desk", on_timeout="ask"),
            Ask(id="ask", prompt="rate", next="m", failure="vm"),
            Queue(id="desk", members=["desk"], max_wait=60, overflow="vm"),
            Voicemail(id="vm", mailbox="1"),
            Queue(id="q", members=["desk"], max_wait=60, overflow="vm"),
        ],
    )
    report = lint(site)
    assert report.errors == 0
    assert "CF205" not in {d.code for d in report.diagnostics}
    # while a question whose silence leads back round is one
    looping = dataclasses.replace(site, nodes=[*site.nodes[:1], Ask(id="ask", prompt="rate",
                                  next="vm", on_timeout="m"), *site.nodes[2:]])  # fmt: skip
    assert "CF205" in {d.code for d in lint(looping).diagnostics}


# -- allowed values come from the model's Literal types -------------------------------------------
def test_mappings_keyed_by_a_model_literal_cover_exactly_its_values():
    assert set(BRANCH_VARS) == set(typing.get_args(BranchAttribute))
    assert set(GREETING_FLAGS) == set(typing.get_args(VoicemailGreeting))


def test_a_value_outside_a_literal_is_refused_with_the_allowed_values():
    window = CallingWindow(hours=(Hours("mon-fri", "10:00", "18:00"),))
    campaign = Campaign(id="c", kind="fax", connect_to="desk", window=window)  # type: ignore[arg-type]
    site = Site(name="s", entries={"1": "vm"}, staff=STAFF, nodes=[Voicemail(id="vm", mailbox="1")],
                campaigns=[campaign])  # fmt: skip
    [found] = [d for d in validate(site) if d.path == "site.campaigns['c'].kind"]
    allowed = ", ".join(repr(v) for v in typing.get_args(typing.get_type_hints(Campaign)["kind"]))
    assert found.code == "CF122" and allowed in found.message


# -- one queue-priority decision --------------------------------------------------------------
def test_the_forecast_ranks_tiers_as_the_compiled_queue_does():
    """The forecast, the simulator and the live runtime's model of the compiled queue all
    ask :meth:`PriorityRule.priority_for`, which lowers like Asterisk's TOLOWER (ASCII
    only): a Kelvin-sign "KEY" is not the rule's "key" (Unicode lowering would say it is)."""
    from callflow.forecast import priority_classes

    rule = PriorityRule({"key": 5, "vip": 10}, default=1)
    tiers = {"VIP": 1.0, "\u212aEY": 1.0, "KEY": 1.0, "V\u0130P": 1.0}
    assert priority_classes(tiers, rule) == [
        (10, ("VIP",)),
        (5, ("KEY",)),
        (1, ("V\u0130P", "\u212aEY")),
    ]
    assert rule.priority_for(None) == 1
