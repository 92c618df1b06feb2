"""The dialplan compiler: deterministic, complete, and safe with hostile text."""

import datetime as dt

import pytest

from callflow import (
    Branch,
    Dial,
    Hangup,
    Hours,
    Lookup,
    Menu,
    PriorityRule,
    Queue,
    Site,
    Staff,
    TimeCondition,
    ValidationError,
    compile_site,
)
from callflow.compiler.ir import CompiledSite, Context, Extension, Step
from callflow.compiler.render import RenderError, render
from callflow.model.limits import CONFIG_LINE_BYTES
from callflow.model.schedule import is_open, parse_days

# one line: labels, names and prefixes refuse line breaks (CF133); prompt texts take them
HOSTILE = ',)${SHELL(touch /tmp/pwned)};"\\ $[1+1]'


def site_with(label=HOSTILE, **kw):
    values = dict(
        name="shop",
        label=label,
        timezone="Asia/Shanghai",
        entries={"100": "who"},
        staff=[
            Staff("ann", name=label, device="PJSIP/1001", groups=("sales",)),
            Staff("bob", name="Bob", device="Local/200@agents/n", groups=("sales", "desk")),
        ],
        priority=PriorityRule({"vip": 10, "gold": 5}),
        nodes=[
            Lookup(id="who", next="hours", label=label),
            TimeCondition(
                id="hours",
                hours=[Hours("mon-fri", "09:00", "18:00"), Hours("sat", "22:00", "02:00")],
                holidays=[dt.date(2027, 1, 1)],
                open="tier",
                closed="bye",
            ),
            Branch(id="tier", attribute="tier", cases={"vip": "sales"}, default="main"),
            Menu(
                id="main",
                prompt="custom/menu",
                options={"1": "sales", "2": "desk"},
                operator="desk",
                failure="bye",
            ),
            Dial(id="desk", target="desk", ring=10, no_answer="sales", cid_prefix=label),
            Queue(
                id="sales",
                members=["sales"],
                max_wait=60,
                overflow="bye",
                manager_first=12,
                cid_prefix=label,
                label=label,
            ),
            Hangup(id="bye"),
        ],
    )
    values.update(kw)
    return Site(**values)


def test_same_site_compiles_to_identical_bytes():
    a, b = compile_site(site_with()), compile_site(site_with())
    assert a.files == b.files
    shuffled = site_with(
        nodes=list(reversed(site_with().nodes)), staff=list(reversed(site_with().staff))
    )
    assert compile_site(shuffled).files == a.files


def test_invalid_site_is_refused_before_compiling():
    with pytest.raises(ValidationError):
        compile_site(site_with(entries={"100": "ghost"}))


def test_every_node_has_a_context_and_priorities_match_the_text():
    compiled = compile_site(site_with())
    text = compiled.files["extensions.conf"]
    for node in site_with().nodes:
        assert f"[cf-shop-{node.id}]" in text
    for ctx in compiled.contexts:
        section = text.split(f"[{ctx.name}]\n", 1)[1].split("\n[", 1)[0]
        lines = [ln for ln in section.splitlines() if ln.startswith("exten => ")]
        assert len(lines) == ctx.priority_count, ctx.name


def test_hostile_text_only_appears_encoded_or_in_comments():
    compiled = compile_site(site_with())
    ext = compiled.files["extensions.conf"]
    for line in ext.splitlines():  # the only file where Asterisk substitutes ${...} and $[...]
        code = line.split(" ; ", 1)[0] if not line.startswith(";") else ""
        assert "SHELL" not in code, line
        assert "$[1+1]" not in code, line
    assert "Set(CALLERID(name)=${BASE64_DECODE(" in ext
    queues = compiled.files["queues.conf"]
    # each of , ) ( ; " \ escaped
    escaped = r"member => PJSIP/1001,0,\,\)${SHELL\(touch /tmp/pwned\)}\;\"\\ $[1+1]"
    assert escaped in queues.splitlines()


def test_menu_digits_timeout_invalid_and_failure():
    ext = compile_site(site_with()).files["extensions.conf"]
    menu = ext.split("[cf-shop-main]\n", 1)[1].split("\n[", 1)[0]
    assert "exten => 0,1,Goto(cf-shop-desk,s,1)" in menu
    assert "exten => 1,1,Goto(cf-shop-sales,s,1)" in menu
    assert "exten => i,1,GotoIf($[${CF_TRIES} < 3]?s,prompt)" in menu
    assert "exten => t,2,Goto(cf-shop-bye,s,1)" in menu
    assert "exten => s,6,WaitExten(5)" in menu
    assert "exten => s,2,Answer()" in menu  # a menu needs media: answered on entering it


