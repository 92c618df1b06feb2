"""A harness for "bad input ends in one clear message, a non-zero exit and no traceback".

Each command group keeps its own corpus of :class:`Case` rows in its own test file and
runs them with :func:`check`::

    from tests.badinput import Case, check

    CASES = [
        Case("missing-file", ["validate", "{tmp}/nope.py"], expect=["nope.py", "no such file"]),
        Case("keep-0", ["deploy", "{tmp}/site.py", "--keep", "0"], files={"site.py": GOOD},
             expect=["--keep"], exit_code=2),
    ]

    @pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
    def test_bad_input(case, tmp_path):
        check(case, tmp_path)

``{tmp}`` in ``argv`` (and in ``expect`` and ``env`` values) is replaced by the case's own
directory, where ``files`` are written first (a ``bytes`` value is written as is) and
which is the working directory while the command runs. :func:`check` runs the command
in-process with click's ``CliRunner``; :func:`run_real` runs the installed ``callflow``
entry point in a subprocess (for what only a real process shows: ``sys.exit`` in user
code, signals, the interpreter's own traceback printing), and :func:`assert_clean`
checks either kind of result.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner, Result

__all__ = ["GOOD_SITE", "Case", "assert_clean", "check", "prepare", "run_cli", "run_real"]

#: a small site that validates, for cases whose problem is elsewhere (an option, a path)
GOOD_SITE = """\
from callflow import Dial, Menu, Queue, Site, Staff, Voicemail

site = Site(
    name="good",
    entries={"100": "main"},
    staff=[Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))],
    nodes=[
        Menu(id="main", prompt="custom/main", options={"1": "desk"}, operator="front",
             failure="front"),
        Dial(id="front", target="ann", ring=15, no_answer="desk"),
        Queue(id="desk", members=["desk"], max_wait=60, overflow="vm"),
        Voicemail(id="vm", mailbox="100"),
    ],
)
"""


@dataclass(frozen=True)
class Case:
    """One bad input: the command line after ``callflow``, the files it needs, and the
    words its message must contain (naming what is wrong and where)."""

    id: str
    argv: Sequence[str]
    expect: Sequence[str] = ()
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    #: None: any non-zero status; else exactly this one (1: a problem, 2: a usage error)
    exit_code: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: standard input for the command
    input: str | None = None


def _fill(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp))


def prepare(case: Case, tmp: Path) -> list[str]:
    """Write the case's files under ``tmp``; return its argv with ``{tmp}`` filled in."""
    for name, content in case.files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(_fill(content, tmp), encoding="utf-8")
    return [_fill(arg, tmp) for arg in case.argv]


def run_cli(case: Case, tmp: Path) -> Result:
    """Run the case in-process (click's CliRunner), in ``tmp``."""
    from callflow.cli import main

    argv = prepare(case, tmp)
    env = {k: _fill(v, tmp) for k, v in case.env.items()}
    with contextlib.chdir(tmp):
        return CliRunner().invoke(main, argv, input=case.input, env=env, catch_exceptions=True)


def run_real(case: Case, tmp: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the case through the installed ``callflow`` entry point, in ``tmp``."""
    argv = prepare(case, tmp)
    exe = shutil.which("callflow", path=str(Path(sys.executable).parent)) or "callflow"
    env = {**os.environ, **{k: _fill(v, tmp) for k, v in case.env.items()}}
    return subprocess.run(
        [exe, *argv],
        cwd=tmp,
        env=env,
        input=case.input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_clean(case: Case, tmp: Path, result: Result | subprocess.CompletedProcess[str]) -> str:
    """The command failed cleanly: a non-zero status (the expected one, if given), no
    traceback, no exception escaping the command, and every ``expect`` word in its
    output (stdout and stderr). Returns the output."""
    if isinstance(result, Result):
        output, status = result.output, result.exit_code
        escaped = result.exception
        if escaped is not None and not isinstance(escaped, SystemExit):
            detail = "".join(traceback.format_exception(escaped))
            raise AssertionError(f"[{case.id}] an exception escaped the command:\n{detail}")
    else:
        output, status = result.stdout + result.stderr, result.returncode
    where = f"[{case.id}] callflow {' '.join(case.argv)} (exit {status}):\n{output}"
    assert "Traceback" not in output, f"a traceback was printed: {where}"
    assert status != 0, f"exited 0 on bad input: {where}"
    if case.exit_code is not None:
        assert status == case.exit_code, f"expected exit {case.exit_code}: {where}"
    assert output.strip(), f"failed without a word: {where}"
    for word in case.expect:
        assert _fill(word, tmp) in output, f"the message does not say {word!r}: {where}"
    return output


def check(case: Case, tmp: Path) -> str:
    """Run ``case`` in-process and :func:`assert_clean` it; returns the output."""
    return assert_clean(case, tmp, run_cli(case, tmp))
