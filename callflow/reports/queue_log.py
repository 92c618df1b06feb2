"""Asterisk's own queue_log as call records, so reports cover calls callflow did not
record (history from before callflow, or another PBX).

app_queue writes one line per queue event, ``time|callid|queue|agent|event|data1..5``, to
``/var/log/asterisk/queue_log`` or, with ``queue_log => driver,db`` in extconfig.conf, to a
realtime table with columns ``time, callid, queuename, agent, event, data1..data5``.
Each (callid, queue) visit becomes one :class:`~callflow.store.CallRecord`, so the same
KPI SQL reads both::

    entries = read_file(Path("/var/log/asterisk/queue_log"))
    with sessions.begin() as session:
        load_records(session, entries, site="star_motors")

What each event says (Asterisk 22 app_queue): ENTERQUEUE (url, callerid, origpos);
CONNECT (holdtime, bridged uniqueid, ringtime); COMPLETECALLER / COMPLETEAGENT
(holdtime, calltime, origpos); BLINDTRANSFER / ATTENDEDTRANSFER (..., holdtime,
calltime, origpos: the last three fields); ABANDON / EXITWITHTIMEOUT / EXITEMPTY (pos,
origpos, waittime); EXITWITHKEY (key, pos, origpos, waittime).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from callflow.reports.errors import ReportError
from callflow.store.call_records import CallRecord

#: the events that end a caller's visit to a queue, and how
ANSWERED_END = ("COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER")
ABANDON = "ABANDON"
GAVE_UP = ("EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY")


@dataclass(frozen=True)
class Entry:
    """One queue_log line."""

    time: datetime  # aware, UTC
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = ()

    def field(self, n: int) -> str:
        """data<n> (1-based), '' when absent."""
        return self.data[n - 1] if len(self.data) >= n else ""


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _time(value: Any, server_tz: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=server_tz)).astimezone(UTC)
    text = str(value).strip()
    if text.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), UTC)
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=server_tz)).astimezone(UTC)


def parse_lines(lines: Iterable[str], source: str = "queue_log") -> Iterator[Entry]:
    """Entries of a queue_log file's lines; a line that is not queue_log is a
    :class:`ReportError` naming it (file and line number)."""
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 5 or not parts[0].strip().isdigit():
            raise ReportError(
                f"{source}:{number}: not a queue_log line (time|callid|queue|agent|event|data...)"
            )
        yield Entry(
            datetime.fromtimestamp(int(parts[0]), UTC),
            parts[1],
            parts[2],
            parts[3],
            parts[4],
            tuple(parts[5:]),
        )


def read_file(path: Path) -> list[Entry]:
    """Every entry of a queue_log file."""
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            return list(parse_lines(lines, str(path)))
    except OSError as exc:
        raise ReportError(f"{path}: {exc.strerror or exc}") from None


def read_table(engine: Engine, server_tz: tzinfo = UTC, table: str = "queue_log") -> list[Entry]:
    """Every entry of Asterisk's realtime queue_log table; times without an offset are on
    *server_tz*'s clock (Asterisk writes the server's local time)."""
    columns = ["time", "callid", "queuename", "agent", "event"] + [f"data{i}" for i in range(1, 6)]
    t = Table(table, MetaData(), *(Column(c, String) for c in columns))
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(t)).all()
    except SQLAlchemyError as exc:
        raise ReportError(f"cannot read the {table} table: {exc.__class__.__name__}") from None
    out = []
    for row in rows:
        data = tuple("" if v is None else str(v) for v in row[5:])
        while data and not data[-1]:
            data = data[:-1]
        out.append(
            Entry(
                _time(row[0], server_tz),
                str(row[1]),
                str(row[2]),
                str(row[3] or ""),
                str(row[4]),
                data,
            )
        )
    return out


@dataclass
class Visit:
    """One caller's stay in one queue, folded from its entries."""

    callid: str
    queue: str
    entered: datetime
    caller: str | None = None
    agent: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    wait: int | None = None
    talk: int | None = None
    outcome: str = "open"  # answered | abandoned | timed_out | open
    events: list[str] = field(default_factory=list)


def visits(entries: Iterable[Entry]) -> list[Visit]:
    """Fold entries into visits, in order of entering; a visit whose ENTERQUEUE is not in
    the log (it started before the file) is skipped."""
    open_: dict[tuple[str, str], Visit] = {}
    done: list[Visit] = []
    for e in sorted(entries, key=lambda e: e.time):
        key = (e.callid, e.queue)
        if e.event == "ENTERQUEUE":
            open_[key] = Visit(e.callid, e.queue, e.time, caller=e.field(2) or None)
        found = open_.get(key)
        if found is None:
            continue
        visit = found
        visit.events.append(e.event)
        if e.event == "CONNECT":
            visit.answered_at = e.time
            visit.agent = e.agent if e.agent and e.agent != "NONE" else None
            visit.wait = _int(e.field(1))
            visit.outcome = "answered"
        elif e.event in ANSWERED_END:
            tail = [f for f in e.data if f.strip()][-3:]
            if e.event in ("COMPLETECALLER", "COMPLETEAGENT"):
                tail = list(e.data[:3])
            visit.wait = _int(tail[0]) if tail else visit.wait
            visit.talk = _int(tail[1]) if len(tail) > 1 else None
            visit.ended_at = e.time
            visit.outcome = "answered"
            done.append(open_.pop(key))
        elif e.event == ABANDON or e.event in GAVE_UP:
            visit.wait = _int(e.field(4 if e.event == "EXITWITHKEY" else 3))
            visit.ended_at = e.time
            visit.outcome = "abandoned" if e.event == ABANDON else "timed_out"
            done.append(open_.pop(key))
    done.extend(open_.values())
    return sorted(done, key=lambda v: v.entered)


def load_records(
    session: Session,
    entries: Iterable[Entry],
    site: str,
    agents: Mapping[str, str] | None = None,
) -> int:
    """Add one :class:`CallRecord` per ended (or answered) queue visit to *session*;
    returns how many.
    ``agents`` maps queue_log agent names (member names or interfaces) to staff ids."""
    names = dict(agents or {})
    seen: dict[str, int] = {}
    count = 0
    for v in visits(entries):
        if v.outcome == "open":  # still waiting when the log ends: no outcome yet
            continue
        n = seen[v.callid] = seen.get(v.callid, 0) + 1
        linkedid = v.callid if n == 1 else f"{v.callid}#{n}"
        answered = v.outcome == "answered"
        agent = names.get(v.agent, v.agent) if v.agent else None
        session.add(
            CallRecord(
                uniqueid=v.callid[:64],
                linkedid=linkedid[:64],
                site=site,
                direction="inbound",
                caller=(v.caller or None) and v.caller[:80],
                queue=v.queue[:64],
                started_at=v.entered,
                wait_seconds=v.wait,
                agent=agent[:32] if agent else None,
                answered_at=v.answered_at,
                ended_at=v.ended_at,
                talk_seconds=v.talk if answered else None,
                disposition="ANSWERED" if answered else "NO ANSWER",
                # what callflow's records say of the same calls: a caller who hung up in
                # the queue ends there, one the queue gave up on went on to its overflow
                destination=f"queue:{v.queue}"[:128] if v.outcome != "timed_out" else "overflow",
                node_trace="",
            )
        )
        count += 1
    return count
