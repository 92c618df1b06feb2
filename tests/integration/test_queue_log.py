"""callflow's own call records against Asterisk's queue_log, from one real-Asterisk run.

Calls go into a compiled queue on the sandbox: some are answered by a test agent, some
hang up while the agent is paused. The records writer (AMI events) and app_queue's
queue_log (log/queue_log) see the same calls independently; the same KPI SQL run over
each must give the same offered/answered/abandoned counts (and app_queue's own
completed/abandoned counters, ``queue show``), and every call's queue hold time must
agree within 1 s.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callflow import Hangup, Queue, Site, Staff
from callflow.contract import queue_name
from callflow.reports import Period, ReportOptions, zone
from callflow.reports import queue_log as qlog
from callflow.reports.kpis import queue_kpis, queue_totals
from callflow.runtime.ami import AmiAddress
from callflow.runtime.services import CallRecordWriter, Supervisor
from callflow.store import Base, CallRecord, make_engine, make_sessionmaker, upgrade

from .sites import NOBODY, load

pytestmark = pytest.mark.asterisk

SITE = "qlogcheck"
ANSWERED, ABANDONED = 3, 2


def site() -> Site:
    return Site(
        name=SITE,
        entries={"100": "sales"},
        staff=[Staff("ann", name="Ann", device=NOBODY, groups=("sales",))],
        nodes=[
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye", retry=1),
            Hangup(id="bye"),
        ],
    )


async def test_call_records_agree_with_asterisks_queue_log(sandbox, driver, tmp_path):
    url = f"sqlite:///{tmp_path}/calls.db"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    records = CallRecordWriter(
        sessions,
        AmiAddress(sandbox.ami_host, sandbox.ami_port),
        sandbox.ami_user,
        sandbox.ami_secret,
        connect_timeout=5,
    )
    queue_log = sandbox.workdir / "log" / "queue_log"
    assert load(sandbox, site()) == []
    queue = queue_name(SITE, "sales")
    started = datetime.now(UTC) - timedelta(minutes=1)
    offset = queue_log.stat().st_size if queue_log.exists() else 0
    async with Supervisor({"call records": records}):
        await driver.add_agent(queue, "qla1", paused=True)
        # abandoned: nobody free, the caller gives up after a few seconds in the queue
        gone = [
            await driver.start_call(f"cf-{SITE}-entry", "100", caller_id=f"1390000000{i}",
                                    hold=2 + 2 * i, timeout=30)
            for i in range(ABANDONED)
        ]  # fmt: skip
        for handle in gone:
            await handle.wait_end()
        await driver.pause_agent(queue, "qla1", paused=False)
        for i in range(ANSWERED):
            handle = await driver.start_call(
                f"cf-{SITE}-entry", "100", caller_id=f"1380000000{i}", hold=8, agent_talk=2,
                timeout=30,
            )  # fmt: skip
            await handle.wait_end()
        await driver.remove_agent(queue, "qla1")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await records.recorder.flush()
            with sessions() as session:
                rows = session.scalars(select(CallRecord).where(CallRecord.site == SITE)).all()
            if len(rows) == ANSWERED + ABANDONED and all(
                r.talk_seconds is not None for r in rows if r.disposition == "ANSWERED"
            ):
                break
            await asyncio.sleep(0.2)
    ended = datetime.now(UTC) + timedelta(minutes=1)
    # app_queue's own counters: "W:0, C:<completed>, A:<abandoned>"
    shown = sandbox.cli(f"queue show {queue}")
    counters = re.search(r"C:(\d+), A:(\d+)", shown)
    assert counters is not None, shown

    # Asterisk's queue_log of this run, as call records in a database of their own
    with queue_log.open() as f:
        f.seek(offset)
        entries = [e for e in qlog.parse_lines(f.read().splitlines()) if e.queue == queue]
    assert {e.event for e in entries} >= {"ENTERQUEUE", "CONNECT", "ABANDON"}
    from_log = make_engine("sqlite:///:memory:")
    Base.metadata.create_all(from_log)
    with make_sessionmaker(from_log).begin() as session:
        assert qlog.load_records(session, entries, SITE) == ANSWERED + ABANDONED

    opts = ReportOptions(site=SITE, period=Period(started, ended, zone("UTC"), "hour"))
    with sessions() as ours, make_sessionmaker(from_log)() as theirs:
        (mine,) = queue_totals(queue_kpis(ours, opts))
        (asterisk,) = queue_totals(queue_kpis(theirs, opts))
        my_waits = {r.uniqueid: r.wait_seconds for r in ours.scalars(select(CallRecord))}
        log_waits = {r.uniqueid: r.wait_seconds for r in theirs.scalars(select(CallRecord))}
        my_talk = {r.uniqueid: r.talk_seconds for r in ours.scalars(select(CallRecord))}
        log_talk = {r.uniqueid: r.talk_seconds for r in theirs.scalars(select(CallRecord))}
    assert (mine.offered, mine.answered, mine.abandoned, mine.timed_out) == (
        ANSWERED + ABANDONED, ANSWERED, ABANDONED, 0,
    )  # fmt: skip
    assert (asterisk.offered, asterisk.answered, asterisk.abandoned) == (
        mine.offered, mine.answered, mine.abandoned,
    )  # fmt: skip
    assert (int(counters[1]), int(counters[2])) == (mine.answered, mine.abandoned)
    assert set(my_waits) == set(log_waits)  # the queue_log callid is the site leg's uniqueid
    for call, wait in log_waits.items():
        assert wait is not None and abs(my_waits[call] - wait) <= 1, (call, my_waits[call], wait)
        if log_talk[call] is not None:
            assert abs(my_talk[call] - log_talk[call]) <= 1
    assert max(log_waits.values()) >= 2  # the abandoned callers really waited
    engine.dispose()
    from_log.dispose()
