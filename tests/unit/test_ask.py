"""The Ask node: validated, compiled (Read() + FILTER()), simulated and run live with the
same trace, and its answers written as SurveyResponse rows from the end event."""

from __future__ import annotations

import asyncio

import pytest

from callflow import Ask, Dial, Hangup, Menu, Site, Staff, compile_site, validate
from callflow.contract import CF_ANSWERS, CF_DEST, CF_TRACE, answer_var, parse_answers
from callflow.runtime.records import CallRecorder
from callflow.simulate import Script, simulate
from callflow.store import make_engine, make_sessionmaker
from callflow.store.call_records import CallRecord
from callflow.store.migrate import upgrade
from callflow.store.surveys import SurveyResponse
from callflow.testing import FakeChannel, run_live_call


def site(**ask: object) -> Site:
    fields: dict[str, object] = {
        "prompt": "custom/rate",
        "answers": "12345",
        "next": "bye",
        "invalid_prompt": "custom/bad",
        "timeout_prompt": "custom/again",
        "failure": "nobody",
        "timeout": 0.01,  # the live side really waits
        **ask,
    }
    return Site(
        name="acme",
        entries={"100": "main"},
        staff=[Staff("ann", "Ann", device="PJSIP/1001")],
        nodes=[
            Menu(id="main", prompt="custom/menu", options={"1": "rate"}, operator="desk"),
            Dial(id="desk", target="ann"),
            Ask(id="rate", **fields),  # type: ignore[arg-type]
            Hangup(id="bye", prompts="custom/thanks"),
            Hangup(id="nobody"),
            Hangup(id="silent"),
            Hangup(id="wrong"),
        ],
    )


def codes(s: Site) -> set[tuple[str, str]]:
    return {(d.path, d.code) for d in validate(s) if d.severity.value == "error"}


@pytest.mark.parametrize("answers", ["", "12#", "1*", "112", "1a", "\uff11"])
def test_answers_must_be_distinct_digits(answers: str) -> None:
    assert ("site.nodes['rate'].answers", "CF136") in codes(site(answers=answers))


def test_question_id_and_prompt_are_checked() -> None:
    found = codes(site(question="Bad-Id", prompt=()))
    assert ("site.nodes['rate'].question", "CF103") in found
    assert ("site.nodes['rate'].prompt", "CF114") in found
    assert ("site.nodes['rate'].on_timeout", "CF101") in codes(site(on_timeout="nowhere"))
    assert codes(site()) == set()


def test_compiled_reads_one_digit_and_uses_it_only_through_filter() -> None:
    ext = compile_site(site(question="q1")).files["extensions.conf"]
    body = ext[ext.index("[cf-acme-rate]") :].split("\n\n")[0]
    assert body.splitlines()[2:] == [
        "exten => s,1,Set(CF_TRACE=${CF_TRACE} rate)",
        "exten => s,2,Answer()",
        "exten => s,3,Set(CF_TRIES=0)",
        "exten => s,4(prompt),Set(CF_TRIES=$[${CF_TRIES} + 1])",
        "exten => s,5,Read(CF_READ,custom/rate,1,,1,0.01)",
        "exten => s,6,Set(CF_READ=${FILTER(0-9*A-D,${CF_READ})})",
        'exten => s,7,GotoIf($["${CF_READ}" = ""]?timeout)',
        'exten => s,8,GotoIf($["${FILTER(12345,${CF_READ})}" = ""]?invalid)',
        "exten => s,9,Set(CF_ANSWER_q1=${FILTER(12345,${CF_READ})})",
        "exten => s,10,Set(CF_ANSWERS=${CF_ANSWERS} q1:${FILTER(12345,${CF_READ})})",
        "exten => s,11,Goto(cf-acme-bye,s,1)",
        "exten => s,12(invalid),Playback(custom/bad)",
        "exten => s,13,GotoIf($[${CF_TRIES} < 3]?s,prompt)",
        "exten => s,14,Goto(cf-acme-nobody,s,1)",
        "exten => s,15(timeout),Playback(custom/again)",
        "exten => s,16,GotoIf($[${CF_TRIES} < 3]?s,prompt)",
        "exten => s,17,Goto(cf-acme-nobody,s,1)",
    ]
    # every use of the read digit after Read() goes through FILTER()
    reads = [line for line in body.splitlines() if "CF_READ}" in line]
    assert all("FILTER(" in line or '"${CF_READ}" = ""' in line for line in reads)
    assert "answers: ${CF_ANSWERS}" in ext  # the end event carries them


