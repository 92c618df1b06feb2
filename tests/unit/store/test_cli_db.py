"""`callflow db ...` on a corpus of bad inputs: every case ends in one clear message,
the documented exit status, and never a traceback; once through click's CliRunner and
once through the real `callflow` executable."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import callflow.store.engine as engine_module
from callflow.cli import main
from callflow.store import Customer, Staff, make_engine

CALLFLOW = Path(sys.executable).with_name("callflow")
UTF8 = "phone,name,tier,region\n13800138000,李雷,vip,北京\n13700137000,韩梅梅,gold,上海\n"
STAFF = "id,name,device\nalice,Alice,PJSIP/1001\nbob,Bob,PJSIP/1002\n"
BIG = "x" * 140_000  # over csv's default field limit (131,072)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Case:
    """One command line: *db* names the database it runs against (see `_database`)."""

    id: str
    args: tuple[str, ...]
    exit_code: int
    says: str  # must appear in the output
    files: dict[str, bytes] = field(default_factory=dict)
    db: str = "good"
    customers_after: int | None = None  # rows in customers afterwards (None: not checked)


CASES = [
    # db upgrade
    Case("upgrade-not-a-url", ("db", "upgrade", "--db", "notaurl"), 1, "is not a database URL"),
    Case(
        "upgrade-other-backend",
        ("db", "upgrade", "--db", "mysql://cf:hunter2@db/crm"),
        1,
        "mysql://cf:***@db/crm: callflow stores its data in SQLite or PostgreSQL",
    ),
    Case("upgrade-missing-dir", ("db", "upgrade"), 1, "directory nowhere does not exist", db="dir"),
    Case("upgrade-corrupt", ("db", "upgrade"), 1, "not a SQLite database", db="corrupt"),
    Case("upgrade-future", ("db", "upgrade"), 1, "does not know", db="future"),
    Case("upgrade-pg-down", ("db", "upgrade"), 1, "cannot connect to PostgreSQL", db="pgdown"),
    Case("upgrade-fresh-file", ("db", "upgrade"), 0, ": up to date", db="none"),
    # db import: the database
    Case(
        "import-never-upgraded",
        ("db", "import", "staff", "staff.csv"),
        1,
        "no callflow tables; run `callflow db upgrade`",
        files={"staff.csv": STAFF.encode()},
        db="empty",
    ),
    Case(
        "import-no-db-file",
        ("db", "import", "staff", "staff.csv"),
        1,
        "create it with `callflow db upgrade`",
        files={"staff.csv": STAFF.encode()},
        db="none",
    ),
    Case(
        "import-corrupt",
        ("db", "import", "staff", "staff.csv"),
        1,
        "not a SQLite database",
        files={"staff.csv": STAFF.encode()},
        db="corrupt",
    ),
    Case(
        "import-future-schema",
        ("db", "import", "customers", "c.csv"),
        1,
        "upgraded by a newer callflow",
        files={"c.csv": UTF8.encode()},
        db="future",
        customers_after=0,
    ),
    Case(
        "import-read-only",
        ("db", "import", "staff", "staff.csv"),
        1,
        "read-only",
        files={"staff.csv": STAFF.encode()},
        db="readonly",
    ),
    Case(
        "import-pg-down",
        ("db", "import", "staff", "staff.csv"),
        1,
        "cannot connect to PostgreSQL",
        files={"staff.csv": STAFF.encode()},
        db="pgdown",
    ),
    # db import: the file
    Case(
        "gbk",
        ("db", "import", "customers", "c.csv"),
        1,
        "c.csv:2: not UTF-8 text (byte 0xc0 at column 13); it looks like GBK",
        files={"c.csv": UTF8.encode("gbk")},
        customers_after=0,
    ),
    Case(
        "gbk-with-encoding",
        ("db", "import", "customers", "c.csv", "--encoding", "gbk"),
        0,
        "c.csv: 2 inserted",
        files={"c.csv": UTF8.encode("gbk")},
        customers_after=2,
    ),
    Case(
        "gb18030-with-encoding",
        ("db", "import", "customers", "c.csv", "--encoding", "GB18030"),
        0,
        "c.csv: 2 inserted",
        files={"c.csv": UTF8.encode("gb18030")},
    ),
    Case(
        "utf16",
        ("db", "import", "customers", "c.csv"),
        1,
        "the file is UTF-16 text, not UTF-8; import it with --encoding utf-16",
        files={"c.csv": UTF8.encode("utf-16")},
    ),
    Case(
        "utf16-with-encoding",
        ("db", "import", "customers", "c.csv", "--encoding", "utf-16"),
        0,
        "c.csv: 2 inserted",
        files={"c.csv": UTF8.encode("utf-16")},
    ),
    Case(
        "utf16le-no-bom",
        ("db", "import", "customers", "c.csv"),
        1,
        "looks like UTF-16LE text",
        files={"c.csv": UTF8.encode("utf-16-le")},
    ),
    Case(
        "utf8-bom",
        ("db", "import", "customers", "c.csv"),
        0,
        "c.csv: 2 inserted",
        files={"c.csv": UTF8.encode("utf-8-sig")},
    ),
    Case(
        "unknown-encoding",
        ("db", "import", "customers", "c.csv", "--encoding", "klingon"),
        1,
        "c.csv: unknown encoding 'klingon'",
        files={"c.csv": UTF8.encode()},
    ),
    Case(
        "missing-column",
        ("db", "import", "customers", "c.csv"),
        1,
        "c.csv:1: missing column 'phone'",
        files={"c.csv": b"name,tier\nLi,vip\n"},
    ),
    Case(
        "unknown-column",
        ("db", "import", "staff", "s.csv"),
        1,
        "s.csv:1: unknown column 'devise'",
        files={"s.csv": b"id,name,devise\nalice,Alice,PJSIP/1\n"},
    ),
    Case(
        "empty-file",
        ("db", "import", "customers", "c.csv"),
        1,
        "c.csv:1: empty file",
        files={"c.csv": b""},
    ),
    Case(
        "header-only",
        ("db", "import", "customers", "c.csv"),
        1,
        "c.csv: nothing imported: no rows after the header",
        files={"c.csv": b"phone,name\n"},
    ),
    Case(
        "unterminated-quote",
        ("db", "import", "customers", "c.csv"),
        1,
        "c.csv:3: a quoted field starting on this line is never closed",
        files={"c.csv": b'phone,name\n13800138000,A\n13700137000,"B\n13600136000,C\n'},
        customers_after=0,
    ),
    Case(
        "oversized-field",
        ("db", "import", "customers", "c.csv"),
        3,
        "c.csv:3: unreadable CSV record: a field is longer than 131072 characters",
        files={"c.csv": f"phone,name\n13800138000,A\n13700137000,{BIG}\n13600136000,C\n".encode()},
        customers_after=2,
    ),
    Case(
        "extra-and-missing-fields",
        ("db", "import", "customers", "c.csv"),
        3,
        "c.csv:2: has 3 fields, the header has 2",
        files={"c.csv": b"phone,name\n13800138000,A,extra\n13700137000,B\n"},
        customers_after=1,
    ),
    Case(
        "every-row-rejected",
        ("db", "import", "customers", "c.csv"),
        1,
        "c.csv: nothing imported: every row was rejected (2 rows)",
        files={"c.csv": b"phone,name\n12ab,A\n,B\n"},
        customers_after=0,
    ),
    Case(
        "customers-before-staff",
        ("db", "import", "customers", "c.csv"),
        1,
        "manager 'alice' is not a known staff id (import staff first)",
        files={"c.csv": b"phone,name,manager\n13800138000,A,alice\n"},
        db="nostaff",
        customers_after=0,
    ),
    Case(
        "strict-with-a-bad-row",
        ("db", "import", "customers", "c.csv", "--strict"),
        1,
        "c.csv: 1 row rejected; nothing imported (--strict)",
        files={"c.csv": b"phone,name,tier\n13800138000,A,vip\n13700137000,B,gold-plus\n"},
        customers_after=0,
    ),
    Case(
        "strict-all-good",
        ("db", "import", "customers", "c.csv", "--strict"),
        0,
        "c.csv: 2 inserted",
        files={"c.csv": UTF8.encode()},
        customers_after=2,
    ),
    Case(
        "region-with-newline",
        ("db", "import", "customers", "c.csv"),
        3,
        "c.csv:2: region 'Bei\\njing' contains a control character",
        files={"c.csv": b'phone,name,region\n13800138000,A,"Bei\njing"\n13700137000,B,x\n'},
        customers_after=1,
    ),
    Case(
        "full-width-phone",
        ("db", "import", "customers", "c.csv"),
        0,
        "c.csv: 1 inserted",
        files={"c.csv": "phone,name\n１３８００１３８０００,A\n".encode()},  # noqa: RUF001
        customers_after=1,
    ),
    Case(
        "bad-region-option",
        ("db", "import", "customers", "c.csv", "--region", "nowhere"),
        1,
        "every row was rejected",
        files={"c.csv": b"phone,name\n13800138000,A\n"},
    ),
    Case(
        "csv-missing",
        ("db", "import", "customers", "gone.csv"),
        2,
        "'gone.csv' does not exist",
    ),
    Case("csv-is-a-directory", ("db", "import", "staff", "."), 2, "is a directory"),
]


def _database(kind: str, directory: Path, template: Path) -> str:
    """A --db URL in *directory* of the kind a case asks for."""
    path = directory / "crm.db"
    if kind == "pgdown":
        return f"postgresql://callflow:hunter2@127.0.0.1:{_closed_port()}/crm"
    if kind == "dir":
        return "sqlite:///nowhere/crm.db"
    if kind == "empty":
        sqlite3.connect(path).close()
    elif kind == "corrupt":
        path.write_bytes(b"not a database\n" * 300)
    elif kind in ("good", "future", "readonly", "nostaff"):
        shutil.copy(template, path)
        if kind != "nostaff":
            _import_staff(path)
        if kind == "future":
            with sqlite3.connect(path) as connection:
                connection.execute("UPDATE alembic_version SET version_num = 'ffff_future'")
        if kind == "readonly":
            return f"sqlite:///file:{path}?mode=ro&uri=true"
    return f"sqlite:///{path}"


def _import_staff(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO staff (id, name, device, created_at, updated_at) VALUES "
            "('alice', 'Alice', 'PJSIP/1001', '2026-01-01', '2026-01-01')"
        )


def _prepare(case: Case, directory: Path, template: Path) -> list[str]:
    for name, content in case.files.items():
        (directory / name).write_bytes(content)
    args = list(case.args)
    if "--db" not in args:
        args += ["--db", _database(case.db, directory, template)]
    return args


def _customers(directory: Path) -> int:
    engine = make_engine(f"sqlite:///{directory / 'crm.db'}")
    with Session(engine) as session:
        found = session.scalar(select(func.count()).select_from(Customer)) or 0
    engine.dispose()
    return found


def _check(case: Case, exit_code: int, output: str, directory: Path) -> None:
    assert "Traceback" not in output, output
    assert exit_code == case.exit_code, output
    assert case.says in output, output
    assert "hunter2" not in output
    if case.exit_code:
        # one clear message: the error, plus at most the rejected rows it explains
        assert output.count("Error") == 1 or case.exit_code == 3, output
    if case.customers_after is not None:
        assert _customers(directory) == case.customers_after


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLFLOW_DB", raising=False)
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_in_process(case: Case, workdir: Path, sqlite_template: Path) -> None:
    args = _prepare(case, workdir, sqlite_template)
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    _check(case, result.exit_code, result.output, workdir)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_real_executable(case: Case, workdir: Path, sqlite_template: Path) -> None:
    args = _prepare(case, workdir, sqlite_template)
    env = {k: v for k, v in os.environ.items() if k != "CALLFLOW_DB"}
    done = subprocess.run(
        [str(CALLFLOW), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
    )
    _check(case, done.returncode, done.stdout + done.stderr, workdir)


def test_locked_database(
    workdir: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    url = _database("good", workdir, sqlite_template)
    (workdir / "s.csv").write_text(STAFF, encoding="utf-8")
    holder = sqlite3.connect(workdir / "crm.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = CliRunner().invoke(main, ["db", "import", "staff", "s.csv", "--db", url])
    finally:
        holder.rollback()
        holder.close()
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert "the database is locked by another connection" in result.output
    assert "Traceback" not in result.output


def test_partial_import_reports_rows_and_exits_3(workdir: Path, sqlite_template: Path) -> None:
    url = _database("good", workdir, sqlite_template)
    (workdir / "c.csv").write_text("phone,name\n13800138000,A\n12ab,B\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["db", "import", "customers", "c.csv", "--db", url])
    assert result.exit_code == 3
    assert result.stderr == "c.csv:3: phone '12ab' is not a valid number for region CN\n"
    assert result.stdout == "c.csv: 1 inserted, 0 updated, 0 unchanged, 1 errors\n"


def test_docs_order_staff_then_customers(workdir: Path) -> None:
    """The sequence docs/cli.md shows works as written, with a manager column."""
    (workdir / "staff.csv").write_text(STAFF, encoding="utf-8")
    (workdir / "customers.csv").write_text(
        "phone,name,manager\n13800138000,A,alice\n", encoding="utf-8"
    )
    url = f"sqlite:///{workdir / 'crm.db'}"
    for args in (
        ["db", "upgrade", "--db", url],
        ["db", "import", "staff", "staff.csv", "--db", url],
        ["db", "import", "customers", "customers.csv", "--region", "CN", "--db", url],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.scalar(select(Customer.account_manager_id)) == "alice"
        assert session.scalar(select(func.count()).select_from(Staff)) == 2
        assert session.execute(text("select 1")).scalar() == 1
    engine.dispose()
