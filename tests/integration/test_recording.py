"""Call recording on the real Asterisk: a caller and a queue agent that each send their
own tone (the caller 440 Hz, the agent 1400 Hz, ``Playtones()`` on Local channels), a
site that records from the agent's answer, mixed or one file per party.

What is checked comes from the files MixMonitor wrote and the record the call-record
writer made from Asterisk's events: the files exist where the record says, each party's
tone is measured in them (Goertzel on the WAV samples read with ``wave``, not the file
size), their names hold nothing of the caller's (hostile) caller id, and
``callflow recordings prune`` deletes only callflow's own old files.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callflow import Dial, Hangup, Queue, Recording, Site, Staff
from callflow.cli import main
from callflow.contract import RECORDING_NAME, app_name, campaign_context, entry_context
from callflow.model.campaigns import CallingWindow, Campaign
from callflow.model.schedule import Hours
from callflow.runtime.ari import AriSettings
from callflow.runtime.server import LiveService
from callflow.store import CallRecord
from callflow.testing.driver import ami_value

from .sites import free_port, load, record_writer

pytestmark = pytest.mark.asterisk

CALLER_HZ, AGENT_HZ = 440, 1400
#: a caller id no file name may contain any part of
HOSTILE_CID = "../../etc/x'\"$(touch pwned)"

SITE = Site(
    name="rec",
    entries={"100": "split", "101": "mixed", "102": "desk", "103": "vip"},
    timezone="Asia/Shanghai",
    staff=[
        Staff("ann", name="Ann", device="Local/ann@cf-rec-agent/n", groups=("sales",)),
    ],
    # the site records from the agent's answer, one file per party, after a notice
    recording=Recording(announcement="beep", legs="split"),
    nodes=[
        Queue(id="split", members=["sales"], max_wait=20, overflow="bye"),
        Queue(
            id="mixed",
            members=["sales"],
            max_wait=20,
            overflow="bye",
            recording=Recording(legs="mixed", directory="calls/mixed"),
        ),
        Dial(id="desk", target="ann", ring=10, no_answer="bye"),
        # the caller's account manager (CF_MANAGER, as a lookup sets it) rung first
        Queue(id="vip", members=["sales"], max_wait=20, overflow="bye", manager_first=5),
        Hangup(id="bye"),
    ],
    # a follow-up call: recorded from the callee's answer, the agent rung after it
    campaigns=[
        Campaign(
            id="callback",
            kind="followup",
            connect_to="sales",
            window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),)),
        ),
        # to a queue that records on its own: the call is recorded once, from the answer
        Campaign(
            id="toqueue",
            kind="followup",
            connect_to="mixed",
            window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),)),
        ),
    ],
)
#: the whole call recorded from the entry, mixed, after the notice
ENTRY_SITE = Site(
    name="recentry",
    entries={"100": "sales"},
    staff=[Staff("bob", name="Bob", device="Local/bob@cf-rec-slow/n", groups=("sales",))],
    recording=Recording(mode="entry", announcement="beep"),
    nodes=[Queue(id="sales", members=["sales"], max_wait=20, overflow="bye"), Hangup(id="bye")],
)
#: every entry live (ARI): the queue still runs compiled, and records from the answer
LIVE_SITE = Site(
    name="reclive",
    entries={"100": "sales"},
    live=True,
    staff=SITE.staff,
    recording=Recording(),
    nodes=[Queue(id="sales", members=["sales"], max_wait=20, overflow="bye"), Hangup(id="bye")],
)

#: a caller whose line carries a 440 Hz tone, and an agent whose line carries 1400 Hz
CONTEXTS = f"""
[cf-rec-caller]
exten => s,1,Answer()
 same => n,Playtones({CALLER_HZ})
 same => n,Wait(${{CF_REC_HOLD}})
 same => n,Hangup()

[cf-rec-agent]
exten => _[a-z].,1,Answer()
 same => n,Playtones({AGENT_HZ})
 same => n,Wait(30)
 same => n,Hangup()

; an agent who lets it ring 3 s first
[cf-rec-slow]
exten => _[a-z].,1,Ringing()
 same => n,Wait(3)
 same => n,Goto(cf-rec-agent,${{EXTEN}},1)