def test_queue_priority_and_manager_first():
    ext = compile_site(site_with()).files["extensions.conf"]
    queue = ext.split("[cf-shop-sales]\n", 1)[1].split("\n[", 1)[0]
    assert 'ExecIf($["${CF_TIER_KEY}" = "gold"]?Set(QUEUE_PRIO=5))' in queue
    assert 'ExecIf($["${CF_TIER_KEY}" = "vip"]?Set(QUEUE_PRIO=10))' in queue
    assert "Gosub(cf-shop-staff,${CF_MANAGER_KEY},1(12))" in queue
    assert "Queue(shop-sales,,,,60)" in queue
    staff = ext.split("[cf-shop-staff]\n", 1)[1].split("\n[", 1)[0]
    assert "DEVICE_STATE(Local/200@agents)" in staff  # /n is a dial option, not a device
    # two calls that read the state in the same instant: only the lock's holder rings
    lock = "cf-shop-staff-"
    assert staff.count(f"TRYLOCK({lock}") == staff.count("Dial(") == staff.count(f"UNLOCK({lock}")
    assert "(locked),Set(CF_DEVSTATE=RINGING)" in staff


def test_time_condition_ranges_split_past_midnight():
    ext = compile_site(site_with()).files["extensions.conf"]
    tc = ext.split("[cf-shop-hours]\n", 1)[1].split("\n[", 1)[0]
    assert "STRFTIME(${CF_CLOCK},Asia/Shanghai,%u%H%M)" in tc
    assert "GotoIf($[${CF_WEEK} >= 62200 & ${CF_WEEK} < 62400]?open)" in tc
    assert "GotoIf($[${CF_WEEK} >= 70000 & ${CF_WEEK} < 70200]?open)" in tc
    holidays = ext.split("[cf-shop-hours-holidays]\n", 1)[1].split("\n[", 1)[0]
    assert "exten => 20270101,1,NoOp(2027-01-01)" in holidays


def test_schedule_helpers():
    assert parse_days("fri-mon") == (1, 5, 6, 7)
    hours = (Hours("sat", "22:00", "02:00"),)
    assert is_open(hours, dt.datetime(2026, 11, 28, 23, 0))  # Saturday night
    assert is_open(hours, dt.datetime(2026, 11, 29, 1, 59))  # Sunday, early
    assert not is_open(hours, dt.datetime(2026, 11, 29, 2, 0))


def test_live_entry_goes_to_stasis_and_falls_back_to_the_compiled_flow():
    compiled = compile_site(site_with(live_entries=("100",)))
    ext = compiled.files["extensions.conf"]
    entry = ext.split("[cf-shop-entry]\n", 1)[1].split("\n[", 1)[0]
    assert "exten => 100,1,Stasis(callflow-shop,100)" in entry
    assert "exten => 100,2,Goto(cf-shop-compiled,100,1)" in entry
    fallback = ext.split("[cf-shop-compiled]\n", 1)[1].split("\n[", 1)[0]
    assert "Set(CHANNEL(hangup_handler_push)=cf-shop-hooks,end,1)" in fallback
    assert fallback.rstrip().endswith("Goto(cf-shop-who,s,1)")
    assert "[cf-shop-compiled]" not in compile_site(site_with()).files["extensions.conf"]


def _one_step_site(step: Step) -> CompiledSite:
    ctx = Context("cf-x-a", (Extension("s", (step,)),))
    return CompiledSite(site="x", contexts=(ctx,), queues=(), mailboxes=(), entry_context="")


def test_render_refuses_a_line_asterisk_would_skip_as_too_long():
    # 8,190 bytes is the longest line Asterisk's config parser reads (main/config.c)
    fits = "exten => s,1,NoOp() ; "
    render(_one_step_site(Step("NoOp", comment="x" * (CONFIG_LINE_BYTES - len(fits)))))
    with pytest.raises(RenderError, match="Asterisk skips lines over 8190"):
        render(_one_step_site(Step("NoOp", comment="x" * (CONFIG_LINE_BYTES - len(fits) + 1))))
    with pytest.raises(RenderError, match="bytes"):  # counted in UTF-8, not characters
        render(_one_step_site(Step("NoOp", comment="\u4e2d" * 2800)))


def test_render_checks_lines_as_asterisk_splits_them():
    # U+2028 is no line break for Asterisk (it splits at \n), so it is no "unexpected line"
    render(_one_step_site(Step("NoOp", comment="a\u2028b")))
    with pytest.raises(RenderError, match="unexpected line"):
        render(_one_step_site(Step("NoOp", comment="a\nb")))
    with pytest.raises(RenderError, match="not UTF-8"):
        render(_one_step_site(Step("NoOp", comment="\ud800")))
