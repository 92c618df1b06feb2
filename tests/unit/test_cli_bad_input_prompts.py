"""`callflow demo` and `callflow prompts` on bad input: one clear message naming what is
wrong, a non-zero exit and no traceback, before any sandbox starts."""

from __future__ import annotations

import pytest

from tests.badinput import Case, assert_clean, run_cli

CASES = [
    Case("demo-report-no-dir", ["demo", "-o", "{tmp}/nodir/r.html"],
         expect=["{tmp}/nodir", "does not exist"], exit_code=2),
    Case("demo-report-is-dir", ["demo", "-o", "{tmp}"], expect=["is a directory"], exit_code=2),
    Case("demo-effective-negative", ["demo", "--effective", "-5"], expect=["--effective"],
         exit_code=2),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, tmp_path):
    assert_clean(case, tmp_path, run_cli(case, tmp_path))
