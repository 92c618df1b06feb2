"""Recording policies: validated where they are, compiled into one subroutine and one line
where recording starts, file names from the call's ids only, linked on the call record,
listed with missing files flagged (docs/recording.md). The real calls are in
tests/integration/test_recording.py."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from callflow import Dial, Hangup, Queue, Recording, Site, Staff
from callflow.compiler import compile_site
from callflow.contract import RECORDING_ID_CHARS, RECORDING_NAME, asterisk_filter
from callflow.errors import Severity
from callflow.model.campaigns import CallingWindow, Campaign
from callflow.model.schedule import Hours
from callflow.runtime.records import CallRecorder, recording_files
from callflow.store import CallRecord, make_engine, make_sessionmaker, upgrade
from callflow.store.recordings import RecordingsError, list_recordings, prune
from callflow.validate import validate

BASE = Site(
    name="acme",
    entries={"100": "sales", "101": "desk"},
    timezone="Europe/Berlin",
    staff=[Staff("ann", name="Ann", device="PJSIP/ann", groups=("sales",))],
    nodes=[
        Queue(id="sales", members=["sales"], max_wait=60, overflow="bye", manager_first=None),
        Dial(id="desk", target="ann", no_answer="bye"),
        Hangup(id="bye"),
    ],
)


def site(**changes) -> Site:
    return dataclasses.replace(BASE, **changes)


def with_queue(**changes) -> Site:
    queue = dataclasses.replace(BASE.node_map["sales"], **changes)
    return site(nodes=[queue, *[n for n in BASE.nodes if n.id != "sales"]])


def codes(s: Site) -> dict[str, str]:
    return {
        d.path: d.code
        for d in validate(s)
        if d.code.startswith("CF17") or d.code in ("CF114", "CF132")
    }


def extensions(s: Site) -> str:
    return compile_site(s).files["extensions.conf"]


# ---- validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("policy", "path", "code"),
    [
        (Recording(directory="../etc"), "site.recording.directory", "CF170"),
        (Recording(directory="/var/x"), "site.recording.directory", "CF170"),
        (Recording(directory="a b"), "site.recording.directory", "CF170"),
        (Recording(announcement="../../secret"), "site.recording.announcement[0]", "CF114"),
        (Recording(announcement="notice.wav"), "site.recording.announcement[0]", "CF114"),
        (Recording(mode="off", announcement="notice"), "site.recording.announcement", "CF171"),
        (Recording(format="mp3"), "site.recording.format", "CF132"),  # type: ignore[arg-type]
        (Recording(mode="always"), "site.recording.mode", "CF132"),  # type: ignore[arg-type]
    ],
)
def test_site_policy_mistakes_are_reported_where_they_are(policy, path, code) -> None:
    assert codes(site(recording=policy)) == {path: code}


def test_entry_recording_on_live_entries_is_refused_with_the_way_out() -> None:
    found = [d for d in validate(site(recording=Recording(mode="entry"), live_entries=("100",)))
             if d.code == "CF172"]  # fmt: skip
    assert len(found) == 1 and "mode='agent'" in found[0].message and "100" in found[0].message
    assert codes(site(recording=Recording(mode="agent"), live=True)) == {}


def test_queue_and_campaign_policies_are_checked_and_a_moot_one_warned() -> None:
    assert codes(with_queue(recording=Recording(directory=".."))) == {
        "site.nodes['sales'].recording.directory": "CF170"
    }
    moot = with_queue(recording=Recording())
    moot = dataclasses.replace(moot, recording=Recording(mode="entry"))
    [warning] = [d for d in validate(moot) if d.code == "CF173"]
    assert warning.severity is Severity.WARNING and warning.path == "site.nodes['sales'].recording"
    campaign = Campaign(
        id="recall", kind="playback", message="custom/recall",
        window=CallingWindow(hours=(Hours("mon-fri", "09:00", "18:00"),)),
        recording=Recording(announcement="../x"),
    )  # fmt: skip
    assert codes(site(campaigns=[campaign])) == {
        "site.campaigns['recall'].recording.announcement[0]": "CF114"
    }


# ---- compiling ----------------------------------------------------------------------------
def test_a_site_that_never_records_compiles_as_before() -> None:
    text = extensions(BASE)
    for absent in ("MixMonitor", "cf-acme-record", "CF_RECORDING", "SHARED"):
        assert absent not in text


def test_agent_mode_records_from_the_queue_and_dial_answer_after_the_notice() -> None:
    text = extensions(site(recording=Recording(announcement="custom/notice", legs="split")))
    queue = text.split("[cf-acme-sales]")[1].split("\n\n")[0]
    # the notice to the caller, then Queue() with the gosub on the agent's channel; the
    # commas of its arguments escaped so Queue()'s own split leaves them to app_queue
    assert queue.index("Playback(custom/notice)") < queue.index("Queue(")
    assert (
        "Queue(acme-sales,,,,60,,cf-acme-record\\,callflow/acme\\,wav\\,split\\,agent\\,${CHANNEL})"
        in queue
    )
    dial = text.split("[cf-acme-desk]")[1].split("\n\n")[0]
    assert "U(cf-acme-record^callflow/acme^wav^split^agent^${CHANNEL})" in dial
    assert "[cf-acme-record]" in text
    assert "Set(CF_RECORDING=${SHARED(CF_RECORDING)})" in text  # the hang-up handler
    assert "recording: ${FILTER(- 0-9A-Za-z_./,${CF_RECORDING})}" in text


def test_the_file_name_is_built_from_ids_date_and_site_only() -> None:
    text = extensions(site(recording=Recording()))
    record = text.split("[cf-acme-record]")[1].split("\n\n")[0]
    stem = next(line for line in record.splitlines() if "LOCAL(stem)=" in line)
    value = stem.split(" ; ")[0].split("Set(LOCAL(stem)=", 1)[1].removesuffix(")")
    assert value == (
        "${ARG1}/${at:0:8}/acme-${at}-${FILTER(-0-9A-Za-z._,${CHANNEL(linkedid)})}"
        "-${FILTER(-0-9A-Za-z._,${UNIQUEID})}"
    )
    for untrusted in ("CALLERID", "CF_CUSTOMER", "CF_READ", "CF_ANSWERS", "EXTEN"):
        assert untrusted not in record
    assert "STRFTIME(${EPOCH},Europe/Berlin,%Y%m%d-%H%M%S)" in record
    # FILTER() keeps only id characters, as Asterisk applies it
    assert asterisk_filter(RECORDING_ID_CHARS, "../../x'\"$(id) 17.3-a") == "....xid17.3-a"


def test_entry_mode_starts_at_every_entry_and_queues_start_nothing_more() -> None:
    s = with_queue(recording=Recording(legs="split"))
    s = dataclasses.replace(s, recording=Recording(mode="entry", announcement="notice"))
    text = extensions(s)
    entry = text.split("[cf-acme-entry]")[1].split("\n\n")[0]
    assert "Gosub(cf-acme-record,s,1(callflow/acme,wav,mixed,caller,))" in entry
    assert entry.index("Playback(notice)") < entry.index("Gosub(cf-acme-record")
    assert entry.index("hangup_handler_push") < entry.index("Gosub(cf-acme-record")
    assert "cf-acme-record" not in text.split("[cf-acme-sales]")[1].split("\n\n")[0]


def test_a_queue_of_its_own_records_from_entry_or_not_at_all() -> None:
    text = extensions(with_queue(recording=Recording(mode="entry", format="wav49")))
    queue = text.split("[cf-acme-sales]")[1].split("\n\n")[0]
    assert "Gosub(cf-acme-record,s,1(callflow/acme,WAV,mixed,caller,))" in queue
    assert "Queue(acme-sales,,,,60)" in queue
    off = extensions(
        dataclasses.replace(with_queue(recording=Recording.off()), recording=Recording())
    )
    assert "Queue(acme-sales,,,,60)" in off  # the site records, this queue does not
    assert "U(cf-acme-record^" in off  # the dial does


def test_a_campaign_records_from_the_answer_after_amd() -> None:
    campaign = Campaign(
        id="recall", kind="playback", message="custom/recall", amd="hangup",
        window=CallingWindow(hours=(Hours("mon-fri", "09:00", "18:00"),)),
        recording=Recording(directory="outbound"),
    )  # fmt: skip
    text = extensions(site(campaigns=[campaign]))
    leg = text.split("[cf-acme-campaign-recall]")[1].split("\n\n")[0]
    assert "Gosub(cf-acme-record,s,1(outbound/acme,wav,mixed,caller,))" in leg
    assert leg.index("AMD(") < leg.index("Gosub(cf-acme-record")


def test_the_name_pattern_matches_what_the_dialplan_writes() -> None:
    for name in (
        "acme-20261202-093427-1764639267.17-1764639267.19.wav",
        "acme-20261202-093427-cf1a0001-caller-1764.2-agent.WAV",
        "star_motors-20261202-093427-17.1-17.2-caller.gsm",
    ):
        assert RECORDING_NAME.fullmatch(name), name
    for name in ("acme.wav", "acme-2026-093427-1.1.wav", "acme-20261202-093427-1.1.mp3",
                 "acme-20261202-093427-../x.wav", "Acme-20261202-093427-1.1.wav"):  # fmt: skip
        assert not RECORDING_NAME.fullmatch(name), name


# ---- the call record and the files ------------------------------------------------------------
def test_recording_files_keeps_whole_names_that_fit_the_column() -> None:
    assert recording_files("") is None
    assert recording_files("  a.wav  b.wav ") == "a.wav b.wav"
    long = "x" * 200 + ".wav"
    assert recording_files(f"{long} {long}") == long


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'cf.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


async def test_the_writer_links_the_end_events_recording(store) -> None:
    recorder = CallRecorder(store)
    recorder.on_event(
        {"Event": "UserEvent", "UserEvent": "CallflowEnd", "Linkedid": "L1", "Uniqueid": "L1",
         "site": "acme", "recording": " callflow/acme/20261202/a-agent.wav "
         "callflow/acme/20261202/a-caller.wav"}
    )  # fmt: skip
    recorder.on_event(
        {"Event": "UserEvent", "UserEvent": "CallflowEnd", "Linkedid": "L2", "Uniqueid": "L2",
         "site": "acme"}
    )  # fmt: skip
    await asyncio.sleep(0)
    await recorder.flush()
    recorder.close()
    with store() as session:
        rows = {r.linkedid: r.recording_file for r in session.scalars(select(CallRecord))}
    assert rows == {
        "L1": "callflow/acme/20261202/a-agent.wav callflow/acme/20261202/a-caller.wav",
        "L2": None,
    }


def test_list_flags_missing_and_unlinked_files(store, tmp_path: Path) -> None:
    monitor = tmp_path / "monitor"
    day = monitor / "callflow/acme/20261202"
    day.mkdir(parents=True)
    here = "callflow/acme/20261202/acme-20261202-093427-1.1-1.1.wav"
    gone = "callflow/acme/20261202/acme-20261202-093500-2.1-2.1.wav"
    stray = "callflow/acme/20261202/acme-20261202-093600-3.1-3.1.wav"
    (monitor / here).write_bytes(b"RIFF1234")
    (monitor / stray).write_bytes(b"RIFF")
    (day / "notes.txt").write_text("not a recording")
    with store.begin() as session:
        for linkedid, file in (("1.1", here), ("2.1", gone), ("4.1", "../../etc/passwd")):
            session.add(CallRecord(uniqueid=linkedid, linkedid=linkedid, site="acme",
                                   direction="inbound", recording_file=file))  # fmt: skip
    with store() as session:
        found = {e.file: (e.linkedid, e.exists, e.size) for e in list_recordings(session, monitor)}
    assert found == {
        here: ("1.1", True, 8),
        gone: ("2.1", False, None),
        "../../etc/passwd": ("4.1", False, None),  # outside the directory: never looked at
        stray: (None, True, 4),
    }


def test_prune_unlinks_deleted_files_from_their_records(store, tmp_path: Path) -> None:
    monitor = tmp_path / "monitor"
    old = "callflow/acme/20261202/acme-20261202-093427-1.1-1.2-agent.wav"
    old2 = old.replace("-agent", "-caller")
    new = "callflow/acme/20261202/acme-20261202-093427-5.1-5.2.wav"
    for name in (old, old2, new):
        (monitor / name).parent.mkdir(parents=True, exist_ok=True)
        (monitor / name).write_bytes(b"RIFF")
    then = time.time() - 10 * 86400
    for name in (old, old2):
        os.utime(monitor / name, (then, then))
    with store.begin() as session:
        session.add(CallRecord(uniqueid="1.1", linkedid="1.1", site="acme", direction="inbound",
                               recording_file=f"{old} {old2}"))  # fmt: skip
        session.add(CallRecord(uniqueid="5.1", linkedid="5.1", site="acme", direction="inbound",
                               recording_file=new))  # fmt: skip
    with store.begin() as session:
        would = prune(session, monitor, 7, dry_run=True)
    assert sorted(p.name for p in would) == sorted(Path(n).name for n in (old, old2))
    assert (monitor / old).exists()
    with store.begin() as session:
        assert len(prune(session, monitor, 7)) == 2
    with store() as session:
        rows = {r.linkedid: r.recording_file for r in session.scalars(select(CallRecord))}
    assert rows == {"1.1": None, "5.1": new}
    assert (monitor / new).exists() and not (monitor / old).exists()
    with store.begin() as session, pytest.raises(RecordingsError, match="older-than -1"):
        prune(session, monitor, -1)


def test_announcements_are_prompts_the_sound_checks_and_placeholders_see(tmp_path: Path) -> None:
    from callflow.analysis import missing_sounds
    from callflow.testing.driver import prompt_files

    s = with_queue(recording=Recording(announcement="custom/queue-notice"))
    s = dataclasses.replace(s, recording=Recording(announcement="custom/site-notice"))
    assert {"custom/queue-notice", "custom/site-notice"} <= prompt_files(s)
    missing = {d.path: d.code for d in missing_sounds(s, tmp_path)}
    assert missing["site.recording.announcement"] == "CF154"
    assert missing["site.nodes['sales'].recording.announcement"] == "CF154"
    off = dataclasses.replace(s, recording=Recording(mode="off", announcement="custom/x"))
    assert "custom/x" not in prompt_files(off)  # never played: not needed
