"""The dialer on the real Asterisk 22: a 200-contact survey campaign over Local channels
into a test context whose callees answer and press a digit, are busy, never answer, are
machines with a long greeting, opt out, reject, or are congested. What each callee did
and how often it was called is counted from Asterisk's side (AMI events the callee's
own dialplan sends), never from the dialer's rows; then the rows must agree with it.

The kill -9 test runs the dialer as `callflow campaign run` in a subprocess, kills it at
seeded random moments (the seed is printed; set CF_DIALER_SEED to replay), restarts it,
and restarts Asterisk once mid-campaign: every number must be called at most as often
as the rules allow, every contact finished, none lost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callflow.cli.dialer import run_campaign
from callflow.deploy import CliControl, deploy
from callflow.dialer.control import set_status
from callflow.loader import load_site
from callflow.runtime.ami import AmiAddress, AmiConnection
from callflow.runtime.ari import AriSettings
from callflow.store import CallRecord, make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact, DncNumber
from callflow.store.surveys import SurveyResponse

pytestmark = pytest.mark.asterisk

SITE_SOURCE = """
import dataclasses

from callflow import Hangup, Site
from callflow.model.campaigns import CallingWindow, Campaign, SurveyQuestion
from callflow.model.schedule import Hours

survey = Campaign(
    id="survey",
    kind="survey",
    questions=(SurveyQuestion("rate", prompt="beep", answers="12345", timeout=6),),
    caller_id="+442079460999",
    window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),)),
    endpoint="Local/{number}@cf-test-callees",
    ring_seconds=15,
    amd="hangup",
    max_attempts=MAX_ATTEMPTS,
    retry_after_minutes=1,
    concurrency=CONCURRENCY,
    opt_out_digit="9",
    goodbye="beep",
    opt_out_message="beep",
)
# the same list dialled again later (the re-run of the survey test)
again = dataclasses.replace(survey, id="again")
site = Site(
    name="dialt",
    entries={"100": "bye"},
    nodes=(Hangup(id="bye"),),
    campaigns=(survey, again),
    timezone="Europe/London",
)
"""

#: the callee's behaviour by the last digit of its number; each sends CalleeDid first
CALLEES = r"""
[cf-test-callees]
exten => probe,1,UserEvent(CfProbe)
 same => n,Hangup()
exten => _+X.,1,Set(CALLEE=${FILTER(0-9+,${EXTEN})})
 same => n,Goto(k${EXTEN:-1},1)
