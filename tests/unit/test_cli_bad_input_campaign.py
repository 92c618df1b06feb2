"""`callflow campaign load|check` and `callflow dnc` on bad input: one clear message
naming what and where, a non-zero exit, never a traceback (tests/badinput.py)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

from callflow.store import upgrade
from tests.badinput import GOOD_SITE, Case, assert_clean, check, run_cli, run_real

SITE = GOOD_SITE.replace(
    "from callflow import",
    "from callflow.model.campaigns import CallingWindow, Campaign\n"
    "from callflow.model.schedule import Hours\nfrom callflow import",
).replace(
    "    nodes=[",
    """    campaigns=[Campaign(id="recall", kind="playback", message="custom/recall",
                        caller_id="+862112345678", country=COUNTRY,
                        window=CallingWindow(hours=(Hours("mon-fri", "09:00", "18:00"),)))],
    nodes=[""",
)
GOOD = {"site.py": "COUNTRY = 'CN'\n" + SITE}
BAD_COUNTRY = {"site.py": "COUNTRY = 'XX'\n" + SITE}


@lru_cache(maxsize=1)
def migrated_db() -> bytes:
    """The bytes of a migrated, empty SQLite store (built once)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cf.db"
        upgrade(f"sqlite:///{path}")
        return path.read_bytes()


def db_files(**extra: str) -> dict[str, str | bytes]:
    return {**GOOD, "cf.db": migrated_db(), **extra}


DB = ["--db", "sqlite:///{tmp}/cf.db"]
CASES = [
    Case(
        "load-unknown-campaign",
        ["campaign", "load", "site.py", "nope", *DB],
        expect=["site.py", "no campaign 'nope'", "recall"],
        files=db_files(),
        exit_code=1,
    ),
    Case(
        "check-unknown-campaign",
        ["campaign", "check", "site.py", "nope", *DB],
        expect=["no campaign 'nope'"],
        files=db_files(),
        exit_code=1,
    ),
    Case(
        "load-missing-site",
        ["campaign", "load", "gone.py", "recall", *DB],
        expect=["gone.py"],
        files=db_files(),
        exit_code=1,
    ),
    Case(
        "load-csv-header",
        ["campaign", "load", "site.py", "recall", "--csv", "list.csv", *DB],
        expect=["list.csv:1:", "missing column 'phone'"],
        files=db_files(**{"list.csv": "number,name\n+8613800138000,Li\n"}),
        exit_code=1,
    ),
    Case(
        "load-csv-every-row-bad",
        ["campaign", "load", "site.py", "recall", "--csv", "list.csv", *DB],
        expect=["list.csv:2: phone 'abc'", "list.csv:3: time zone 'Moon/Base'", "nothing loaded"],
        files=db_files(**{"list.csv": "phone,timezone\nabc,\n13800138000,Moon/Base\n"}),
        exit_code=1,
    ),
    Case(
        "load-csv-strict",
        ["campaign", "load", "site.py", "recall", "--csv", "list.csv", "--strict", *DB],
        expect=["list.csv:3: phone 'abc'", "nothing loaded (--strict)"],
        files=db_files(**{"list.csv": "phone\n13800138000\nabc\n"}),
        exit_code=1,
    ),
    Case(
        "load-csv-unclosed-quote",
        ["campaign", "load", "site.py", "recall", "--csv", "list.csv", *DB],
        expect=["list.csv:2:", "never closed"],
        files=db_files(**{"list.csv": 'phone,name\n13800138000,"Li\n'}),
        exit_code=1,
    ),
    Case(
        "load-csv-missing-file",
        ["campaign", "load", "site.py", "recall", "--csv", "nope.csv", *DB],
        expect=["nope.csv"],
        files=db_files(),
        exit_code=2,
    ),
    Case(
        "load-bad-region",
        ["campaign", "load", "site.py", "recall", "--region", "ZZ", *DB],
        expect=["--region", "'ZZ'"],
        files=db_files(),
        exit_code=2,
    ),
    Case(
        "load-db-not-upgraded",
        ["campaign", "load", "site.py", "recall", "--db", "sqlite:///{tmp}/empty.db"],
        expect=["no callflow tables", "callflow db upgrade"],
        files={**GOOD, "empty.db": b""},
        exit_code=1,
    ),
    Case(
        "check-bad-at",
        ["campaign", "check", "site.py", "recall", "--at", "tomorrow 9am", *DB],
        expect=["--at", "'tomorrow 9am' is not a time", "ISO 8601"],
        files=db_files(),
        exit_code=2,
    ),
    Case(
        "check-bad-at-date",
        ["campaign", "check", "site.py", "recall", "--at", "2026-02-30T10:00", *DB],
        expect=["--at", "2026-02-30T10:00"],
        files=db_files(),
        exit_code=2,
    ),
    Case(
        "check-bad-country",
        ["campaign", "check", "site.py", "recall", *DB],
        expect=["site.py", "country 'XX'", "ISO 3166"],
        files={**BAD_COUNTRY, "cf.db": migrated_db()},
        exit_code=1,
    ),
    Case(
        "dnc-add-bad-number",
        ["dnc", "add", "+8613800138000", "call-me-maybe", *DB],
        expect=["phone 'call-me-maybe'", "nothing added"],
        files=db_files(),
        exit_code=1,
    ),
    Case(
        "dnc-import-bad-header",
        ["dnc", "import", "dnc.csv", *DB],
        expect=["dnc.csv:1:", "unknown column 'msisdn'"],
        files=db_files(**{"dnc.csv": "msisdn\n+8613800138000\n"}),
        exit_code=1,
    ),
    Case(
        "dnc-import-every-row-bad",
        ["dnc", "import", "dnc.csv", *DB],
        expect=["dnc.csv:2: phone 'x'", "nothing added"],
        files=db_files(**{"dnc.csv": "phone\nx\n"}),
        exit_code=1,
    ),
    Case(
        "dnc-list-not-a-url",
        ["dnc", "list", "--db", "nonsense"],
        expect=["'nonsense' is not a database URL"],
        exit_code=1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_fails_cleanly(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


@pytest.mark.parametrize("case", [CASES[0], CASES[10]], ids=lambda c: c.id)
def test_the_real_entry_point_fails_cleanly(case: Case, tmp_path: Path) -> None:
    assert_clean(case, tmp_path, run_real(case, tmp_path))


def test_good_input_works_and_partial_loads_exit_3(tmp_path: Path) -> None:
    files = db_files(**{"list.csv": "phone\n13800138000\nabc\n13800138000\n"})
    load = Case(
        "load", ["campaign", "load", "site.py", "recall", "--csv", "list.csv", *DB], files=files
    )
    result = run_cli(load, tmp_path)
    assert result.exit_code == 3, result.output
    assert "list.csv:3: phone 'abc'" in result.output
    assert "recall: 1 added, 0 updated, 0 unchanged, 1 duplicates merged, 1 rows rejected" in (
        result.output
    )
    checked = run_cli(
        Case(
            "check",
            ["campaign", "check", "site.py", "recall", "--at", "2026-12-01T10:00+08:00", *DB],
        ),
        tmp_path,
    )
    assert checked.exit_code == 0, checked.output
    assert "1 contacts: 1 dialled now, 0 later, 0 excluded" in checked.output