CASES = [
    # keys after the menu's "1" -> trace, dest, CF_ANSWERS
    (["4"], ["main", "rate", "bye"], " rate:4"),
    (["9", "3"], ["main", "rate", "bye"], " rate:3"),  # invalid, then a retry
    (["#", "5"], ["main", "rate", "bye"], " rate:5"),  # '#' ends Read(): silence
    ([None, "*", None], ["main", "rate", "nobody"], ""),  # tries used up
]


def live(s: Site, keys: list[str | None]) -> FakeChannel:
    fake = FakeChannel(["1", *keys], press_during={"sound:custom/menu", "sound:custom/rate"})
    asyncio.run(run_live_call(s, "100", fake))
    return fake


@pytest.mark.parametrize(("keys", "trace", "answers"), CASES)
def test_simulated_and_live_walk_the_question_alike(keys, trace, answers) -> None:
    s = site()
    sim = simulate(s, "100", script=Script(inputs=["1", *keys]))
    fake = live(s, keys)
    assert sim.trace == trace == fake.vars[CF_TRACE].split()
    assert sim.dest == fake.vars[CF_DEST] == "hangup"
    assert sim.variables.get(CF_ANSWERS, "") == fake.vars.get(CF_ANSWERS, "") == answers
    if answers:
        digit = answers.split(":")[1]
        assert sim.variables[answer_var("rate")] == fake.vars[answer_var("rate")] == digit


def test_invalid_and_on_timeout_jump_at_once() -> None:
    s = site(invalid="wrong", on_timeout="silent")
    for keys, last in (["7"], "wrong"), ([None], "silent"), (["#"], "silent"):
        sim = simulate(s, "100", script=Script(inputs=["1", *keys]))
        assert sim.trace[-1] == last == live(s, keys).vars[CF_TRACE].split()[-1]


def test_parse_answers_keeps_only_question_digit_pairs() -> None:
    assert parse_answers(" rate:4 again:10 bad x: :3 q:*") == [("rate", "4"), ("again", "10")]


async def test_the_end_event_writes_one_survey_response_per_answer(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    recorder = CallRecorder(sessions)
    base = {"Linkedid": "L1", "Uniqueid": "L1"}
    end = {**base, "Event": "UserEvent", "UserEvent": "CallflowEnd", "site": "acme",
           "trace": "main rate again bye", "answers": "rate:4 again:1"}  # fmt: skip
    for event in (
        {**base, "Event": "Newchannel"},
        end,
        {**base, "Event": "AgentComplete", "HoldTime": "1", "TalkTime": "2"},  # a rewrite
    ):
        recorder.on_event(event)
        await asyncio.sleep(0)
    await recorder.flush()
    recorder.close()
    with sessions() as session:
        rows = session.query(SurveyResponse).order_by(SurveyResponse.id).all()
        got = [(r.question, r.answer, r.call_record.linkedid, r.campaign) for r in rows]
        assert session.query(CallRecord).count() == 1
    assert got == [("rate", "4", "L1", ""), ("again", "1", "L1", "")]


def test_graph_and_lint_follow_every_way_out_of_a_question() -> None:
    from callflow.analysis import lint
    from callflow.graph import edges

    s = site(invalid="wrong", on_timeout="silent")
    out = {(e.target, e.label) for e in edges(s) if e.source == "rate"}
    assert out == {("bye", "answer 12345"), ("wrong", "invalid"), ("silent", "on timeout")}
    assert lint(s).errors == 0