; a person: "hello", then presses the answer (its number's second-last digit, 1-5) about
; 6.5 s after answering: after AMD() has decided (at most 5 s; a DTMF sent while it
; listens is lost) and inside the question's 6 s Read() however early AMD decided
exten => _k[0123],1,Set(DIGIT=$[${CALLEE:-2:1} % 5 + 1])
 same => n,UserEvent(CalleeDid,number: ${CALLEE},did: human,digit: ${DIGIT})
 same => n,Answer()
 same => n,Playback(hello)
 same => n,Wait(5.9)
 same => n,SendDTMF(${DIGIT},200)
 same => n,Wait(8)
 same => n,Hangup()
exten => k4,1,UserEvent(CalleeDid,number: ${CALLEE},did: busy)
 same => n,Busy(5)
exten => k5,1,UserEvent(CalleeDid,number: ${CALLEE},did: no_answer)
 same => n,Wait(40)
 same => n,Hangup()
exten => k6,1,UserEvent(CalleeDid,number: ${CALLEE},did: machine)
 same => n,Answer()
 same => n,Playback(vm-intro)
 same => n,Wait(5)
 same => n,Hangup()
exten => k7,1,UserEvent(CalleeDid,number: ${CALLEE},did: optout)
 same => n,Answer()
 same => n,Playback(hello)
 same => n,Wait(5.9)
 same => n,SendDTMF(9,200)
 same => n,Wait(8)
 same => n,Hangup()
exten => k8,1,UserEvent(CalleeDid,number: ${CALLEE},did: rejected)
 same => n,Hangup(21)
exten => k9,1,UserEvent(CalleeDid,number: ${CALLEE},did: congestion)
 same => n,Congestion(5)
"""

#: what the callee did -> the disposition the dialer must record
EXPECTED = {
    "human": "human",
    "busy": "busy",
    "no_answer": "no_answer",
    "machine": "machine_hangup",
    "optout": "optout",
    "rejected": "rejected",
    "congestion": "congestion",
}


def numbers(count: int) -> list[str]:
    """UK drama numbers (Ofcom's 020 7946 0xxx range): valid, never a real person."""
    return [f"+44207946{i:04d}" for i in range(count)]


def write_site(tmp_path: Path, *, max_attempts: int = 1, concurrency: int = 60) -> Path:
    path = tmp_path / "dialt.py"
    path.write_text(
        SITE_SOURCE.replace("MAX_ATTEMPTS", str(max_attempts)).replace(
            "CONCURRENCY", str(concurrency)
        )
    )
    return path


def install(sandbox: Any, site_file: Path) -> Any:
    site = load_site(str(site_file))
    deploy(site, sandbox.etc_dir, asterisk=CliControl(sandbox.asterisk_command()))
    (sandbox.etc_dir / "cf-test-callees.conf").write_text(CALLEES)
    ext = sandbox.etc_dir / "extensions.conf"
    text = ext.read_text()
    if '#include "cf-test-callees.conf"' not in text:
        ext.write_text(text + '\n#include "cf-test-callees.conf"\n')
    sandbox.cli("dialplan reload")
    assert "k9" in sandbox.cli("dialplan show cf-test-callees")
    assert "AMD" in sandbox.cli("dialplan show cf-dialt-campaign-survey")
    return site


def store_with(tmp_path: Path, count: int) -> tuple[str, Any, list[str]]:
    url = f"sqlite:///{tmp_path / 'dialer.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    wanted = numbers(count)
    with sessions.begin() as session:
        session.add_all(
            CampaignContact(site="dialt", campaign="survey", number=n, source="csv") for n in wanted
        )
    return url, sessions, wanted


class AsteriskSide:
    """What Asterisk says happened: every CalleeDid (the callee's own dialplan ran) and
    every CallflowEnd (the campaign context's hang-up handler), over AMI."""

    def __init__(self, sandbox: Any) -> None:
        self.did: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
        self.ends: dict[str, dict[str, str]] = {}
        self.probed = False
        self.ami = AmiConnection(
            AmiAddress(sandbox.ami_host, sandbox.ami_port),
            sandbox.ami_user,
            sandbox.ami_secret,
            events="user",
        )
        self.ami.on("UserEvent", self._event)

    async def ready(self, sandbox: Any) -> None:
        """Until AMI delivers events again (after an Asterisk restart): a probe call's
        event comes back."""
        for _ in range(60):
            self.probed = False
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    sandbox.cli, "channel originate Local/probe@cf-test-callees application NoOp"
                )
            await asyncio.sleep(0.5)
            if self.probed:
                return
        raise AssertionError("AMI did not come back after the restart")

    def _event(self, event: Any) -> None:
        name = event.get("UserEvent", "")
        if name == "CfProbe":
            self.probed = True
        elif name == "CalleeDid":
            self.did[event["number"]].append(dict(event))
        elif name == "CallflowEnd" and event.get("attempt"):
            self.ends[event["attempt"]] = dict(event)

    def calls(self) -> int:
        return sum(len(v) for v in self.did.values())


def attempts_by_number(sessions: Any) -> dict[str, list[CampaignAttempt]]:
    out: dict[str, list[CampaignAttempt]] = collections.defaultdict(list)
    with sessions() as session:
        for row in session.scalars(select(CampaignAttempt).order_by(CampaignAttempt.created_at)):
            out[row.number].append(row)
    return out


def answers_by_number(sessions: Any, campaign: str) -> dict[str, list[tuple[str, str]]]:
    """(question, answer) rows of the store per dialled number, in question order."""
    out: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    with sessions() as session:
        rows = session.execute(
            select(CallRecord.dialled, SurveyResponse.question, SurveyResponse.answer)
            .join(CallRecord, CallRecord.id == SurveyResponse.call_record_id)
            .where(SurveyResponse.campaign == campaign)
            .order_by(SurveyResponse.id)
        ).all()
    for number, question, answer in rows:
        out[number].append((question, answer))
    return out


async def dial(sandbox: Any, sessions: Any, site: Any, campaign: Any) -> dict[str, Any]:
    """`callflow campaign run --ami` as the CLI composes it: the call-record writer (AMI)
    started first, then the dialer; returns its summary once the records are written."""
    settings = AriSettings(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "x")
    options = {"cps": 25.0, "until_idle": True, "poll": 0.2}
    records = (AmiAddress(sandbox.ami_host, sandbox.ami_port), sandbox.ami_user,
               sandbox.ami_secret, 10.0)  # fmt: skip
    return await asyncio.wait_for(
        run_campaign(sessions, site, campaign, settings, options, True, records), 150
    )


async def test_a_200_contact_survey_matches_what_each_callee_did(sandbox, tmp_path) -> None:
    site = install(sandbox, write_site(tmp_path))
    _url, sessions, wanted = store_with(tmp_path, 200)
    side = AsteriskSide(sandbox)
    await side.ami.connect(5)
    started = time.monotonic()
    try:
        summary = await dial(sandbox, sessions, site, site.campaigns[0])
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.0)  # the last hang-up handlers' events
        ends = dict(side.ends)
        did_before = {n: len(v) for n, v in side.did.items()}
        # the re-run: the same numbers in another campaign; opted out ones never ring
        optouts = sorted(n for n in wanted if side.did[n][0]["did"] == "optout")
        humans = sorted(n for n in wanted if side.did[n][0]["did"] == "human")[:3]
        with sessions.begin() as session:
            session.add_all(
                CampaignContact(site="dialt", campaign="again", number=n, source="csv")
                for n in optouts + humans
            )
        again = await dial(sandbox, sessions, site, site.campaigns[1])
        await asyncio.sleep(1.0)
    finally:
        side.ami.close()
    assert summary["exit"] == "done"
    snapshot = summary["dialer"]
    assert snapshot["peak_live"] <= 60
    rows = attempts_by_number(sessions)
    # from Asterisk's side: every number's callee ran exactly once in the first run
    assert sorted(did_before) == sorted(wanted)
    assert all(count == 1 for count in did_before.values()), {
        n: count for n, count in did_before.items() if count != 1
    }
    wrong = {}
    for number in wanted:
        did = side.did[number][0]
        (row,) = (r for r in rows[number] if r.campaign == "survey")
        seen = (did["did"], row.disposition, row.hangup_cause, row.amd_status)
        if row.disposition != EXPECTED[did["did"]]:
            wrong[number] = seen
        if did["did"] in ("human", "optout", "machine"):
            found = ends.get(row.id)
            end = {"answers": "", "optout": "", "amd": "", **(found or {})}
            if found is None:
                wrong[number] = (*seen, "no CallflowEnd")
            elif did["did"] == "human" and end["answers"].split() != [f"rate:{did['digit']}"]:
                wrong[number] = (*seen, f"answers {end['answers']!r}", end["amd"])
            elif did["did"] == "optout" and end["optout"] != "1":
                wrong[number] = (*seen, f"optout {end['optout']!r}")
            elif did["did"] == "machine" and end["amd"] != "MACHINE":
                wrong[number] = (*seen, f"amd {end['amd']!r}")
    assert wrong == {}, wrong
    with sessions() as session:
        statuses = collections.Counter(
            session.scalars(
                select(CampaignContact.status).where(CampaignContact.campaign == "survey")
            )
        )
        dnc = {r.number: r for r in session.scalars(select(DncNumber))}
    assert statuses["pending"] == 0

    # the store, from `campaign run --ami` alone: each human callee's answer is the digit
    # its dialplan pressed (per question), nobody else has an answer row
    assert summary["records"]["recorded"] == summary["records"]["answered"] > 0, summary
    stored = answers_by_number(sessions, "survey")
    pressed = {n: [("rate", v[0]["digit"])] for n, v in side.did.items() if v[0]["did"] == "human"}
    assert pressed and stored == pressed
    # every callee that pressed the opt-out digit is on the do-not-call list, nobody else
    assert optouts and sorted(dnc) == optouts
    assert {(r.source, r.campaign) for r in dnc.values()} == {("optout", "survey")}

    # re-run: the opted-out numbers never rang again (Asterisk's side), the others did
    assert again["exit"] == "done"
    rang_again = sorted(n for n, v in side.did.items() if len(v) > did_before.get(n, 0))
    assert rang_again == humans, rang_again
    with sessions() as session:
        second = {
            c.number: c.status
            for c in session.scalars(
                select(CampaignContact).where(CampaignContact.campaign == "again")
            )
        }
    assert {second[n] for n in optouts} == {"dnc"}, second
    assert answers_by_number(sessions, "again").keys() == set(humans)
    print(f"200 contacts in {elapsed:.1f} s, peak {snapshot['peak_live']} live; "
          f"{len(pressed)} answers, {len(optouts)} opt-outs stored")  # fmt: skip


