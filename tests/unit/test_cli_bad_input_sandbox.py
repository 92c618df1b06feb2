"""``callflow sandbox`` on bad input: one clear line, a non-zero exit, no traceback.

Only refusals are run here: nothing in this corpus starts an Asterisk.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.badinput import Case, assert_clean, check, run_real

LONG = "d" * 120

CASES = [
    Case(
        "cli-nothing-running",
        ["sandbox", "cli", "--state-dir", "{tmp}/state", "core", "show", "version"],
        expect=["callflow sandbox up"],
        exit_code=1,
    ),
    Case(
        "status-nothing-running",
        ["sandbox", "status", "--state-dir", "{tmp}/state"],
        expect=["running"],
        exit_code=1,
    ),
    Case(
        "up-state-dir-too-long",
        ["sandbox", "up", "--state-dir", f"{{tmp}}/{LONG}/{LONG}"],
        expect=["107"],
        exit_code=1,
    ),
    Case(
        "up-state-dir-is-a-file",
        ["sandbox", "up", "--state-dir", "{tmp}/plain"],
        files={"plain": "not a directory\n"},
        expect=["{tmp}/plain"],
        exit_code=1,
    ),
    Case(
        "cli-without-a-command",
        ["sandbox", "cli"],
        expect=["COMMAND"],
        exit_code=2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_sandbox_input_fails_cleanly(case: Case, tmp_path: Path) -> None:
    output = check(case, tmp_path)
    assert "Error" in output or "Usage" in output or "running: False" in output


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_a_state_dir_others_may_write_is_refused_by_every_command(
    tmp_path: Path, mode: int
) -> None:
    state = tmp_path / "shared"
    state.mkdir()
    os.chmod(state, mode)
    for command in (["up"], ["down"], ["status"], ["cli", "core", "show", "version"]):
        case = Case(
            f"{command[0]}-writable-{mode:o}",
            ["sandbox", command[0], "--state-dir", str(state), *command[1:]],
            expect=[str(state), "writable"],
            exit_code=1,
        )
        check(case, tmp_path)
    assert sorted(p.name for p in state.iterdir()) == []  # nothing was written there


def test_the_real_entry_point_refuses_a_too_long_state_dir_without_a_traceback(
    tmp_path: Path,
) -> None:
    case = CASES[2]
    assert_clean(case, tmp_path, run_real(case, tmp_path))
