"""Render a KPI report of N generated call records with the database aggregating, against
a pure-Python aggregation of the same rows in the same run.

    .venv/bin/python benchmarks/report.py                 # 1,000,000 calls, SQLite
    .venv/bin/python benchmarks/report.py --calls 20000 --db sqlite:///x.db --keep
    .venv/bin/python benchmarks/report.py --example docs/examples/report.html

Target (issue 14): the whole report of 1,000,000 calls (every section, the HTML page
with its charts) renders in under 10 s. The baseline fetches the rows the queue and
agent sections need and aggregates them in Python; both must give the same figures.
The generated data (``generate``) is a month of a 4S dealer's calls: four queues, eight
agents, tiers, regions, a survey campaign; ``--example`` writes the HTML report that
docs/ shows.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select

from callflow.reports import Period, ReportOptions, build_report, zone
from callflow.reports.kpis import QueueRow, queue_kpis, queue_totals
from callflow.reports.render import as_html, write_atomic
from callflow.store import (
    CallRecord,
    CampaignAttempt,
    CampaignContact,
    Customer,
    DncNumber,
    Staff,
    SurveyResponse,
    make_engine,
    make_sessionmaker,
    upgrade,
)

SITE = "star_motors"
TZ = "Asia/Shanghai"
START = datetime(2026, 11, 1, tzinfo=zone(TZ)).astimezone(UTC)
DAYS = 30
QUEUES = {
    "sales": ("wang", "chen"),
    "service": ("zhao", "sun"),
    "care": ("liu", "he"),
    "front_desk_queue": ("lily", "max"),
}
TIERS = (("vip", 0.05), ("gold", 0.15), ("standard", 0.5), (None, 0.30))
REGIONS = ("east", "north", "south", "west")
CHUNK = 50_000


def _hour_weight(hour: int) -> float:
    return 1.0 if 9 <= hour < 18 else 0.35 if 8 <= hour < 21 else 0.03


def generate(engine: Engine, calls: int, seed: int = 14) -> None:
    """*calls* call records over November 2026 (site time), with customers, a survey."""
    rng = random.Random(seed)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        for agents in QUEUES.values():
            for agent in agents:
                s.add(Staff(id=agent, name=agent.title(), device=f"PJSIP/{agent}"))
        s.flush()
        customers = []
        for i in range(2000):
            tier = "vip" if i < 100 else "gold" if i < 400 else "standard"
            c = Customer(
                name=f"Customer {i}",
                tier=tier,
                region=rng.choice(REGIONS),
                language=rng.choice(("zh", "zh", "zh", "en")),
                account_manager_id=rng.choice(("wang", "chen")) if tier == "vip" else None,
            )
            s.add(c)
            customers.append(c)
        s.flush()
        cust = [(c.id, c.tier, c.account_manager_id) for c in customers]
    unknown_callers = [
        f"+86{rng.choice(('138', '139', '755', '21', '10'))}{rng.randrange(10**7, 10**8)}"
        for _ in range(5000)
    ]
    hours = [h for h in range(24) for _ in range(int(_hour_weight(h) * 100))]
    queues = list(QUEUES)
    rows = []
    records = CallRecord.__table__
    # call records are written as calls end, so they sit in the table in time order
    starts = sorted(
        datetime(2026, 11, 1 + rng.randrange(DAYS), rng.choice(hours), rng.randrange(60),
                 rng.randrange(60), tzinfo=zone(TZ)).astimezone(UTC)
        for _ in range(calls)
    )  # fmt: skip
    with engine.begin() as conn:
        for n, started in enumerate(starts):
            queue = rng.choice(queues)
            known = rng.random() < 0.7
            cid, tier, manager = rng.choice(cust) if known else (None, None, None)
            vip = tier == "vip"
            wait = int(rng.expovariate(1 / (8 if vip else 35)))
            outcome = rng.random()
            path = None
            agent = None
            if vip and manager and rng.random() < 0.4:
                path, agent, answered, dest, q = "manager", manager, True, "dial:" + manager, None
                wait = rng.randrange(2, 12)
            else:
                q = f"{SITE}-{queue}"
                answered = outcome < (0.95 if vip else 0.82)
                dest = f"queue:{queue}" if answered or outcome < 0.95 else f"voicemail:{queue}"
                if answered:
                    agent = rng.choice(QUEUES[queue])
            talk = int(rng.lognormvariate(5.0, 0.6)) if answered else None
            rows.append({
                "uniqueid": f"{n}.1", "linkedid": f"{n}.1", "site": SITE,
                "direction": "outbound" if rng.random() < 0.1 else "inbound",
                "caller": None if known else rng.choice(unknown_callers),
                "queue": q, "customer_id": cid, "tier": tier, "path": path, "destination": dest,
                "started_at": started, "wait_seconds": wait, "agent": agent,
                "answered_at": started + timedelta(seconds=wait) if answered else None,
                "ended_at": started + timedelta(seconds=wait + (talk or 0)),
                "talk_seconds": talk, "disposition": "ANSWERED" if answered else "NO ANSWER",
                "recording_file": f"{SITE}/{n}.wav" if answered and n % 500 == 0 else None,
                "node_trace": "", "created_at": started, "updated_at": started,
            })  # fmt: skip
            if len(rows) == CHUNK:
                conn.execute(insert(records), rows)
                rows.clear()
        if rows:
            conn.execute(insert(records), rows)
    _campaign(engine, rng)


def _campaign(engine: Engine, rng: random.Random) -> None:
    """A 2,000-contact satisfaction survey with dispositions, answers and opt-outs."""
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        ids = s.scalars(
            select(CallRecord.id)
            .where(CallRecord.direction == "outbound")
            .where(CallRecord.disposition == "ANSWERED")
            .limit(1200)
        ).all()
        for i in range(2000):
            number = f"+86139{i:08d}"
            contact = CampaignContact(site=SITE, campaign="satisfaction", number=number)
            s.add(contact)
            s.flush()
            for attempt in range(1, rng.choice((1, 1, 2, 3)) + 1):
                disp = rng.choices(
                    ("human", "no_answer", "busy", "machine_message", "optout", "abandoned"),
                    (55, 20, 10, 10, 3, 2),
                )[0]
                s.add(
                    CampaignAttempt(
                        id=f"sat-{i}-{attempt}",
                        contact_id=contact.id,
                        site=SITE,
                        campaign="satisfaction",
                        number=number,
                        attempt_no=attempt,
                        state="ended",
                        disposition=disp,
                        dialled_at=START
                        + timedelta(days=rng.randrange(DAYS), hours=rng.randrange(2, 12)),
                    )
                )
                final = disp in ("human", "optout", "abandoned", "machine_message")
                if disp == "optout":
                    s.merge(
                        DncNumber(
                            number=number,
                            source="optout",
                            campaign="satisfaction",
                            created_at=START + timedelta(days=rng.randrange(DAYS)),
                        )
                    )
                if final:
                    break
        for rid in ids:
            for question, scale, weights in (
                ("overall", "12345", (3, 5, 12, 40, 40)),
                ("recommend", "12", (80, 20)),
            ):
                s.add(
                    SurveyResponse(
                        call_record_id=rid,
                        campaign="satisfaction",
                        question=question,
                        answer=rng.choices(scale, weights)[0],
                    )
                )


def python_queue_kpis(engine: Engine, opts: ReportOptions) -> list[QueueRow]:
    """The baseline: fetch the rows and aggregate the queue KPIs in Python."""
    period = opts.period
    R = CallRecord
    query = select(
        R.started_at, R.queue, R.disposition, R.destination, R.wait_seconds, R.talk_seconds
    ).where(
        R.site == opts.site,
        R.started_at >= period.start,
        R.started_at < period.end,
        R.queue.is_not(None),
    )
    out: dict[tuple[object, str], QueueRow] = {}
    with engine.connect() as conn:
        for started, queue, disp, dest, wait, talk in conn.execute(query):
            key = period.key_of(started.replace(tzinfo=UTC))
            row = out.get((key, queue))
            if row is None:
                row = out[(key, queue)] = QueueRow(period.label(key), queue)
            wait = wait or 0
            answered = disp == "ANSWERED"
            abandoned = not answered and dest is not None and dest.startswith("queue:")
            row.offered += 1
            if answered:
                row.answered += 1
                row.wait_answered += wait
                row.talk += talk or 0
                row.answered_in_sl += wait <= opts.service_level
            elif abandoned:
                row.abandoned += 1
                row.abandoned_in_sl += wait <= opts.service_level
            else:
                row.timed_out += 1
            row.longest_wait = max(row.longest_wait, wait)
    return list(out.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="database URL [a temporary SQLite file]")
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    parser.add_argument("--example", type=Path, default=None, help="write the HTML report here")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{tmp.name}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    t = time.perf_counter()
    generate(engine, args.calls)
    print(f"generated {args.calls:,} call records in {time.perf_counter() - t:.1f} s ({url})")
    end = START + timedelta(days=DAYS)
    opts = ReportOptions(site=SITE, period=Period(START, end, zone(TZ), "day"), service_level=20)

    t = time.perf_counter()
    with make_sessionmaker(engine)() as session:
        report = build_report(session, opts)
    html = as_html(report, recordings_url="https://pbx.example/recordings")
    db_seconds = time.perf_counter() - t

    t = time.perf_counter()
    with make_sessionmaker(engine)() as session:
        db_queue = queue_kpis(session, opts, zero_rows=False)
    db_queue_seconds = time.perf_counter() - t
    t = time.perf_counter()
    py_queue = python_queue_kpis(engine, opts)
    py_seconds = time.perf_counter() - t

    same = {(r.queue, r.interval): r.as_dict() for r in db_queue} == {
        (r.queue, r.interval): r.as_dict() for r in py_queue
    }
    total = sum(r.offered for r in queue_totals(report.queues))
    print(
        f"whole report (10 sections, HTML with 6 charts): {db_seconds:.2f} s "
        f"({'under' if db_seconds < 10 else 'OVER'} the 10 s target); {total:,} queue calls"
    )
    print(
        f"queue KPIs, database GROUP BY: {db_queue_seconds:.2f} s; pure-Python baseline: "
        f"{py_seconds:.2f} s; ratio {py_seconds / db_queue_seconds:.1f}x; same figures: {same}"
    )
    if args.example:
        write_atomic(args.example, html)
        print(f"wrote {args.example} ({len(html) // 1024} KiB)")
    if args.keep and not args.db:
        kept = Path(f"report-bench-{args.calls}.db")
        Path(f"{tmp.name}/bench.db").rename(kept)
        print(f"kept {kept}")
    engine.dispose()
    return 0 if same and db_seconds < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
