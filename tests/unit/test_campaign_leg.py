"""A campaign's answered leg: the model's fields and their diagnostics, the compiled
campaign context, the flow machine's walk of it (the simulator), the records writer's
handling of a campaign call's end event, and `callflow prompts import`'s bad inputs."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from callflow import Hangup, Site, Staff
from callflow.audio import PromptImportError, check_name, import_prompt
from callflow.compiler import compile_site
from callflow.contract import CF_ATTEMPT, CF_MANAGER, campaign_context
from callflow.errors import Severity
from callflow.model.campaigns import AbandonControl, CallingWindow, Campaign, SurveyQuestion
from callflow.model.schedule import Hours
from callflow.runtime.records import CallRecorder
from callflow.simulate import Script, Simulator
from callflow.store import CallRecord, make_engine, make_sessionmaker, upgrade
from callflow.store.surveys import SurveyResponse
from callflow.validate import validate
from tests.badinput import GOOD_SITE, Case, check

ALWAYS = CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),))
SURVEY = Campaign(
    id="sat",
    kind="survey",
    window=ALWAYS,
    message="custom/intro",
    questions=(
        SurveyQuestion("rate", "custom/rate"),
        SurveyQuestion("again", "custom/again", "12"),
    ),
    amd="message",
)


def site(*campaigns: Campaign) -> Site:
    return Site(
        name="acme",
        entries={"100": "bye"},
        nodes=[Hangup(id="bye")],
        staff=[Staff("ann", name="Ann", device="PJSIP/1001", groups=("care",))],
        campaigns=campaigns,
    )


def codes(s: Site) -> dict[str, str]:
    return {d.path: d.code for d in validate(s) if d.severity is Severity.ERROR}


def context(s: Site, name: str) -> list[str]:
    """The lines of context ``name`` in the compiled extensions.conf."""
    text = compile_site(s).files["extensions.conf"]
    block = text.split(f"[{name}]\n", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines() if line.startswith("exten")]


# ---- the model and its diagnostics -------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"endpoint": "PJSIP/5551234@trunk"}, "endpoint", "CF150"),  # no {number}
        ({"endpoint": "PJSIP/{number}@trunk,30,A(x)"}, "endpoint", "CF150"),  # app args
        ({"endpoint": "Foo/{number}"}, "endpoint", "CF150"),  # unknown technology
        ({"endpoint": "Local/{number}@out&PJSIP/1"}, "endpoint", "CF150"),  # a second dial
        ({"endpoint": "PJSIP/{number}{number}"}, "endpoint", "CF150"),
        ({"ring_seconds": 10}, "ring_seconds", "CF151"),  # under 15 s (TSR, Ofcom)
        ({"amd": "message", "message": None}, "amd", "CF152"),
        ({"opt_out_digit": "5"}, "opt_out_digit", "CF153"),  # also an answer of 'rate'
        ({"opt_out_digit": "#"}, "opt_out_digit", "CF153"),
        ({"opt_out_digit": "99"}, "opt_out_digit", "CF153"),
        ({"amd": "sometimes"}, "amd", "CF132"),
        ({"message": "manager:../etc/passwd"}, "message[0]", "CF114"),
        ({"goodbye": "bad file"}, "goodbye[0]", "CF114"),
    ],
)
def test_campaign_mistakes_are_reported_where_they_are(change, path, code) -> None:
    s = site(dataclasses.replace(SURVEY, **change))
    found = codes(s)
    assert found.get(f"site.campaigns['sat'].{path}") == code, found


FOLLOWUP = Campaign(
    id="fu",
    kind="followup",
    window=ALWAYS,
    connect_to="care",  # agent modes need people: the campaign queue's members
    dial_mode="progressive",
    abandon_message="custom/sorry",
)


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"abandon_message": None}, "abandon_message", "CF156"),  # abandons need words
        ({"message": "custom/intro"}, "message", "CF156"),  # would abandon every call
        ({"kind": "survey", "questions": SURVEY.questions}, "dial_mode", "CF156"),
        ({"dial_mode": "turbo"}, "dial_mode", "CF132"),
        ({"abandon": AbandonControl(target=0.5)}, "abandon.target", "CF116"),
        ({"abandon": AbandonControl(limit_seconds=0)}, "abandon.limit_seconds", "CF116"),
        ({"abandon": AbandonControl(window="1w")}, "abandon.window", "CF132"),  # type: ignore[arg-type]
        ({"protected_tiers": ("VIP!",)}, "protected_tiers", "CF103"),
        ({"preview_seconds": 1}, "preview_seconds", "CF116"),
    ],
)
def test_agent_mode_mistakes_are_reported_where_they_are(change, path, code) -> None:
    found = codes(site(dataclasses.replace(FOLLOWUP, **change)))
    assert found.get(f"site.campaigns['fu'].{path}") == code, found


def test_an_agent_mode_followup_is_valid() -> None:
    assert codes(site(FOLLOWUP)) == {}
    assert (
        FOLLOWUP.agent_mode and not dataclasses.replace(FOLLOWUP, dial_mode="unattended").agent_mode
    )
    assert (FOLLOWUP.abandon.limit_seconds, FOLLOWUP.abandon.target) == (2, 0.03)
    assert (FOLLOWUP.abandon.window, FOLLOWUP.abandon.lockout_hours) == ("30d", 72)


def test_a_duplicate_campaign_id_is_reported() -> None:
    assert codes(site(SURVEY, dataclasses.replace(SURVEY, kind="playback"))) == {
        "site.campaigns['sat']": "CF155"
    }


def test_the_defaults_and_the_example_campaigns_are_valid() -> None:
    assert codes(site(SURVEY)) == {}
    c = Campaign(id="p", kind="playback", window=ALWAYS, message="manager:custom/followup")
    assert (c.endpoint, c.ring_seconds, c.amd, c.opt_out_digit) == (
        "PJSIP/{number}@trunk",
        30,
        "off",
        "9",
    )
    assert codes(site(c)) == {}


def test_survey_questions_become_ask_nodes_with_the_opt_out_key() -> None:
    flow = SURVEY.answered_flow()
    ids = [n.id for n in flow.nodes]
    assert ids == [
        "campaign-sat-message",
        "campaign-sat-q-rate",
        "campaign-sat-q-again",
        "campaign-sat-bye",
        "campaign-sat-optout",
        "campaign-sat-machine",
    ]
    rate = flow.node_map["campaign-sat-q-rate"]
    assert rate.keys == {"9": "campaign-sat-optout"}  # type: ignore[attr-defined]
    assert (rate.answers, rate.question_id, rate.next) == (  # type: ignore[attr-defined]
        "12345",
        "rate",
        "campaign-sat-q-again",
    )
    assert (flow.start, flow.machine) == ("campaign-sat-message", "campaign-sat-machine")


# ---- the compiled context ------------------------------------------------------------------


def test_the_campaign_context_filters_the_dialers_variables_then_runs_amd() -> None:
    lines = context(site(SURVEY), campaign_context("acme", "sat"))
    text = "\n".join(lines)
    assert "Set(CF_ATTEMPT=${FILTER(a-z0-9_,${CF_ATTEMPT})})" in text
    assert "Set(CF_MANAGER=${FILTER(a-z0-9_,${CF_MANAGER})})" in text
    assert "Set(CF_CAMPAIGN=sat)" in text and "Set(CF_SITE=acme)" in text
    assert "Set(CHANNEL(hangup_handler_push)=cf-acme-hooks,end,1)" in text
    amd = next(i for i, line in enumerate(lines) if ",AMD()" in line)
    handler = next(i for i, line in enumerate(lines) if "hangup_handler_push" in line)
    assert handler < amd  # a machine hung up on still sends its end event
    assert "Set(CF_AMD=${FILTER(A-Z,${AMDSTATUS})})" in lines[amd + 1]
    assert 'GotoIf($["${CF_AMD}" = "MACHINE"]?machine)' in lines[amd + 2]
    assert "Goto(cf-acme-campaign-sat-message,s,1)" in lines[amd + 3]
    assert "(machine),WaitForSilence(1500,1,40)" in lines[amd + 4]
    assert "Goto(cf-acme-campaign-sat-machine,s,1)" in lines[amd + 5]


def test_amd_hangup_and_off() -> None:
    hang = dataclasses.replace(SURVEY, amd="hangup")
    lines = context(site(hang), campaign_context("acme", "sat"))
    assert lines[-1].endswith("(machine),Goto(cf-acme-hooks,hangup,1)")
    off = context(site(dataclasses.replace(SURVEY, amd="off")), campaign_context("acme", "sat"))
    assert not any(",AMD(" in line or "WaitForSilence" in line for line in off)


def test_the_opt_out_key_and_node_compiled() -> None:
    s = site(SURVEY)
    ask = "\n".join(context(s, "cf-acme-campaign-sat-q-rate"))
    assert 'GotoIf($["${CF_READ}" = "9"]?cf-acme-campaign-sat-optout,s,1)' in ask
    out = context(s, "cf-acme-campaign-sat-optout")
    assert any("Set(CF_OPTOUT=1)" in line for line in out) and out[-1].endswith("Hangup()")


def test_a_managers_own_message_falls_back_to_the_shared_one() -> None:
    c = Campaign(id="p", kind="playback", window=ALWAYS, message="manager:custom/followup")
    lines = context(site(c), "cf-acme-campaign-p-message")
    text = "\n".join(lines)
    assert "Set(CF_MANAGER_KEY=${FILTER(a-z0-9_,${CF_MANAGER})})" in text
    assert "Playback(custom/followup-${CF_MANAGER_KEY})" in text
    assert 'ExecIf($["${PLAYBACKSTATUS}" != "SUCCESS"]?Playback(custom/followup))' in text


# ---- the flow machine (simulator) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("amd", "inputs", "trace", "answers", "optout"),
    [
        ("HUMAN", ["4", "1"], ["message", "q-rate", "q-again", "bye"], " rate:4 again:1", ""),
        ("NOTSURE", ["9"], ["message", "q-rate", "optout"], "", "1"),
        ("HUMAN", ["4", "9"], ["message", "q-rate", "q-again", "optout"], " rate:4", "1"),
        ("MACHINE", [], ["machine"], "", ""),
    ],
)
def test_simulated_campaign_calls(amd, inputs, trace, answers, optout) -> None:
    sim = Simulator(site(SURVEY)).run_campaign(
        "sat", Script(inputs=inputs, amd=amd, variables={CF_ATTEMPT: "Ab-12", CF_MANAGER: "x y"})
    )
    assert sim.trace == [f"campaign-sat-{t}" for t in trace]
    v = sim.variables
    assert (v.get("CF_ANSWERS", ""), v["CF_OPTOUT"], v["CF_AMD"]) == (answers, optout, amd)
    assert (v["CF_ATTEMPT"], v["CF_MANAGER"], v["CF_CAMPAIGN"]) == ("b12", "xy", "sat")


def test_amd_hangup_ends_a_machine_call_with_no_trace() -> None:
    s = site(dataclasses.replace(SURVEY, amd="hangup"))
    sim = Simulator(s).run_campaign("sat", Script(amd="MACHINE"))
    assert (sim.trace, sim.dest, sim.variables["CF_AMD"]) == ([], "hangup", "MACHINE")


def test_an_unknown_campaign_is_named() -> None:
    from callflow.simulate import SimulationError

    with pytest.raises(SimulationError, match="'nope' is not a campaign of site 'acme'"):
        Simulator(site(SURVEY)).run_campaign("nope")


# ---- records ------------------------------------------------------------------------------


class FakeOutbound:
    def __init__(self) -> None:
        self.dnc: list[tuple[str, str]] = []

    def callee(self, session, attempt: str) -> str | None:
        return {"a1": "+4930123456"}.get(attempt)

    def opt_out(self, session, number: str, campaign: str) -> None:
        self.dnc.append((number, campaign))


async def test_a_campaign_end_event_is_an_outbound_record_with_campaign_answers(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    outbound = FakeOutbound()
    recorder = CallRecorder(sessions, outbound=outbound)
    for linkedid, attempt, answers, optout in (
        ("L1", "a1", "rate:4 again:1", ""),
        ("L2", "a1", "rate:2", "1"),
        ("L3", "zz", "", "1"),  # no such attempt: nobody to put on the list
    ):
        recorder.on_event(
            {"Event": "UserEvent", "UserEvent": "CallflowEnd", "Linkedid": linkedid,
             "Uniqueid": linkedid, "site": "acme", "campaign": "sat", "attempt": attempt,
             "answers": answers, "optout": optout, "trace": "campaign-sat-q-rate"}
        )  # fmt: skip
        await asyncio.sleep(0)
    await recorder.flush()
    recorder.close()
    with sessions() as session:
        records = session.scalars(select(CallRecord).order_by(CallRecord.linkedid)).all()
        assert [(r.direction, r.dialled) for r in records] == [
            ("outbound", "+4930123456"),
            ("outbound", "+4930123456"),
            ("outbound", None),
        ]
        rows = session.scalars(select(SurveyResponse).order_by(SurveyResponse.id)).all()
        assert [(r.campaign, r.question, r.answer) for r in rows] == [
            ("sat", "rate", "4"),
            ("sat", "again", "1"),
            ("sat", "rate", "2"),
        ]
    assert outbound.dnc == [("+4930123456", "sat")]
    assert recorder.written == 3


# ---- prompts import -------------------------------------------------------------------------


def _tone(path: Path, seconds: float = 1.0) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency=440:duration={seconds}", "-ar", "44100", "-ac", "2", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("source", ["rec.m4a", "rec.mp3", "rec.wav"])
def test_phone_recordings_become_8khz_mono_wav(tmp_path, source) -> None:
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    stored = import_prompt(_tone(tmp_path / source, 1.5), "wang", sounds=sounds, site="star")
    assert stored.prompt == "custom/star/wang"
    assert stored.path == sounds / "custom/star/wang.wav"
    with wave.open(str(stored.path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert abs(w.getnframes() / 8000 - 1.5) < 0.1
    assert abs(stored.seconds - 1.5) < 0.1


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "a\\b", "x.wav", "", ".hidden", "bell\x07", "a b", "é", "x" * 65]
)
def test_unsafe_prompt_names_are_refused(name) -> None:
    with pytest.raises(PromptImportError, match="not a safe name"):
        check_name(name)


BAD_IMPORTS = [
    Case("name-dotdot", ["prompts", "import", "rec.mp3", "../etc", "--sounds", "{tmp}"],
         files={"rec.mp3": b"x"}, expect=["'../etc'", "not a safe name"], exit_code=1),
    Case("name-slash", ["prompts", "import", "rec.mp3", "a/b", "--sounds", "{tmp}"],
         files={"rec.mp3": b"x"}, expect=["'a/b'", "not a safe name"], exit_code=1),
    Case("name-control", ["prompts", "import", "rec.mp3", "a\x1bb", "--sounds", "{tmp}"],
         files={"rec.mp3": b"x"}, expect=["not a safe name"], exit_code=1),
    Case("missing-file", ["prompts", "import", "nope.m4a", "wang", "--sounds", "{tmp}"],
         expect=["nope.m4a", "no such file"], exit_code=1),
    Case("not-audio", ["prompts", "import", "rec.m4a", "wang", "--sounds", "{tmp}"],
         files={"rec.m4a": b"this is no recording"},
         expect=["rec.m4a", "not a readable WAV/MP3/M4A recording"], exit_code=1),
    Case("wrong-kind", ["prompts", "import", "rec.ogg", "wang", "--sounds", "{tmp}"],
         files={"rec.ogg": b"x"}, expect=["rec.ogg", ".wav, .mp3, .m4a"], exit_code=1),
    Case("no-sounds-dir", ["prompts", "import", "rec.mp3", "wang", "--sounds", "{tmp}/nope"],
         files={"rec.mp3": b"x"}, expect=["{tmp}/nope", "does not exist"], exit_code=1),
    Case("bad-site", ["prompts", "import", "rec.mp3", "wang", "--site", "../x", "--sounds",
                      "{tmp}"], files={"rec.mp3": b"x"}, expect=["'../x'", "site"], exit_code=1),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_IMPORTS, ids=lambda c: c.id)
def test_bad_prompt_imports(case, tmp_path) -> None:
    check(case, tmp_path)


def test_an_existing_prompt_is_only_replaced_with_force(tmp_path) -> None:
    rec = _tone(tmp_path / "rec.mp3", 0.5)
    import_prompt(rec, "wang", sounds=tmp_path)
    before = (tmp_path / "custom/wang.wav").read_bytes()
    with pytest.raises(PromptImportError, match="exists; pass --force"):
        import_prompt(_tone(tmp_path / "long.mp3", 1.0), "wang", sounds=tmp_path)
    assert (tmp_path / "custom/wang.wav").read_bytes() == before
    assert import_prompt(tmp_path / "long.mp3", "wang", sounds=tmp_path, force=True).seconds > 0.9
    assert sorted(p.name for p in (tmp_path / "custom").iterdir()) == ["wang.wav"]  # no temp


def test_validate_sounds_reports_campaign_prompts_with_no_file(tmp_path) -> None:
    from callflow.analysis import missing_sounds

    c = Campaign(id="p", kind="playback", window=ALWAYS, message="manager:custom/followup")
    (tmp_path / "custom").mkdir()
    found = missing_sounds(site(c), tmp_path)
    assert [(d.path, d.code) for d in found] == [("site.campaigns['p'].message", "CF154")]
    assert "custom/followup" in found[0].message
    (tmp_path / "custom/followup.wav").write_bytes(b"")
    assert missing_sounds(site(c), tmp_path) == []


async def test_the_store_puts_an_opted_out_attempts_number_on_the_dnc_list(tmp_path) -> None:
    from callflow.store.campaigns import CampaignAttempt, CampaignContact, DncNumber

    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        contact = CampaignContact(site="acme", campaign="sat", number="+4930123456", source="csv")
        session.add(contact)
        session.flush()
        session.add(
            CampaignAttempt(id="a1", contact_id=contact.id, site="acme", campaign="sat",
                            number="+4930123456", attempt_no=1, live_number="+4930123456",
                            state="answered")
        )  # fmt: skip
    recorder = CallRecorder(sessions)  # the default: callflow's own store
    recorder.on_event(
        {"Event": "UserEvent", "UserEvent": "CallflowEnd", "Linkedid": "L1", "Uniqueid": "L1",
         "site": "acme", "campaign": "sat", "attempt": "a1", "optout": "1", "answers": "rate:3"}
    )  # fmt: skip
    await asyncio.sleep(0)
    await recorder.flush()
    recorder.close()
    with sessions() as session:
        listed = session.get(DncNumber, "+4930123456")
        assert listed is not None and (listed.source, listed.campaign) == ("optout", "sat")
        record = session.scalars(select(CallRecord)).one()
        assert (record.direction, record.dialled) == ("outbound", "+4930123456")


def test_a_live_campaign_enters_stasis_after_amd_with_the_compiled_flow_behind() -> None:
    live = dataclasses.replace(SURVEY, live=True, amd="hangup")
    lines = context(site(live), campaign_context("acme", "sat"))
    stasis = next(i for i, line in enumerate(lines) if ",Stasis(" in line)
    assert lines[stasis].endswith("Stasis(callflow-acme,campaign-sat) ; live")
    assert next(i for i, line in enumerate(lines) if ",AMD()" in line) < stasis
    assert "Goto(cf-acme-campaign-sat-message,s,1)" in lines[stasis + 1]


def test_the_interpreter_knows_each_campaigns_nodes_and_start() -> None:
    from callflow.runtime.interpreter import Interpreter

    interpreter = Interpreter(site(dataclasses.replace(SURVEY, live=True)))
    assert interpreter.campaigns == {"campaign-sat": "campaign-sat-message"}
    assert {"campaign-sat-q-rate", "campaign-sat-optout", "bye"} <= set(interpreter.nodes)


MISSING_PROMPTS = [
    Case("validate-missing", ["validate", "site.py", "--sounds", "{tmp}/sounds"],
         files={"site.py": GOOD_SITE, "sounds/en/other.wav": b""},
         expect=["site.nodes['main'].prompt", "custom/main", "CF154"], exit_code=1),
    Case("deploy-missing", ["deploy", "site.py", "--asterisk-etc", "{tmp}/etc", "--sounds",
                            "{tmp}/sounds"],
         files={"site.py": GOOD_SITE, "sounds/en/other.wav": b"", "etc/x": ""},
         expect=["custom/main", "CF154", "nothing was deployed"], exit_code=1),
]  # fmt: skip


@pytest.mark.parametrize("case", MISSING_PROMPTS, ids=lambda c: c.id)
def test_validate_and_deploy_report_missing_prompt_files(case, tmp_path) -> None:
    check(case, tmp_path)
    assert not (tmp_path / "etc/callflow").exists()  # deploy wrote nothing
