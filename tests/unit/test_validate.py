"""Validation: every problem, with its path and stable code."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow import (
    Branch,
    Dial,
    Hangup,
    Menu,
    PriorityRule,
    Queue,
    Site,
    Staff,
    ValidationError,
    check,
    validate,
)
from callflow.cli import main

GOLDEN = Path(__file__).parents[1] / "golden"


def small_site(**overrides):
    values = dict(
        name="shop",
        entries={"100": "main"},
        staff=[Staff("ann", name="Ann", device="PJSIP/1001", groups=("sales",))],
        nodes=[
            Menu(id="main", prompt="custom/menu", options={"1": "sales"}, operator="sales"),
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ],
    )
    values.update(overrides)
    return Site(**values)


def codes(site):
    return sorted((d.path, d.code) for d in validate(site))


def test_clean_site_has_no_diagnostics():
    assert validate(small_site()) == []
    assert check(small_site()) == []


def test_broken_site_prints_every_problem_with_path_and_code():
    result = CliRunner().invoke(main, ["validate", str(GOLDEN / "broken_site.py")])
    assert result.exit_code == 1
    assert result.output == (GOLDEN / "broken_site.expected").read_text()


def test_mistyped_site_prints_one_diagnostic_per_field_and_no_traceback():
    result = CliRunner().invoke(main, ["validate", str(GOLDEN / "mistyped_site.py")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output == (GOLDEN / "mistyped_site.expected").read_text()


def test_check_raises_with_all_errors_and_is_a_value_error():
    site = small_site(entries={"100": "nowhere", "x": "main"})
    with pytest.raises(ValueError) as info:
        check(site)
    assert isinstance(info.value, ValidationError)
    assert [(d.path, d.code) for d in info.value.diagnostics] == [
        ("site.entries['100']", "CF101"),
        ("site.entries['x']", "CF106"),
    ]


def test_operator_clashing_with_option_zero_is_a_duplicate_digit():
    site = small_site(
        nodes=[
            Menu(id="main", prompt="p", options={"0": "bye", "1": "sales"}, operator="sales"),
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ]
    )
    assert ("site.nodes['main'].operator", "CF105") in codes(site)


def test_menu_without_a_way_to_a_person_is_an_error():
    site = small_site(
        entries={"100": "main"},
        nodes=[Menu(id="main", prompt="p", options={"1": "bye"}), Hangup(id="bye")],
    )
    assert codes(site) == [("site.nodes['main']", "CF110")]


def test_value_routing_without_lookup_warns():
    site = small_site(
        nodes=[
            Menu(id="main", prompt="p", options={"1": "sales"}),
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye", manager_first=10),
            Branch(id="unused", attribute="tier", cases={"vip": "sales"}, default="sales"),
            Hangup(id="bye"),
        ]
    )
    found = {(d.path, d.code, d.severity.value) for d in validate(site)}
    assert ("site.nodes['sales']", "CF125", "warning") in found
    assert ("site.nodes['unused']", "CF108", "warning") in found
    check(site)  # warnings do not block


def test_dial_to_unknown_group_and_bad_priority_rule():
    site = small_site(
        priority=PriorityRule({"VIP": 10, "gold": -1}),
        nodes=[
            Menu(id="main", prompt="p", options={"1": "desk", "2": "sales"}),
            Dial(id="desk", target="front_desk"),
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ],
    )
    assert codes(site) == [
        ("site.nodes['desk'].target", "CF104"),
        ("site.priority.tiers['VIP']", "CF103"),
        ("site.priority.tiers['gold']", "CF124"),
    ]


@pytest.mark.parametrize("payload", [",)", "${SHELL(touch /tmp/pwned)}", "a b", '"\\;', "$[1+1]"])
def test_hostile_free_text_is_accepted_but_hostile_identifiers_are_not(payload):
    staff = [Staff("ann", name=payload, device="PJSIP/1001", groups=("sales",))]
    assert validate(small_site(label=payload, staff=staff)) == []
    bad = small_site(staff=[Staff("ann", name="Ann", device=f"PJSIP/{payload}", groups=("sales",))])
    assert ("site.staff['ann'].device", "CF113") in codes(bad)
    bad_prompt = small_site(
        nodes=[
            Menu(id="main", prompt=f"custom/{payload}", options={"1": "sales"}),
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ]
    )
    assert ("site.nodes['main'].prompt[0]", "CF114") in codes(bad_prompt)