"""


@pytest.fixture(scope="module")
def rec_pbx(sandbox):
    # the agent's context first: app_queue takes a member whose Local extension does
    # not exist yet for an invalid device and never rings it
    conf = Path(sandbox.etc_dir) / "extensions.conf"
    text = conf.read_text()
    if "[cf-rec-caller]" not in text:
        conf.write_text(text + CONTEXTS)
    sandbox.cli("dialplan reload")
    assert "cf-rec-agent" in sandbox.cli("dialplan show cf-rec-agent")
    for site in (SITE, ENTRY_SITE, LIVE_SITE):
        assert load(sandbox, site) == []
    return sandbox


@pytest.fixture
def monitor(rec_pbx) -> Path:
    return Path(rec_pbx.workdir) / "spool" / "monitor"


@pytest.fixture
async def records(tmp_path, rec_pbx):
    async with record_writer(rec_pbx, tmp_path / "records.db") as (url, recorder, sessions):
        yield url, recorder, sessions


async def call(driver, exten: str, hold: float = 7, site: Site = SITE, manager: str = "") -> str:
    """A call from the hostile caller id into entry ``exten``; returns its linkedid."""
    linkedid = f"rec{uuid.uuid4().hex[:10]}"
    variables = {
        **({"__CF_MANAGER": manager} if manager else {}),
        "__CF_TEST_CONTEXT": entry_context(site.name),
        "__CF_TEST_EXTEN": exten,
        "__CF_TEST_CID": ami_value("caller id", HOSTILE_CID),
        "__CF_TEST_CNAME": ami_value("caller name", HOSTILE_CID),
        "CF_REC_HOLD": f"{hold:g}",
    }
    [reply] = await driver.action(
        {
            "Action": "Originate",
            "Channel": "Local/s@cf-test-dial",
            "Context": "cf-rec-caller",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": "20000",
            "ChannelId": linkedid,
            "OtherChannelId": f"{linkedid}-site",
            "Variable": [f"{k}={v}" for k, v in variables.items()],
        },
        as_list=False,
    )
    assert reply.success, reply
    return linkedid


async def record_of(recorder, sessions, linkedid: str, timeout: float = 30.0) -> CallRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await recorder.flush()
        with sessions() as session:
            row = session.scalars(select(CallRecord).where(CallRecord.linkedid == linkedid)).first()
            if row is not None and row.ended_at is not None:
                session.expunge(row)
                return row
        await asyncio.sleep(0.2)
    raise AssertionError(f"no finished call record for {linkedid} within {timeout}s")


def samples(path: Path) -> tuple[list[int], int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getsampwidth(), w.getnchannels()) == (2, 1), path
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    values = [int.from_bytes(raw[i : i + 2], "little", signed=True) for i in range(0, len(raw), 2)]
    return values, rate


def rms(values: list[int]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else 0.0


def tone_level(values: list[int], rate: int, hz: float) -> float:
    """The amplitude of ``hz`` in ``values`` (Goertzel), in sample units."""
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for v in values:
        s1, s2 = v + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / len(values)


def measure(path: Path) -> dict[str, float]:
    values, rate = samples(path)
    return {
        "seconds": len(values) / rate,
        "rms": rms(values),
        "caller": tone_level(values, rate, CALLER_HZ),
        "agent": tone_level(values, rate, AGENT_HZ),
    }


def check_names(files: list[str], folder: str, linkedid: str, site: str = "rec") -> None:
    for name in files:
        assert name.startswith(f"{folder}/{site}/"), name
        found = RECORDING_NAME.fullmatch(Path(name).name)
        assert found and found["ids"].startswith(f"{linkedid}-"), name
        for part in ("..", "etc", "'", '"', "$", "(", "touch", "pwned", "x'"):
            assert part not in Path(name).name, (part, name)


async def test_split_recording_holds_each_party_in_its_own_file(rec_pbx, driver, records, monitor):
    _, recorder, sessions = records
    linkedid = await call(driver, "100")
    record = await record_of(recorder, sessions, linkedid)
    assert record.agent is not None and record.answered_at is not None
    assert record.recording_file is not None
    files = record.recording_file.split()
    assert len(files) == 2, files
    check_names(files, "callflow", linkedid)
    by_leg = {RECORDING_NAME.fullmatch(Path(f).name)["leg"]: monitor / f for f in files}
    assert set(by_leg) == {"caller", "agent"}
    await asyncio.sleep(0.5)  # MixMonitor closes its files on its own thread
    caller, agent = measure(by_leg["caller"]), measure(by_leg["agent"])
    print(f"split caller file {caller}, agent file {agent}")
    assert caller["seconds"] > 2 and agent["seconds"] > 2
    # each file is its party: the caller's tone dominates the caller's file, and so on
    assert caller["caller"] > 1000 and caller["agent"] < caller["caller"] / 10
    assert agent["agent"] > 1000 and agent["caller"] < agent["agent"] / 10


async def test_mixed_recording_holds_both_parties_in_one_file(rec_pbx, driver, records, monitor):
    _, recorder, sessions = records
    linkedid = await call(driver, "101")
    record = await record_of(recorder, sessions, linkedid)
    assert record.agent is not None
    files = (record.recording_file or "").split()
    assert len(files) == 1, files
    check_names(files, "calls/mixed", linkedid)
    await asyncio.sleep(0.5)
    got = measure(monitor / files[0])
    print(f"mixed file {got}")
    assert got["seconds"] > 2
    assert got["caller"] > 1000 and got["agent"] > 1000  # both parties are in it
    # the measure can tell a tone from its absence: 1000 Hz is in neither line
    values, rate = samples(monitor / files[0])
    assert tone_level(values, rate, 1000) < got["caller"] / 10


async def test_a_dialled_colleague_is_recorded_from_the_answer(rec_pbx, driver, records, monitor):
    _, recorder, sessions = records
    linkedid = await call(driver, "102", hold=6)
    record = await record_of(recorder, sessions, linkedid)
    files = (record.recording_file or "").split()
    assert len(files) == 2, (files, record.destination)
    check_names(files, "callflow", linkedid)
    await asyncio.sleep(0.5)
    levels = {f: measure(monitor / f) for f in files}
    print(f"dial files {levels}")
    assert all(v["rms"] > 500 for v in levels.values())


async def test_the_account_manager_rung_first_is_recorded_from_the_answer(
    rec_pbx, driver, records, monitor
):
    _, recorder, sessions = records
    linkedid = await call(driver, "103", hold=6, manager="ann")
    record = await record_of(recorder, sessions, linkedid)
    assert record.path == "manager" and record.queue is None
    files = (record.recording_file or "").split()
    assert len(files) == 2, files
    check_names(files, "callflow", linkedid)
    await asyncio.sleep(0.5)
    by_leg = {RECORDING_NAME.fullmatch(Path(f).name)["leg"]: measure(monitor / f) for f in files}
    assert by_leg["caller"]["caller"] > 1000 and by_leg["agent"]["agent"] > 1000


async def test_entry_mode_records_the_whole_call_from_the_entry(rec_pbx, driver, records, monitor):
    _, recorder, sessions = records
    linkedid = await call(driver, "100", site=ENTRY_SITE, hold=8)
    record = await record_of(recorder, sessions, linkedid)
    files = (record.recording_file or "").split()
    assert len(files) == 1, files
    check_names(files, "callflow", linkedid, "recentry")
    await asyncio.sleep(0.5)
    got = measure(monitor / files[0])
    print(f"entry file {got}")
    assert got["caller"] > 1000 and got["agent"] > 1000
    # from the entry: the 3 s the agent's phone rang are in it too (from the agent's
    # answer, the file would be as long as the talk)
    talk = (record.ended_at - record.answered_at).total_seconds()
    assert got["seconds"] > talk + 2.5, (got["seconds"], talk)
    values, rate = samples(monitor / files[0])
    ringing, talking = values[: rate * 2], values[-rate * 2 :]
    assert tone_level(ringing, rate, AGENT_HZ) < 100 < 1000 < tone_level(talking, rate, AGENT_HZ)


@pytest.mark.parametrize("campaign", ["callback", "toqueue"])
async def test_a_campaign_call_is_recorded_from_the_callees_answer(
    rec_pbx, driver, records, monitor, campaign
):
    _, recorder, sessions = records
    attempt = f"rec{uuid.uuid4().hex[:10]}"
    [reply] = await driver.action(
        {
            "Action": "Originate",
            "Channel": "Local/s@cf-rec-caller",  # the callee: answers, sends 440 Hz
            "Context": campaign_context(SITE.name, campaign),
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": "20000",
            "ChannelId": attempt,
            "OtherChannelId": f"{attempt}-callee",
            "Variable": ["CF_ATTEMPT=" + attempt.replace("-", "_"), "__CF_REC_HOLD=6"],
        },
        as_list=False,
    )
    assert reply.success, reply
    record = await record_of(recorder, sessions, attempt)
    assert record.direction == "outbound"
    files = (record.recording_file or "").split()
    assert len(files) == 2, files  # split, the site's policy; once, not again at the agent
    check_names(files, "callflow", attempt)
    await asyncio.sleep(0.5)
    by_leg = {RECORDING_NAME.fullmatch(Path(f).name)["leg"]: measure(monitor / f) for f in files}
    print(f"campaign files {by_leg}")
    assert by_leg["caller"]["caller"] > 1000  # the callee
    assert by_leg["agent"]["agent"] > 1000  # the agent the follow-up connected


async def test_a_live_entry_is_recorded_from_the_agents_answer(rec_pbx, driver, records, monitor):
    _, recorder, sessions = records
    settings = AriSettings(
        rec_pbx.ari_url, rec_pbx.ari_user, rec_pbx.ari_password, app_name(LIVE_SITE.name)
    )
    service = LiveService(LIVE_SITE, settings, agi_port=free_port())
    await service.start()
    try:
        await asyncio.wait_for(service.ari.registered.wait(), 5)
        linkedid = await call(driver, "100", site=LIVE_SITE)
        record = await record_of(recorder, sessions, linkedid)
    finally:
        await service.stop()
    assert record.node_trace.split() == ["sales"]
    files = (record.recording_file or "").split()
    assert len(files) == 1, files
    check_names(files, "callflow", linkedid, "reclive")
    await asyncio.sleep(0.5)
    got = measure(monitor / files[0])
    assert got["caller"] > 1000 and got["agent"] > 1000


async def test_prune_deletes_only_callflows_own_old_files(rec_pbx, driver, records, monitor):
    url, recorder, sessions = records
    old_call = await call(driver, "101", hold=4)
    old = (await record_of(recorder, sessions, old_call)).recording_file
    new_call = await call(driver, "101", hold=4)  # one agent: one call after the other
    new = (await record_of(recorder, sessions, new_call)).recording_file
    assert old and new
    old_file, new_file = monitor / old, monitor / new
    await asyncio.sleep(0.5)
    assert old_file.is_file() and new_file.is_file()
    forty_days = time.time() - 40 * 86400
    os.utime(old_file, (forty_days, forty_days))
    unrelated = [
        old_file.parent / "notes.txt",
        old_file.parent / "rec-old.wav",  # a .wav, but not a name callflow gives
        monitor / "someone-elses.wav",
    ]
    for path in unrelated:
        path.write_bytes(b"not callflow's")
        os.utime(path, (forty_days, forty_days))
    runner = CliRunner()
    args = ["recordings", "prune", "--older-than", "30", "--dir", str(monitor), "--db", url]
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert old_file.name in dry.output and old_file.is_file()
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    assert not old_file.exists()
    assert new_file.is_file()
    assert all(p.is_file() for p in unrelated)
    with sessions() as session:
        rows = {
            r.linkedid: r.recording_file
            for r in session.scalars(
                select(CallRecord).where(CallRecord.linkedid.in_([old_call, new_call]))
            )
        }
    assert rows == {old_call: None, new_call: new}
    listed = runner.invoke(main, ["recordings", "list", "--dir", str(monitor), "--db", url])
    assert listed.exit_code == 0, listed.output
    assert new_file.name in listed.output and old_file.name not in listed.output
