"""Validation never crashes: every field of every model class, given a value of the wrong
type, a non-finite or absurd number, or hostile text, is one diagnostic with a path and a
code (issue 9 #5-#7, issue 15 #3-#4)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callflow import (
    Audience,
    Branch,
    CallingWindow,
    Campaign,
    Dial,
    Goto,
    Hangup,
    Hours,
    LanguageSelect,
    Lookup,
    LookupSettings,
    Member,
    Menu,
    Play,
    PriorityRule,
    Prompt,
    Queue,
    Site,
    Staff,
    SurveyQuestion,
    TimeCondition,
    ValidationError,
    Voicemail,
    compile_site,
    validate,
)
from callflow.errors import Diagnostic, Severity
from callflow.model import fieldcheck
from callflow.simulate import simulate

#: every class a site is made of; each appears in :func:`full_site`
MODEL = (
    Site,
    LookupSettings,
    PriorityRule,
    Staff,
    Play,
    Goto,
    Menu,
    LanguageSelect,
    Dial,
    Queue,
    Member,
    Voicemail,
    Hangup,
    TimeCondition,
    Branch,
    Lookup,
    Prompt,
    Hours,
    Campaign,
    Audience,
    CallingWindow,
    SurveyQuestion,
)


def full_site(bad: dict[tuple[type, str], object] | None = None) -> Site:
    """A valid site using every model class once (Prompt and Hours several times);
    ``bad`` replaces ``(class, field)`` with a value wherever that class is built."""
    bad = bad or {}

    def mk(cls, *args, **kw):
        names = [f.name for f in dataclasses.fields(cls)]
        kw.update(zip(names, args, strict=False))
        for (c, name), value in bad.items():
            if c is cls:
                kw[name] = value
        return cls(**kw)

    def prompt(file):
        return mk(Prompt, file, text="what it says", seconds=2)

    hours = (mk(Hours, "mon-fri", "09:00", "18:00"),)
    return mk(
        Site,
        name="shop",
        entries={"100": "who"},
        timezone="Asia/Shanghai",
        language="zh",
        label="Shop",
        lookup=mk(LookupSettings),
        priority=mk(PriorityRule, {"vip": 10}, default=1),
        staff=[mk(Staff, "ann", name="Ann", device="PJSIP/1001", groups=("sales",), mailbox="100")],
        nodes=[
            mk(Lookup, id="who", next="lang", label="who calls"),
            mk(
                LanguageSelect,
                id="lang",
                prompt=(prompt("lang"),),
                languages={"1": "zh", "2": "en"},
                next="hours",
                timeout=3,
                default="zh",
            ),
            mk(
                TimeCondition,
                id="hours",
                hours=hours,
                open="tier",
                closed="closed",
                holidays=(dt.date(2026, 10, 1),),
                holiday="closed",
                timezone="Asia/Shanghai",
            ),
            mk(Branch, id="tier", attribute="tier", cases={"vip": "desk"}, default="main"),
            mk(Dial, id="desk", target="ann", ring=10, no_answer="main", cid_prefix="VIP "),
            mk(
                Menu,
                id="main",
                prompt=(prompt("menu"),),
                options={"1": "sales", "2": "hello"},
                operator="sales",
                timeout=4,
                tries=2,
                invalid_prompt=(prompt("invalid"),),
                timeout_prompt=(prompt("timeout"),),
                failure="sales",
            ),
            mk(Play, id="hello", prompts=(prompt("hello"),), next="again"),
            mk(Goto, id="again", target="main"),
            mk(
                Queue,
                id="sales",
                members=(mk(Member, "sales", penalty=1),),
                max_wait=60,
                overflow="vm",
                manager_first=10,
                priority=mk(PriorityRule, {"gold": 5}, default=0),
                cid_prefix="Q ",
            ),
            mk(Voicemail, id="vm", mailbox="200", greeting="busy", email="a@example.com"),
            mk(Hangup, id="closed", prompts=(prompt("closed"),)),
        ],
        campaigns=[
            mk(
                Campaign,
                id="survey",
                kind="survey",
                audience=mk(Audience, tiers=("vip",), tags=("t",), regions=("r",)),
                window=mk(CallingWindow, hours=hours, timezone="Asia/Shanghai"),
                message=(prompt("intro"),),
                questions=(mk(SurveyQuestion, "q1", prompt("q1"), answers="12", timeout=5),),
                connect_to="sales",
                caller_id="4000",
            )
        ],
    )


def fields_of_model():
    return [(cls, f.name) for cls in MODEL for f in dataclasses.fields(cls)]


def errors(site) -> list[Diagnostic]:
    return [d for d in validate(site) if d.severity is Severity.ERROR]


def test_the_full_site_is_valid_and_compiles():
    assert validate(full_site()) == []
    compile_site(full_site())


class Opaque:
    """A value no field accepts."""

    def __repr__(self) -> str:
        return "<opaque>"


WRONG = {
    "object": Opaque(),
    "list": [Opaque()],
    "dict": {"k": Opaque()},
    "nan": math.nan,
}


@pytest.mark.parametrize("wrong", WRONG.values(), ids=WRONG.keys())
@pytest.mark.parametrize(
    ("cls", "name"), fields_of_model(), ids=lambda v: getattr(v, "__name__", v)
)
def test_a_wrongly_typed_field_is_a_diagnostic_at_its_path(cls, name, wrong):
    site = full_site({(cls, name): wrong})
    found = errors(site)  # never raises
    assert found, f"{cls.__name__}.{name}={wrong!r} passed validation"
    assert any(f".{name}" in d.path or d.path.startswith(f"site.{name}") for d in found), found
    assert all(d.code.startswith("CF1") and d.path.startswith("site") for d in found)
    with pytest.raises(ValidationError):
        compile_site(site)


ANY_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=5),
        st.dates(),
        st.builds(Opaque),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=2) | st.integers(), inner)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(fields_of_model()), ANY_VALUE)
def test_any_value_in_any_field_never_crashes_validate_or_compile(where, value):
    site = full_site({where: value})
    found = validate(site)
    assert all(isinstance(d, Diagnostic) and d.path and d.code for d in found)
    try:
        compile_site(site)
    except ValidationError as exc:
        assert any(d.severity is Severity.ERROR for d in exc.diagnostics)


# -- the cases named in issue 9 #7 ----------------------------------------------------------
def small(**over):
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
    values.update(over)
    return Site(**values)


def with_node(node, **over):
    base = small()
    return small(nodes=[*base.nodes, node], **over)


NAMED_CASES = [
    (lambda: with_node(Dial(id="d", target=["ann"])), "site.nodes['d'].target", "CF132"),
    (
        lambda: with_node(Play(id="p", prompts=[1, 2], next="bye")),
        "site.nodes['p'].prompts[0].file",
        "CF132",
    ),
    (lambda: small(priority=PriorityRule(None)), "site.priority.tiers", "CF132"),
    (
        lambda: small(
            nodes=[
                *small().nodes[:1],
                Queue(
                    id="sales",
                    members=["sales"],
                    max_wait=60,
                    overflow="bye",
                    priority=PriorityRule({"vip": None}),
                ),
            ]
        ),
        "site.nodes['sales'].priority.tiers['vip']",
        "CF132",
    ),
    (lambda: small(priority=None), "site.priority", "CF132"),
    (lambda: small(language=1), "site.language", "CF132"),
    (lambda: small(timezone=8), "site.timezone", "CF132"),
    (lambda: small(nodes=[*small().nodes, "bye"]), "site.nodes[3]", "CF130"),
    (lambda: small(nodes=[*small().nodes, {"id": "x"}]), "site.nodes[3]", "CF130"),
    (lambda: small(nodes="main"), "site.nodes", "CF132"),
    (lambda: small(staff=[*small().staff, "bob"]), "site.staff[1]", "CF132"),
    (lambda: small(entries=["100"]), "site.entries", "CF132"),
    (
        lambda: with_node(
            TimeCondition(id="t", hours=[Hours(1, "09:00", "18:00")], open="main", closed="bye")
        ),
        "site.nodes['t'].hours[0].days",
        "CF132",
    ),
    (
        lambda: with_node(
            TimeCondition(id="t", hours="mon-fri 09:00-18:00", open="main", closed="bye")
        ),
        "site.nodes['t'].hours",
        "CF132",
    ),
    (lambda: with_node(Goto(id=7, target="main")), "site.nodes[3].id", "CF132"),
    (
        lambda: with_node(Voicemail(id="vm", mailbox="1", greeting="x")),
        "site.nodes['vm'].greeting",
        "CF132",
    ),
    (
        lambda: with_node(
            Queue(id="q", members=["sales"], max_wait=60, overflow="bye", strategy="best")
        ),
        "site.nodes['q'].strategy",
        "CF129",
    ),
    # the low item of issue 9: a target of None is not "hang up", it is a mistake
    (
        lambda: small(
            nodes=[
                Menu(id="main", prompt="p", options={"1": None}, operator="sales"),
                *small().nodes[1:],
            ]
        ),
        "site.nodes['main'].options['1']",
        "CF132",
    ),
    (lambda: small(entries={"100": None}), "site.entries['100']", "CF132"),
    (lambda: small(live=1), "site.live", "CF132"),
    # a missing comma: ("sales") is a string, not a one-group tuple split into letters
    (
        lambda: small(staff=[Staff("ann", name="Ann", device="PJSIP/1001", groups=("sales"))]),
        "site.staff['ann'].groups",
        "CF132",
    ),
]


@pytest.mark.parametrize(("make", "path", "code"), NAMED_CASES, ids=[c[1] for c in NAMED_CASES])
def test_issue_cases_are_diagnostics_not_tracebacks(make, path, code):
    site = make()
    found = {(d.path, d.code) for d in validate(site)}
    assert (path, code) in found, sorted(found)
    with pytest.raises(ValidationError):
        compile_site(site)


# -- numbers (issue 9 #5) ------------------------------------------------------------------------
def queue(**kw):
    return Queue(**{"id": "sales", "members": ["sales"], "max_wait": 60, "overflow": "bye", **kw})


def queue_site(name, value):
    return small(nodes=[small().nodes[0], queue(**{name: value}), small().nodes[2]])


def campaign_site(name, value):
    window = CallingWindow(hours=(Hours("mon", "10:00", "12:00"),))
    campaign = Campaign(id="c", kind="followup", connect_to="sales", window=window, **{name: value})
    return small(campaigns=[campaign])


def menu(**kw):
    return Menu(id="main", prompt="custom/menu", options={"1": "sales"}, operator="sales", **kw)


NUMBERS = [
    # (field, build a site with the value, path, highest allowed, code)
    (
        "menu timeout",
        lambda v: small(nodes=[menu(timeout=v), *small().nodes[1:]]),
        "site.nodes['main'].timeout",
        300,
        "CF116",
    ),
    (
        "menu tries",
        lambda v: small(nodes=[menu(tries=v), *small().nodes[1:]]),
        "site.nodes['main'].tries",
        10,
        "CF116",
    ),
    (
        "prompt seconds",
        lambda v: small(
            nodes=[
                Menu(id="main", prompt=Prompt("p", seconds=v), options={"1": "sales"}),
                *small().nodes[1:],
            ]
        ),
        "site.nodes['main'].prompt[0].seconds",
        3600,
        "CF116",
    ),
    (
        "dial ring",
        lambda v: with_node(Dial(id="d", target="ann", ring=v)),
        "site.nodes['d'].ring",
        600,
        "CF116",
    ),
    (
        "language timeout",
        lambda v: with_node(
            LanguageSelect(id="l", prompt="p", languages={"1": "en"}, next="main", timeout=v)
        ),
        "site.nodes['l'].timeout",
        300,
        "CF116",
    ),
    *(
        (
            f"queue {name}",
            functools.partial(queue_site, name),
            f"site.nodes['sales'].{name}",
            hi,
            "CF116",
        )
        for name, hi in [
            ("ring", 600),
            ("retry", 600),
            ("wrapup", 3600),
            ("max_wait", 14400),
            ("maxlen", 10000),
            ("announce_frequency", 3600),
            ("manager_first", 600),
        ]
    ),
    (
        "priority",
        lambda v: small(priority=PriorityRule({"vip": v})),
        "site.priority.tiers['vip']",
        1000,
        "CF124",
    ),
    (
        "default priority",
        lambda v: small(priority=PriorityRule(default=v)),
        "site.priority.default",
        1000,
        "CF124",
    ),
    (
        "penalty",
        lambda v: small(
            nodes=[
                small().nodes[0],
                Queue(id="sales", members=[Member("sales", v)], max_wait=60, overflow="bye"),
                small().nodes[2],
            ]
        ),
        "site.nodes['sales'].members[0].penalty",
        100,
        "CF127",
    ),
    *(
        (
            f"campaign {name}",
            functools.partial(campaign_site, name),
            f"site.campaigns['c'].{name}",
            hi,
            "CF116",
        )
        for name, hi in [
            ("max_attempts", 20),
            ("retry_after_minutes", 10080),
            ("concurrency", 1000),
        ]
    ),
    (
        "survey timeout",
        lambda v: small(
            campaigns=[
                Campaign(
                    id="c",
                    kind="survey",
                    window=CallingWindow(hours=(Hours("mon", "10:00", "12:00"),)),
                    questions=(SurveyQuestion("q", "p", timeout=v),),
                )
            ]
        ),
        "site.campaigns['c'].questions[0].timeout",
        300,
        "CF116",
    ),
]


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e30, -5, "hi+1"])
@pytest.mark.parametrize(
    ("what", "make", "path", "hi", "code"), NUMBERS, ids=[n[0] for n in NUMBERS]
)
def test_non_finite_or_absurd_numbers_are_refused(what, make, path, hi, code, value):
    if value == "hi+1":
        value = hi + 1
    site = make(value)
    found = {(d.path, d.code) for d in validate(site)}
    assert (path, code) in found, sorted(found)
    assert make(hi) is not None and (path, code) not in {
        (d.path, d.code) for d in validate(make(hi))
    }


def test_an_integer_field_refuses_a_fraction_and_a_bool():
    assert ("site.nodes['d'].ring", "CF116") in {
        (d.path, d.code) for d in validate(with_node(Dial(id="d", target="ann", ring=2.5)))
    }
    assert ("site.nodes['d'].ring", "CF132") in {
        (d.path, d.code) for d in validate(with_node(Dial(id="d", target="ann", ring=True)))
    }


# -- holidays (issue 9 #6) --------------------------------------------------------------------
def holiday_site(holidays):
    return with_node(
        TimeCondition(
            id="t",
            hours=[Hours("mon-sun", "00:00", "24:00")],
            open="main",
            closed="bye",
            holidays=holidays,
            holiday="bye",
        ),
        entries={"100": "t"},
    )


def test_iso_holiday_strings_are_dates_everywhere():
    site = holiday_site(["2026-10-01", dt.datetime(2026, 10, 2, 9, 30)])
    assert site.nodes[-1].holidays == (dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    assert validate(site) == []
    ext = compile_site(site).files["extensions.conf"]
    assert "exten => 20261001,1,NoOp(2026-10-01)" in ext
    on_holiday = simulate(site, "100", at=dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC))
    assert on_holiday.dest == "hangup" and on_holiday.trace == ["t", "bye"]
    normal_day = simulate(site, "100", at=dt.datetime(2026, 10, 5, 10, tzinfo=dt.UTC))
    assert normal_day.trace[:2] == ["t", "main"]


@pytest.mark.parametrize("bad", [20261001, "Oct 1", "2026-13-01", 1.5, None])
def test_holidays_that_are_not_dates_are_refused(bad):
    found = {(d.path, d.code) for d in validate(holiday_site([bad]))}
    assert ("site.nodes['t'].holidays[0]", "CF132") in found


# -- the fast path agrees with the full check -----------------------------------------------
HINTS = {cls: typing.get_type_hints(cls, include_extras=True) for cls in MODEL}


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(fields_of_model()),
    st.one_of(
        ANY_VALUE,
        st.floats(),
        st.text(st.characters(exclude_categories=()), max_size=300),  # surrogates too
        st.integers(0, 300).map(lambda n: "\U0001f600" * n),  # over a byte limit
    ),
)
def test_the_fast_clean_check_says_clean_exactly_when_the_full_check_reports_nothing(where, value):
    cls, name = where
    annotation = HINTS[cls][name]
    out: list[Diagnostic] = []
    fieldcheck._checker(annotation, name)(value, "p", out)
    assert fieldcheck._clean(annotation, name)(value) == (not out), out


def test_any_iterable_serves_where_a_list_is_expected():
    site = small(nodes=(n for n in small().nodes), staff=iter(small().staff))
    assert isinstance(site.nodes, tuple) and isinstance(site.staff, tuple)
    assert validate(site) == []
