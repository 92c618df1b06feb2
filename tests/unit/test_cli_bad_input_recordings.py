"""`callflow recordings list|prune` on bad input: one clear message naming what and where,
a non-zero exit, never a traceback (tests/badinput.py); and on good input, that prune
deletes only callflow's own old files."""

from __future__ import annotations

import os
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow.cli import main
from callflow.store import upgrade
from tests.badinput import Case, assert_clean, check, run_real


@lru_cache(maxsize=1)
def migrated_db() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cf.db"
        upgrade(f"sqlite:///{path}")
        return path.read_bytes()


DB = ["--db", "sqlite:///{tmp}/cf.db"]
FILES = {"cf.db": migrated_db(), "monitor/keep.txt": "not a recording"}
MONITOR = ["--dir", "{tmp}/monitor"]

CASES = [
    Case(
        "prune-negative-days",
        ["recordings", "prune", "--older-than", "-1", *MONITOR, *DB],
        expect=["--older-than", "-1", ">= 0"],
        files=FILES,
        exit_code=2,
    ),
    Case(
        "prune-nan-days",
        ["recordings", "prune", "--older-than", "nan", *MONITOR, *DB],
        expect=["--older-than", "nan"],
        files=FILES,
        exit_code=2,
    ),
    Case(
        "prune-words-for-days",
        ["recordings", "prune", "--older-than", "ninety", *MONITOR, *DB],
        expect=["--older-than", "ninety"],
        files=FILES,
        exit_code=2,
    ),
    Case(
        "prune-missing-days",
        ["recordings", "prune", *MONITOR, *DB],
        expect=["--older-than"],
        files=FILES,
        exit_code=2,
    ),
    Case(
        "prune-missing-dir",
        ["recordings", "prune", "--older-than", "30", "--dir", "{tmp}/nowhere", *DB],
        expect=["recordings directory", "nowhere", "does not exist"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "prune-dir-is-a-file",
        ["recordings", "prune", "--older-than", "30", "--dir", "{tmp}/monitor/keep.txt", *DB],
        expect=["keep.txt", "is not a directory"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "list-missing-dir",
        ["recordings", "list", "--dir", "{tmp}/nowhere", *DB],
        expect=["recordings directory", "nowhere", "does not exist"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "list-bad-since",
        ["recordings", "list", "--since", "last week", *MONITOR, *DB],
        expect=["--since", "'last week' is not a date", "YYYY-MM-DD"],
        files=FILES,
        exit_code=2,
    ),
    Case(
        "list-store-not-upgraded",
        ["recordings", "list", *MONITOR, "--db", "sqlite:///{tmp}/empty.db"],
        expect=["no callflow tables", "callflow db upgrade"],
        files={**FILES, "empty.db": b""},
        exit_code=1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_fails_cleanly(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


@pytest.mark.parametrize("case", [CASES[0], CASES[4]], ids=lambda c: c.id)
def test_the_real_entry_point_fails_cleanly(case: Case, tmp_path: Path) -> None:
    assert_clean(case, tmp_path, run_real(case, tmp_path))


OWN = "callflow/acme/20260101/acme-20260101-101500-1767262500.1-1767262500.2.wav"


def test_prune_deletes_only_old_files_named_by_callflow(tmp_path: Path) -> None:
    monitor = tmp_path / "monitor"
    old = time.time() - 40 * 86400
    paths = {
        "own old": monitor / OWN,
        "own new": monitor / OWN.replace("101500", "101600"),
        "own old split": monitor / OWN.replace(".wav", "-caller.wav"),
        "foreign old wav": monitor / "callflow/acme/20260101/meeting.wav",
        "foreign old, almost our name": monitor / OWN.replace(".wav", ".wav.bak"),
        "foreign old txt": monitor / "notes.txt",
    }
    for key, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
        if "old" in key:
            os.utime(path, (old, old))
    link = monitor / OWN.replace("101500", "101700")
    link.symlink_to(paths["foreign old txt"])  # a link with our name: never followed
    url = f"sqlite:///{tmp_path / 'cf.db'}"
    upgrade(url)
    args = ["recordings", "prune", "--older-than", "30", "--dir", str(monitor), "--db", url]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    gone = {k for k, p in paths.items() if not p.exists()}
    assert gone == {"own old", "own old split"}
    assert link.is_symlink()
    assert "2 recording(s) deleted" in result.output
