"""`callflow report`: its outputs on a small store, its bad inputs (one clear message, no
traceback), and Asterisk's queue_log read from a file and from a realtime table."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Column, MetaData, String, Table, insert

from callflow.cli import main
from callflow.reports import ReportError
from callflow.reports import queue_log as qlog
from callflow.store import CallRecord, make_engine, make_sessionmaker, upgrade
from tests.badinput import GOOD_SITE, Case, check

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # GOOD_SITE's clock is UTC

#: a queue_log as app_queue writes it: answered, transferred (attended and blind),
#: abandoned, timed out, left with a key, and a call still waiting when the log ends
QUEUE_LOG = "\n".join(
    f"{int((T0 + timedelta(seconds=s)).timestamp())}|{callid}|good-desk|{agent}|{event}|{data}"
    for s, callid, agent, event, data in [
        (0, "NONE", "NONE", "QUEUESTART", ""),
        (1, "c1", "NONE", "ENTERQUEUE", "|+8613800138000|1"),
        (6, "c1", "ann", "CONNECT", "5|c1-agent|3"),
        (200, "c1", "ann", "COMPLETECALLER", "5|194|1"),
        (10, "c2", "NONE", "ENTERQUEUE", "|+13125550123|1"),
        (40, "c2", "bob", "CONNECT", "30|c2-agent|2"),
        (100, "c2", "bob", "ATTENDEDTRANSFER", "BRIDGE|bridge-1|30|60|1"),
        (20, "c3", "NONE", "ENTERQUEUE", "|anonymous|2"),
        (31, "c3", "NONE", "ABANDON", "2|2|11"),
        (30, "c4", "NONE", "ENTERQUEUE", "||1"),
        (90, "c4", "NONE", "EXITWITHTIMEOUT", "1|1|60"),
        (40, "c5", "NONE", "ENTERQUEUE", "||1"),
        (45, "c5", "NONE", "EXITWITHKEY", "1|1|1|5"),
        (50, "c6", "NONE", "ENTERQUEUE", "||1"),
        (52, "c6", "carl", "CONNECT", "2|c6-agent|1"),
        (70, "c6", "carl", "BLINDTRANSFER", "200|sales|2|18|1"),
        (60, "c7", "NONE", "ENTERQUEUE", "||1"),
    ]
)


def test_queue_log_visits_and_what_each_event_says():
    visits = {v.callid: v for v in qlog.visits(qlog.parse_lines(QUEUE_LOG.splitlines()))}
    assert (visits["c1"].outcome, visits["c1"].wait, visits["c1"].talk) == ("answered", 5, 194)
    assert (visits["c2"].agent, visits["c2"].wait, visits["c2"].talk) == ("bob", 30, 60)
    assert (visits["c6"].agent, visits["c6"].wait, visits["c6"].talk) == ("carl", 2, 18)
    assert (visits["c3"].outcome, visits["c3"].wait) == ("abandoned", 11)
    assert (visits["c4"].outcome, visits["c4"].wait) == ("timed_out", 60)
    assert (visits["c5"].outcome, visits["c5"].wait) == ("timed_out", 5)
    assert visits["c7"].outcome == "open"


def test_a_line_that_is_not_queue_log_names_file_and_line():
    with pytest.raises(ReportError, match=r"ql:2: not a queue_log line"):
        list(qlog.parse_lines(["1|a|q|NONE|ENTERQUEUE||1", "garbage"], "ql"))


def test_realtime_table_reads_like_the_file(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/asterisk.db")
    cols = ["time", "callid", "queuename", "agent", "event"] + [f"data{i}" for i in range(1, 6)]
    table = Table("queue_log", MetaData(), *(Column(c, String) for c in cols))
    table.create(engine)
    rows = []
    for line in QUEUE_LOG.splitlines():
        parts = line.split("|")
        when = datetime.fromtimestamp(int(parts[0]), UTC).strftime("%Y-%m-%d %H:%M:%S.000000")
        data = (parts[5:] + [""] * 5)[:5]
        rows.append(dict(zip(cols, [when, *parts[1:5], *data], strict=True)))
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
    from_table = qlog.visits(qlog.read_table(engine, UTC))
    from_file = qlog.visits(qlog.parse_lines(QUEUE_LOG.splitlines()))
    assert [(v.callid, v.outcome, v.wait, v.talk, v.entered) for v in from_table] == [
        (v.callid, v.outcome, v.wait, v.talk, v.entered) for v in from_file
    ]
    engine.dispose()


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path}/calls.db"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as s:
        for i, (wait, answered) in enumerate([(5, True), (70, True), (12, False)]):
            start = T0 + timedelta(minutes=i)
            s.add(CallRecord(uniqueid=f"u{i}", linkedid=f"u{i}", site="good", direction="inbound",
                             queue="good-desk", started_at=start, wait_seconds=wait,
                             answered_at=start if answered else None,
                             talk_seconds=200 if answered else None,
                             agent="ann" if answered else None, destination="queue:desk",
                             disposition="ANSWERED" if answered else "NO ANSWER"))  # fmt: skip
    engine.dispose()
    (tmp_path / "site.py").write_text(GOOD_SITE)
    return tmp_path, url


def run(*argv):
    result = CliRunner().invoke(main, [str(a) for a in argv], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_json_csv_table_and_html(store):
    tmp, url = store
    common = [tmp / "site.py", "--from", "2026-11-02", "--until", "2026-11-03", "--db", url]
    data = json.loads(run("report", *common, "--format", "json", "--queue", "desk"))
    (total,) = data["queue_totals"]
    assert (total["offered"], total["answered"], total["abandoned"]) == (3, 2, 1)
    assert total["sl"] == 0.5 and total["sl2"] == pytest.approx(2 / 3)  # 60 s threshold
    rows = list(csv.DictReader(io.StringIO(run("report", *common, "--format", "csv",
                                               "--section", "leaderboard"))))  # fmt: skip
    assert [(r["agent"], r["effective"]) for r in rows] == [("ann", "2")]
    table = run("report", *common)
    assert "Agent leaderboard" in table and "Wait and abandon by customer tier" in table
    run("report", *common, "--format", "html", "-o", tmp / "r.html")
    page = (tmp / "r.html").read_text()
    assert page.count("<svg") >= 6 and "<script" not in page


def test_report_from_a_queue_log_file(store):
    tmp, _ = store
    (tmp / "queue_log").write_text(QUEUE_LOG + "\n")
    data = json.loads(run("report", tmp / "site.py", "--from", "2026-11-02", "--until",
                          "2026-11-03", "--queue-log", tmp / "queue_log", "--format", "json",
                          "--section", "queue_totals"))  # fmt: skip
    (total,) = data["queue_totals"]
    assert (total["offered"], total["answered"], total["abandoned"], total["timed_out"]) == (
        6, 3, 1, 2,
    )  # fmt: skip
    assert total["longest_wait"] == 60


UNUPGRADED = "sqlite:///{tmp}/empty.db"
COMMON = ["{tmp}/site.py", "--from", "2026-11-01", "--until", "2026-11-02"]
CASES = [
    Case("bad-from", ["report", "{tmp}/site.py", "--from", "yesterday", "--until", "2026-11-02"],
         files={"site.py": GOOD_SITE}, expect=["--from", "'yesterday'", "YYYY-MM-DD"]),
    Case("until-before-from", ["report", "{tmp}/site.py", "--from", "2026-11-02", "--until",
                               "2026-11-01"], files={"site.py": GOOD_SITE},
         expect=["--until", "not after --from"]),
    Case("bad-tz", ["report", *COMMON, "--tz", "Mars/Olympus"], files={"site.py": GOOD_SITE},
         expect=["unknown time zone", "Mars/Olympus"]),
    Case("unknown-queue", ["report", *COMMON, "--queue", "sles", "--db", "sqlite:///{tmp}/x.db"],
         files={"site.py": GOOD_SITE}, expect=["unknown queue 'sles'", "desk"]),
    Case("no-schema", ["report", *COMMON, "--db", UNUPGRADED], files={"site.py": GOOD_SITE},
         expect=["db upgrade"]),
    Case("bad-interval", ["report", *COMMON, "--interval", "fortnight"],
         files={"site.py": GOOD_SITE}, expect=["--interval", "fortnight"], exit_code=2),
    Case("bad-section", ["report", *COMMON, "--section", "bogus"], files={"site.py": GOOD_SITE},
         expect=["--section", "bogus"], exit_code=2),
    Case("missing-queue-log", ["report", *COMMON, "--queue-log", "{tmp}/nope"],
         files={"site.py": GOOD_SITE}, expect=["nope", "No such file"]),
    Case("not-a-queue-log", ["report", *COMMON, "--queue-log", "{tmp}/ql"],
         files={"site.py": GOOD_SITE, "ql": "hello world\n"}, expect=["ql:1", "not a queue_log"]),
    Case("output-dir-missing", ["report", *COMMON, "--format", "html", "-o", "{tmp}/no/r.html"],
         files={"site.py": GOOD_SITE}, expect=["does not exist"]),
    Case("negative-effective", ["report", *COMMON, "--effective", "-5"],
         files={"site.py": GOOD_SITE}, expect=["--effective"], exit_code=2),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, tmp_path):
    if case.id == "unknown-queue":
        upgrade(f"sqlite:///{tmp_path}/x.db")
    check(case, tmp_path)


def test_hostile_names_from_the_log_stay_text_in_the_html(store):
    """queue_log names come from any PBX: markup in them must not become markup."""
    tmp, _ = store
    evil = "</svg><script>alert(1)</script>--><b>"
    lines = [
        f"{int(T0.timestamp())}|h1|{evil}|NONE|ENTERQUEUE||<i>caller</i>|1",
        f"{int(T0.timestamp()) + 3}|h1|{evil}|{evil}|CONNECT|3|x|1",
        f"{int(T0.timestamp()) + 200}|h1|{evil}|{evil}|COMPLETECALLER|3|197|1",
    ]
    (tmp / "queue_log").write_text("\n".join(lines) + "\n")
    run("report", tmp / "site.py", "--from", "2026-11-02", "--until", "2026-11-03",
        "--queue-log", tmp / "queue_log", "--format", "html", "-o", tmp / "r.html")  # fmt: skip
    page = (tmp / "r.html").read_text()
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