def run_dialer(
    site_file: Path, url: str, sandbox: Any, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CALLFLOW_ARI_PASSWORD": sandbox.ari_password,
        "CALLFLOW_DB": url,
    }
    argv = [
        str(Path(sys.executable).parent / "callflow"), "campaign", "run", str(site_file), "survey",
        "--json", "--until-idle", "--cps", "20", "--lease", "5",
        "--ari-url", sandbox.ari_url, "--ari-user", sandbox.ari_user, *extra,
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_kill_9_and_an_asterisk_restart_lose_and_duplicate_nothing(sandbox, tmp_path) -> None:
    seed = int(os.environ.get("CF_DIALER_SEED", random.randrange(1, 10**6)))
    print(f"CF_DIALER_SEED={seed}")
    rng = random.Random(seed)
    site_file = write_site(tmp_path, max_attempts=1, concurrency=20)
    install(sandbox, site_file)
    url, sessions, wanted = store_with(tmp_path, 120)
    side = AsteriskSide(sandbox)
    side.ami.start()
    await asyncio.wait_for(side.ami.connected.wait(), 5)
    log = tmp_path / "dialer.log"
    rounds = 0
    restarted = False
    try:
        while True:
            proc = run_dialer(site_file, url, sandbox, log)
            if rounds < 20:
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                if rounds == 12 and not restarted:
                    # mid-campaign, under a running dialer and its live calls: Asterisk
                    # restarts, the websocket drops, the dialer reconnects and reconciles
                    # (paused around it only so that this test's AMI listener is back
                    # before the next dial: it must not miss a callee's event)
                    set_status(sessions, "dialt", "survey", "paused")
                    await asyncio.sleep(0.5)
                    await asyncio.to_thread(sandbox.cli, "core restart now")
                    restarted = True
                    await side.ready(sandbox)
                    set_status(sessions, "dialt", "survey", "running")
                    await asyncio.sleep(2.0)  # the dialer dials again after reconciling
                    assert proc.poll() is None, log.read_text()[-3000:]
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                proc.wait()
                rounds += 1
                continue
            # a bound for a hang, not a speed claim (a loaded CI machine is slow)
            code = await asyncio.to_thread(proc.wait, 300)
            assert code == 0, log.read_text()[-3000:]
            break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await asyncio.sleep(1.0)
        side.ami.close()
    rows = attempts_by_number(sessions)
    with sessions() as session:
        contacts = {c.number: c for c in session.scalars(select(CampaignContact))}
    # nothing lost: every contact finished, every attempt ended
    assert {c.status for c in contacts.values()} <= {"done", "failed", "optout"}, [
        (n, c.status) for n, c in contacts.items() if c.status == "pending"
    ]
    assert all(r.state == "ended" for rs in rows.values() for r in rs)
    # no duplicate: from Asterisk's side each number rang at most max_attempts (1) times
    over = {n: len(v) for n, v in side.did.items() if len(v) > 1}
    assert over == {}, f"seed {seed}: numbers called twice: {over}"
    # and each attempt the dialer recorded as dialled is one Asterisk saw (or unknown)
    for number, attempts in rows.items():
        assert len(attempts) == 1, (seed, number, len(attempts))
        (row,) = attempts
        did = side.did.get(number)
        if row.disposition != "unknown":
            assert did, f"seed {seed}: {number} recorded {row.disposition} but never rang"
    unknown = sum(r.disposition == "unknown" for rs in rows.values() for r in rs)
    print(f"seed {seed}: {rounds} kills, restart={restarted}, {side.calls()} calls seen by "
          f"Asterisk for {len(wanted)} contacts, {unknown} unknown")  # fmt: skip


@pytest.fixture
def postgres_url() -> Any:
    from tests.postgres import PostgresServer, PostgresUnavailable, unavailable

    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    try:
        url = server.create_database("cf_dialer_test")
        upgrade(url)
        yield url
    finally:
        server.stop()


@pytest.fixture
def pg_sessions(postgres_url):
    """Sessions on the test database whose connections are closed however the test ends
    (a failed test left one open, and its ResourceWarning failed the next test)."""
    engine = make_engine(postgres_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
async def test_two_dialers_on_postgres_split_a_campaign_and_take_over_a_killed_one(
    sandbox, tmp_path, postgres_url, pg_sessions
) -> None:
    site_file = write_site(tmp_path, max_attempts=1, concurrency=12)
    install(sandbox, site_file)
    sessions = pg_sessions
    wanted = numbers(90)
    with sessions.begin() as session:
        session.add_all(
            CampaignContact(site="dialt", campaign="survey", number=n, source="csv") for n in wanted
        )
    side = AsteriskSide(sandbox)
    await side.ami.connect(5)
    log = tmp_path / "dialers.log"
    first = run_dialer(site_file, postgres_url, sandbox, log, "--dialer-id", "pg_a")
    second = run_dialer(site_file, postgres_url, sandbox, log, "--dialer-id", "pg_b")
    try:
        await asyncio.sleep(3.0)
        first.send_signal(signal.SIGKILL)
        first.wait()
        with sessions() as session:
            orphans = [
                r.id
                for r in session.scalars(
                    select(CampaignAttempt).where(
                        CampaignAttempt.dialer_id == "pg_a",
                        CampaignAttempt.state != "ended",
                    )
                )
            ]
        # a bound for a hang, not a speed claim: alone it takes ~50 s, on a loaded CI
        # machine (3 workers on 2 cores) it once took more than 120 s
        code = await asyncio.to_thread(second.wait, 300)
        assert code == 0, log.read_text()[-3000:]
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await asyncio.sleep(1.0)
        side.ami.close()
    rows = attempts_by_number(sessions)
    with sessions() as session:
        statuses = collections.Counter(session.scalars(select(CampaignContact.status)))
        taken = {
            r.id: (r.state, r.dialer_id)
            for r in session.scalars(select(CampaignAttempt).where(CampaignAttempt.id.in_(orphans)))
        }
    assert statuses["pending"] == 0, statuses
    # 0 duplicates from Asterisk's side, and one attempt row per contact
    assert {n: len(v) for n, v in side.did.items() if len(v) > 1} == {}
    assert all(len(rows[n]) == 1 for n in wanted)
    # both dialers dialled: the killed one's own rows, the survivor's, and the killed
    # one's live rows at the moment of the kill were taken over by the survivor
    assert orphans, "the first dialer had no live attempt when it was killed"
    assert all(state == "ended" and owner == "pg_b" for state, owner in taken.values()), taken
    owners = collections.Counter(r.dialer_id for rs in rows.values() for r in rs)
    assert owners["pg_a"] > 0 and owners["pg_b"] > 0, owners
    print(f"orphans taken over: {len(orphans)}; rows per dialer: {dict(owners)}")


def test_campaign_run_with_a_wrong_ami_secret_dials_nothing(sandbox, tmp_path) -> None:
    """`campaign run --ami` refused by Asterisk's AMI: one error naming the login, exit 1,
    and no attempt was made (the record writer starts before the dialer)."""
    from click.testing import CliRunner

    from callflow.cli import main

    site_file = write_site(tmp_path)
    install(sandbox, site_file)
    url, sessions, _wanted = store_with(tmp_path, 3)
    out = CliRunner().invoke(main, [
        "campaign", "run", str(site_file), "survey", "--db", url, "--until-idle",
        "--ari-url", sandbox.ari_url, "--ari-user", sandbox.ari_user,
        "--ari-password", sandbox.ari_password,
        "--ami", f"{sandbox.ami_host}:{sandbox.ami_port}", "--ami-user", sandbox.ami_user,
        "--ami-secret", "wrong", "--ami-wait", "3",
    ])  # fmt: skip
    assert out.exit_code == 1, out.output
    assert f"login as {sandbox.ami_user!r} refused" in out.output, out.output
    assert "Traceback" not in out.output
    assert attempts_by_number(sessions) == {}
