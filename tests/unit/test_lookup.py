"""The lookup's answer, its fallback on store trouble, and the call-record folding."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callflow.compiler.dialplan import agi_target
from callflow.model.variables import ANSWER_FIELDS, ANSWER_PAD
from callflow.runtime.lookup import (
    CustomerLookup,
    StoreUnavailable,
    agi_command,
    answer_command,
    assignments,
    pack_answer,
)
from callflow.runtime.records import CallRecorder
from callflow.store import CallRecord, make_engine, make_sessionmaker, upgrade
from callflow.store.inputs import staff_data
from callflow.store.repositories import CustomerView, StaffRepository

VIEW = CustomerView(
    id=7, name='Li "Lei",)\n${SHELL(x)}', tier="vip", value=Decimal(1), manager_id="wang",
    manager_device=None, region=None, language="zh", timezone=None, tags=("a", "b"),
)  # fmt: skip


def test_assignments_end_with_cf_lookup_ok_and_flatten_the_name():
    found = assignments(VIEW)
    assert found[-1] == ("CF_LOOKUP", "ok")
    values = dict(found)
    assert values["CF_SEGMENT"] == "vip"  # no region: the tier is the segment
    assert values["CF_TAGS"] == "a.b"
    assert values["CALLERID(name)"] == 'Li "Lei",) ${SHELL(x)}'
    assert assignments(None) == [("CF_LOOKUP", "ok")]


def test_assignments_send_only_values():
    bare = CustomerView(
        id=8, name="Ma Jun", tier="standard", value=Decimal(0), manager_id=None,
        manager_device=None, region=None, language=None, timezone=None, tags=(),
    )  # fmt: skip
    assert [name for name, _ in assignments(bare)] == [
        "CF_CUSTOMER_ID", "CF_TIER", "CF_SEGMENT", "CF_CUSTOMER_NAME", "CALLERID(name)",
        "CF_LOOKUP",
    ]  # fmt: skip


def unpack(packed: str) -> dict[str, str]:
    """What the compiled Lookup node does with CF_CRM: CUT on '.', BASE64_DECODE, drop
    the pad (``${...:1}``)."""
    status, *fields = packed.split(".")
    assert re.fullmatch(r"ok:[0-9+]*", status)
    decoded = [base64.b64decode(f, validate=True).decode() for f in fields]
    assert all(d.startswith(ANSWER_PAD) for d in decoded)
    return {name: d[1:] for name, d in zip(ANSWER_FIELDS, decoded, strict=True)} if fields else {}


def test_packed_answer_carries_every_field_and_leaves_out_what_the_dialplan_derives():
    values = unpack(pack_answer(assignments(VIEW), "138"))
    assert list(values) == list(ANSWER_FIELDS)
    assert values["CF_TIER"] == "vip" and values["CF_MANAGER"] == "wang"
    assert values["CF_REGION"] == ""  # empty, but still a field: the dialplan clears it
    assert values["CF_CUSTOMER_NAME"] == 'Li "Lei",) ${SHELL(x)}'
    assert pack_answer(assignments(None), "139") == "ok:139"  # a caller the CRM does not know
    assert answer_command([], "+86139") == 'SET VARIABLE CF_CRM "ok:+86139"'
    with pytest.raises(ValueError, match="not digits"):
        pack_answer([], "139.ok")  # the key cannot add a field


def test_packed_answer_refuses_a_variable_the_dialplan_would_not_unpack():
    with pytest.raises(ValueError, match="'CF_PRIO' is not one of CF_CUSTOMER_ID"):
        pack_answer([("CF_PRIO", "10")], "138")


@given(st.dictionaries(st.sampled_from(ANSWER_FIELDS), st.text(), min_size=1))
def test_packed_answer_round_trips_any_text_in_dialplan_safe_characters(found):
    packed = pack_answer(found.items(), "+86138")
    assert re.fullmatch(rf"ok:\+86138(\.[A-Za-z0-9+/=]+){{{len(ANSWER_FIELDS)}}}", packed)
    assert unpack(packed) == {name: found.get(name, "") for name in ANSWER_FIELDS}


@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_agi_command_is_one_line_with_one_quoted_argument(value):
    line = agi_command("CF_X", value)
    assert "\n" not in line and "\r" not in line
    body = line.removeprefix("SET VARIABLE CF_X ")
    assert body.startswith('"') and body.endswith('"')
    inner, i, out = body[1:-1], 0, []
    while i < len(inner):  # Asterisk's parse_args: backslash escapes, bare quote toggles
        assert inner[i] != '"', "unescaped quote would end the argument"
        if inner[i] == "\\":
            i += 1
        out.append(inner[i])
        i += 1
    assert "".join(out) == "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in value)


def test_agi_target_fastagi_and_classic():
    assert agi_target("agi://127.0.0.1:4573", "lookup", "s") == "agi://127.0.0.1:4573/lookup,s"
    assert (
        agi_target("agi:/usr/bin/callflow-agi", "lookup", "s") == "/usr/bin/callflow-agi,lookup,s"
    )


def test_missing_sqlite_file_is_reported_not_created(tmp_path):
    path = tmp_path / "gone.db"
    lookup = CustomerLookup(make_engine(f"sqlite:///{path}"))
    with pytest.raises(StoreUnavailable):
        lookup.answer("13800000001")
    assert not path.exists()


async def test_recorder_folds_events_into_one_record(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    clock = iter(
        datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s) for s in (0, 1, 5, 9, 9, 9)
    )
    recorder = CallRecorder(sessions, now=lambda: next(clock))
    base = {"Linkedid": "L1", "Uniqueid": "U1"}
    events = [
        {"Event": "Newchannel", "Linkedid": "L1", "Uniqueid": "L1"},
        {**base, "Event": "QueueCallerJoin", "Queue": "s-sales"},
        {**base, "Event": "AgentConnect", "Queue": "s-sales", "MemberName": "a1", "HoldTime": "4"},
        {**base, "Event": "UserEvent", "UserEvent": "CallflowEnd", "site": "s",
         "trace": "who sales", "dest": "queue:sales", "path": "queue", "prio": "10",
         "CallerIDNum": "13800000001"},
        {**base, "Event": "AgentComplete", "HoldTime": "4", "TalkTime": "3"},
        {**base, "Event": "UserEvent", "UserEvent": "CallflowEnd", "site": "s"},  # duplicate
    ]  # fmt: skip
    for event in events:
        recorder.on_event(event)
        await asyncio.sleep(0)
    await recorder.flush()
    with sessions() as session:
        rows = session.query(CallRecord).all()
    assert len(rows) == 1
    rec = rows[0]
    assert (rec.wait_seconds, rec.talk_seconds, rec.agent, rec.priority) == (4, 3, "a1", 10)
    assert (rec.disposition, rec.queue, rec.caller) == ("ANSWERED", "s-sales", "+8613800000001")


@pytest.mark.parametrize(
    ("name", "interface", "agents", "expected"),
    [
        ("Ann Agent", "Local/ann@agents/n", {"Local/ann@agents/n": "ann"}, "ann"),  # site
        ("Bo Li", "PJSIP/2001", {}, "bo"),  # the store's staff table
        ("Temp Helper", "Local/tmp@agents/n", {}, "Temp Helper"),  # added at run time
    ],
)
async def test_recorded_agent_is_the_staff_id_of_the_answering_member(
    tmp_path, name, interface, agents, expected
):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        StaffRepository().upsert(session, staff_data(id="bo", name="Bo Li", device="PJSIP/2001"))
    recorder = CallRecorder(sessions, agents=agents)
    base = {"Linkedid": "L2", "Uniqueid": "L2"}
    for event in (
        {**base, "Event": "Newchannel"},
        {**base, "Event": "AgentConnect", "Queue": "s-sales", "MemberName": name,
         "Interface": interface, "HoldTime": "1"},
        {**base, "Event": "UserEvent", "UserEvent": "CallflowEnd", "site": "s"},
    ):  # fmt: skip
        recorder.on_event(event)
    await recorder.flush()
    with sessions() as session:
        assert session.query(CallRecord.agent).scalar() == expected


def test_benchmark_rate_of_a_sequential_run_and_of_taken_turns():
    """benchmarks/lookup.py once printed the classic row as '30 calls at 30000000000.0/s'."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "lookup.py"
    spec = importlib.util.spec_from_file_location("cf_bench_lookup", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules[spec.name]
    # the classic script: one call after another, 1.2 s each
    classic = [bench.Sample(i * 1.2, i * 1.2 + 1.2, True) for i in range(30)]
    assert bench.rate(classic, 1.2).strip() == "0.8/s"
    # 10 calls/s in two turns 5 s apart: the pause is not sampling time
    turns = [bench.Sample(t / 10, t / 10 + 0.002, True) for t in range(10)]
    turns += [bench.Sample(6 + t / 10, 6 + t / 10 + 0.002, True) for t in range(10)]
    assert abs(float(bench.rate(turns, 0.002).strip().removesuffix("/s")) - 20 / 1.802) < 0.1
