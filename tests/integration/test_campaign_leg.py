"""A campaign's answered leg on the real Asterisk: calls originated over AMI, as the
dialer does (``Local/<callee>@cf-answer-callees`` into the compiled campaign context,
``CF_ATTEMPT`` as an originate variable, the attempt id as the channel id), to callees
that press digits, greet like a person or play a long answering-machine greeting.

What is checked comes from Asterisk: the CallflowEnd event its hang-up handler sends
(trace, answers, amd, optout), the callee's own user event when its greeting ends, and
the rows the CallRecordWriter wrote from those events. The message and the machine's
greeting are real recordings converted by ``callflow prompts import`` (M4A and MP3)."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callflow import Hangup, Site
from callflow.cli import main
from callflow.contract import CF_ATTEMPT, CF_MANAGER, campaign_context
from callflow.model.campaigns import CallingWindow, Campaign, SurveyQuestion
from callflow.model.schedule import Hours
from callflow.runtime.ami import AmiAddress, AmiConnection
from callflow.simulate import Script, Simulator
from callflow.store import CallRecord
from callflow.store.campaigns import CampaignAttempt, CampaignContact, DncNumber
from callflow.store.surveys import SurveyResponse

from .sites import free_port, load, record_writer
from .test_ask import stored
from .test_live import running

pytestmark = pytest.mark.asterisk

ALWAYS = CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),))
MESSAGE = "custom/cfanswer/consultant"
GREETING = "custom/cfanswer/greeting"
#: seconds of the callee's machine greeting and of the consultant's message
GREETING_SECONDS = 6.0
MESSAGE_SECONDS = 2.0

SITE = Site(
    name="outb",
    entries={"100": "bye"},
    nodes=[Hangup(id="bye")],
    campaigns=[
        Campaign(
            id="sat",
            kind="survey",
            window=ALWAYS,
            caller_id="5550100",
            questions=(
                SurveyQuestion("rate", "beep", answers="12345", timeout=3),
                SurveyQuestion("again", "beep", answers="12", timeout=3),
            ),
            opt_out_digit="9",
        ),
        Campaign(id="pb_human", kind="playback", window=ALWAYS, message=MESSAGE, amd="hangup"),
        Campaign(id="pb_hang", kind="playback", window=ALWAYS, message=MESSAGE, amd="hangup"),
        Campaign(id="pb_msg", kind="playback", window=ALWAYS, message=MESSAGE, amd="message"),
        Campaign(
            id="pb_mgr", kind="playback", window=ALWAYS, message=f"manager:{MESSAGE}", amd="off"
        ),
    ],
)

#: the callees: ``p<digits>`` answers and presses them (``w`` = 0.5 s), ``human`` says
#: hello then is silent, ``machine`` plays a 6 s greeting, says so, then is silent
CALLEES = f"""
[cf-answer-callees]
exten => _p.,1,Answer()
 same => n,Wait(1)
 same => n,SendDTMF(${{EXTEN:1}},250)
 same => n,Wait(8)
 same => n,Hangup()
exten => human,1,Answer()
 same => n,Playback(hello)
 same => n,Playback(silence/10)
 same => n,Hangup()
exten => machine,1,Answer()
 same => n,Playback({GREETING})
 same => n,UserEvent(CfAnswerGreeting,linkedid: ${{CHANNEL(linkedid)}})
 same => n,Playback(silence/10)
 same => n,Hangup()
