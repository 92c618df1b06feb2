"""`callflow demo` and `callflow prompts` on bad input: one clear message naming what is
wrong, a non-zero exit and no traceback, before any sandbox starts."""

from __future__ import annotations

import pytest

from tests.badinput import GOOD_SITE, Case, assert_clean, run_cli

BROKEN = """\
from callflow import Hangup, Site
site = Site(name="shop", entries={"100": "nowhere"}, nodes=[Hangup(id="bye")])
"""

CASES = [
    Case("list-no-site", ["prompts", "list", "{tmp}/nope.py", "--sounds", "{tmp}"],
         expect=["nope.py"]),
    Case("list-sounds-missing", ["prompts", "list", "site.py", "--sounds", "{tmp}/nosounds"],
         files={"site.py": GOOD_SITE}, expect=["--sounds", "nosounds", "does not exist"],
         exit_code=2),
    Case("check-sounds-is-file", ["prompts", "check", "site.py", "--sounds", "site.py"],
         files={"site.py": GOOD_SITE}, expect=["--sounds", "is a file"], exit_code=2),
    Case("check-broken-site", ["prompts", "check", "site.py", "--sounds", "{tmp}"],
         files={"site.py": BROKEN}, expect=["nowhere", "error(s) in the site"], exit_code=1),
    Case("check-missing", ["prompts", "check", "site.py", "--sounds", "{tmp}/s"],
         files={"site.py": GOOD_SITE, "s/en/other.wav": b""},
         expect=["missing: custom/main (en)", "site.nodes['main'].prompt"], exit_code=1),
    Case("check-no-language", ["prompts", "check", "site.py", "--sounds", "{tmp}", "--language"],
         files={"site.py": GOOD_SITE}, expect=["--language"], exit_code=2),
    Case("demo-report-no-dir", ["demo", "-o", "{tmp}/nodir/r.html"],
         expect=["{tmp}/nodir", "does not exist"], exit_code=2),
    Case("demo-report-is-dir", ["demo", "-o", "{tmp}"], expect=["is a directory"], exit_code=2),
    Case("demo-effective-negative", ["demo", "--effective", "-5"], expect=["--effective"],
         exit_code=2),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, tmp_path):
    assert_clean(case, tmp_path, run_cli(case, tmp_path))