"""


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def campaign_pbx(sandbox, tmp_path_factory):
    """The site deployed, its recordings imported with `callflow prompts import` (the
    consultant's message as MP3, the machine's greeting as M4A, both cut from a stock
    Asterisk recording of real speech), and the callees' context loaded."""
    stock = sandbox.root / "usr/share/asterisk/sounds/en"
    work = tmp_path_factory.mktemp("recordings")
    speech = next(stock.glob("demo-congrats.*"))
    _ffmpeg("-i", str(speech), "-t", str(MESSAGE_SECONDS), str(work / "consultant.mp3"))
    _ffmpeg("-i", str(speech), "-t", str(GREETING_SECONDS), str(work / "greeting.m4a"))
    runner = CliRunner()
    for source, name in (("consultant.mp3", "consultant"), ("greeting.m4a", "greeting")):
        done = runner.invoke(
            main,
            [
                *("prompts", "import", str(work / source), name, "--site", "cfanswer"),
                *("--sounds", str(sandbox.sounds_dir), "--force"),  # its own, not the root's
            ],
        )
        assert done.exit_code == 0, done.output
        assert f'Prompt("custom/cfanswer/{name}")' in done.output
    assert load(sandbox, SITE) == []
    main_conf = Path(sandbox.etc_dir) / "extensions.conf"
    text = main_conf.read_text()
    if "[cf-answer-callees]" not in text:
        main_conf.write_text(text + CALLEES)
    sandbox.cli("dialplan reload")
    assert "cf-answer-callees" in sandbox.cli("dialplan show cf-answer-callees")
    return sandbox


@pytest.fixture
async def records(tmp_path, campaign_pbx):
    """The record writer `callflow serve` runs, on the sandbox's AMI, over a fresh store."""
    async with record_writer(campaign_pbx, tmp_path / "campaign.db") as (_url, recorder, sessions):
        yield recorder, sessions


def _fields(event) -> dict[str, str]:
    return {k.lower(): str(v) for k, v in event.items()}


@pytest.fixture
async def events(campaign_pbx):
    """User events (CallflowEnd, CfAnswerGreeting) with the monotonic time they came."""
    seen: list[tuple[float, dict[str, str]]] = []
    ami = AmiConnection(
        AmiAddress(campaign_pbx.ami_host, campaign_pbx.ami_port),
        campaign_pbx.ami_user,
        campaign_pbx.ami_secret,
        events="user",
    )
    ami.on("UserEvent", lambda e: seen.append((time.monotonic(), _fields(e))))
    await ami.connect(5)
    try:
        yield seen
    finally:
        ami.close()


def reserve(sessions, campaign: str, number: str) -> str:
    """The attempt row the dialer commits before it dials: its id, with ``number``."""
    attempt = uuid.uuid4().hex
    with sessions.begin() as session:
        contact = CampaignContact(site=SITE.name, campaign=campaign, number=number, source="csv")
        session.add(contact)
        session.flush()
        session.add(
            CampaignAttempt(
                id=attempt,
                contact_id=contact.id,
                site=SITE.name,
                campaign=campaign,
                number=number,
                attempt_no=1,
                live_number=number,
                state="dialling",
            )
        )
    return attempt


async def originate(
    driver,
    campaign: str,
    callee: str,
    attempt: str | None = None,
    site: str = SITE.name,
    **variables: str,
) -> str:
    """Originate as the dialer does; returns the attempt id (= the channel's id)."""
    attempt = attempt or uuid.uuid4().hex
    wanted = {CF_ATTEMPT: attempt, **variables}
    [reply] = await driver.action(
        {
            "Action": "Originate",
            "Channel": f"Local/{callee}@cf-answer-callees",
            "Context": campaign_context(site, campaign),
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": "20000",
            "ChannelId": attempt,
            "OtherChannelId": f"{attempt}-callee",
            "CallerID": "<5550100>",
            "Variable": [f"{k}={v}" for k, v in wanted.items()],
        },
        as_list=False,
    )
    assert reply.success, reply
    return attempt


async def end_of(events, attempt: str, timeout: float = 30.0) -> tuple[float, dict[str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for at, e in events:
            if e.get("userevent") == "CallflowEnd" and e.get("attempt") == attempt:
                return at, e
        await asyncio.sleep(0.1)
    raise AssertionError(f"no CallflowEnd for attempt {attempt} within {timeout}s")


def simulated(campaign: str, **kw):
    return Simulator(SITE).run_campaign(campaign, Script(**kw))


# dtmf the callee presses -> the simulator's inputs, the answers stored
SURVEY = [
    ("4ww1", ["4", "1"], [("rate", "4"), ("again", "1")]),
    ("7ww3ww2", ["7", "3", "2"], [("rate", "3"), ("again", "2")]),  # 7: invalid, asked again
]


@pytest.mark.parametrize(("dtmf", "inputs", "answers"), SURVEY)
async def test_a_human_presses_answers_stored_with_the_campaign(
    campaign_pbx, driver, records, events, dtmf, inputs, answers
):
    rec, sessions = records
    number = "+86138001380" + ("01" if dtmf.startswith("4") else "02")
    attempt = await originate(driver, "sat", f"p{dtmf}", reserve(sessions, "sat", number))
    _, end = await end_of(events, attempt)
    sim = simulated("sat", inputs=inputs, variables={CF_ATTEMPT: attempt})
    assert (
        end["trace"].split()
        == sim.trace
        == [
            "campaign-sat-q-rate",
            "campaign-sat-q-again",
            "campaign-sat-bye",
        ]
    )
    said = (end["campaign"], end["attempt"], end.get("optout", ""), end.get("amd", ""))
    assert said == ("sat", attempt, "", "")
    assert end["answers"].split() == [f"{q}:{a}" for q, a in answers]
    trace, rows = await stored(rec, sessions, attempt)
    assert trace == sim.trace and rows == answers
    with sessions() as session:
        record = session.scalars(select(CallRecord).where(CallRecord.linkedid == attempt)).one()
        assert (record.direction, record.dialled) == ("outbound", number)
        assert session.get(DncNumber, number) is None  # answered, not opted out
        campaigns = session.scalars(
            select(SurveyResponse.campaign).where(SurveyResponse.call_record_id == record.id)
        ).all()
        assert campaigns == ["sat"] * len(answers)


async def test_the_opt_out_digit_ends_politely_and_reports_optout(
    campaign_pbx, driver, records, events
):
    rec, sessions = records
    number = "+8613800138009"
    attempt = await originate(driver, "sat", "p9", reserve(sessions, "sat", number))
    _, end = await end_of(events, attempt)
    sim = simulated("sat", inputs=["9"])
    assert end["trace"].split() == sim.trace == ["campaign-sat-q-rate", "campaign-sat-optout"]
    assert end["optout"] == "1" == sim.variables["CF_OPTOUT"]
    assert end.get("answers", "").strip() == ""
    trace, rows = await stored(rec, sessions, attempt)
    assert trace == sim.trace and rows == []
    with sessions() as session:
        listed = session.get(DncNumber, number)
        assert listed is not None
        assert (listed.source, listed.campaign) == ("optout", "sat")


async def test_amd_human_hears_the_message_from_the_start(campaign_pbx, driver, events):
    attempt = await originate(driver, "pb_human", "human")
    _, end = await end_of(events, attempt)
    sim = simulated("pb_human", amd="HUMAN")
    assert end["amd"] == "HUMAN"
    assert (
        end["trace"].split() == sim.trace == ["campaign-pb_human-message", "campaign-pb_human-bye"]
    )


async def test_amd_machine_is_hung_up_on_before_its_greeting_ends(campaign_pbx, driver, events):
    started = time.monotonic()
    attempt = await originate(driver, "pb_hang", "machine")
    ended, end = await end_of(events, attempt)
    sim = simulated("pb_hang", amd="MACHINE")
    assert end["amd"] == "MACHINE"
    assert end.get("trace", "").split() == sim.trace == []
    assert end["dest"] == sim.dest == "hangup"
    assert ended - started < GREETING_SECONDS  # hung up mid-greeting
    greeting_ends = [e for _, e in events if e.get("userevent") == "CfAnswerGreeting"]
    assert all(e.get("linkedid") != attempt for e in greeting_ends)


async def test_amd_machine_gets_the_message_after_its_greeting(campaign_pbx, driver, events):
    attempt = await originate(driver, "pb_msg", "machine")
    ended, end = await end_of(events, attempt, timeout=40)
    sim = simulated("pb_msg", amd="MACHINE")
    assert end["amd"] == "MACHINE"
    assert end["trace"].split() == sim.trace == ["campaign-pb_msg-machine"]
    [greeting_end] = [
        at
        for at, e in events
        if e.get("userevent") == "CfAnswerGreeting" and e.get("linkedid") == attempt
    ]
    # the message starts after the greeting (and 1.5 s of silence) and plays whole
    assert ended - greeting_end >= 1.5 + MESSAGE_SECONDS - 0.3


async def test_a_managers_own_recording_and_the_fallback(campaign_pbx, driver, events):
    """``manager:<file>`` plays <file>-<manager> when that recording exists, else <file>:
    the PLAYBACKSTATUS the compiled node checks is Asterisk's, seen in the call's log."""
    sounds = campaign_pbx.sounds_dir  # the sandbox's own, where the import put MESSAGE
    own = sounds / f"{MESSAGE}-wang.wav"
    own.write_bytes((sounds / f"{MESSAGE}.wav").read_bytes())
    for manager in ("wang", "nobody"):
        mark = campaign_pbx.log_mark()
        attempt = await originate(driver, "pb_mgr", "human", **{CF_MANAGER: manager})
        _, end = await end_of(events, attempt)
        assert end["manager"] == manager
        assert end["trace"].split() == ["campaign-pb_mgr-message", "campaign-pb_mgr-bye"]
        problems = campaign_pbx.problems_since(mark, settle=0.5)
        if manager == "wang":
            assert problems == []
        else:  # Asterisk says it could not play the own one, then plays the fallback
            assert any(f"{MESSAGE}-nobody" in p for p in problems), problems
            assert not any(f"{MESSAGE} " in p or p.endswith(MESSAGE) for p in problems)


LIVE = dataclasses.replace(
    SITE,
    name="outblive",
    campaigns=[
        dataclasses.replace(c, live=True)
        for c in SITE.campaigns
        if c.id in ("sat", "pb_human", "pb_hang")
    ],
)


@pytest.mark.parametrize(
    ("campaign", "callee", "trace"),
    [
        ("sat", "p4ww1", ["campaign-sat-q-rate", "campaign-sat-q-again", "campaign-sat-bye"]),
        ("sat", "p9", ["campaign-sat-q-rate", "campaign-sat-optout"]),
        ("pb_human", "human", ["campaign-pb_human-message", "campaign-pb_human-bye"]),
        ("pb_hang", "machine", []),  # AMD hangs up in dialplan: never reaches Stasis
    ],
)
async def test_live_campaign_leg_runs_on_the_flow_machine_with_the_compiled_trace(
    campaign_pbx, driver, events, campaign, callee, trace
):
    """The same callee, the same campaign: compiled (site outb) and live (site outblive,
    Stasis after AMD, the flow machine over ARI) leave the same trace, answers, AMD
    verdict and opt-out."""
    assert load(campaign_pbx, LIVE) == []
    context = campaign_context(LIVE.name, campaign)
    assert f"Stasis(callflow-outblive,campaign-{campaign})" in campaign_pbx.cli(
        f"dialplan show {context}"
    )
    async with running(campaign_pbx, LIVE, free_port()) as service:
        live_id = await originate(driver, campaign, callee, site=LIVE.name)
        compiled_id = await originate(driver, campaign, callee)
        (_, live), (_, compiled) = await asyncio.gather(
            end_of(events, live_id), end_of(events, compiled_id)
        )
        reached = service.runtime.started
    fields = ("trace", "answers", "amd", "optout", "dest")
    assert [live.get(f, "").strip() for f in fields] == [
        compiled.get(f, "").strip() for f in fields
    ]
    assert live.get("trace", "").split() == trace
    assert (live["site"], live["campaign"], live["attempt"]) == ("outblive", campaign, live_id)
    assert reached == (0 if callee == "machine" else 1)
