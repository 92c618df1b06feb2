"""`callflow deploy` and `diff` on a corpus of bad input: each ends in one clear message
naming what is wrong, a non-zero exit and no traceback (and writes nothing)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow.cli import main

GOOD = """\
from callflow import Hangup, Play, Site
site = Site(name="shop", entries={"100": "p"},
            nodes=[Play(id="p", prompts="hello-world", next="bye"), Hangup(id="bye")])
"""
BROKEN = """\
from callflow import Hangup, Site
site = Site(name="shop", entries={"100": "nowhere"}, nodes=[Hangup(id="bye")])
"""
# An `asterisk` that answers `core show settings` with a configuration directory
FAKE = """\
import sys
if sys.argv[-1] == "core show settings":
    print("* Directories\\n  Configuration directory:     " + sys.argv[1])
else:
    print("No such command")
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "broken.py").write_text(BROKEN)
    (tmp_path / "fake_asterisk.py").write_text(FAKE)
    (tmp_path / "etc").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "etc" / "callflow").mkdir()
    return tmp_path


def fake(files: Path, reports: str) -> str:
    return f"{sys.executable} {files / 'fake_asterisk.py'} {files / reports}"


# (arguments with {d} for the temp dir, what the message must say, exit code)
CASES = [
    ("deploy {d}/good.py --asterisk-etc {d}/etc --keep 0", "--keep", 2),
    ("deploy {d}/good.py --asterisk-etc {d}/etc --keep many", "--keep", 2),
    ('deploy {d}/good.py --asterisk-etc {d}/etc --asterisk-cmd "\'unbalanced"', "quotation", 2),
    ("deploy {d}/good.py --asterisk-etc {d}/etc --asterisk-cmd ''", "must name a command", 2),
    ("deploy {d}/missing.py --asterisk-etc {d}/etc", "no such file", 1),
    ("deploy {d}/good.py", "give --asterisk-etc", 2),
    ("deploy {d}/good.py --asterisk-etc {d}/etc --sandbox", "not both", 2),
    ("deploy {d}/good.py --asterisk-etc {d}/etc --state-dir {d}/s", "goes with --sandbox", 2),
    ("deploy {d}/good.py --sandbox --state-dir {d}/nosandbox", "no sandbox state", 1),
    ("deploy {d}/good.py --asterisk-etc {d}/a_file", "is a file", 2),
    ("deploy {d}/good.py --asterisk-etc {d}/nodir --asterisk-cmd FAKE:nodir", "not a dir", 1),
    ("deploy {d}/good.py --asterisk-etc {d}/etc --log-file {d}/etc", "is a directory", 2),
    ("deploy {d}/good.py --asterisk-etc {d}/etc --asterisk-cmd /nonexistent/ast", "No such", 1),
    ("deploy {d}/good.py --asterisk-etc {d}/etc --asterisk-cmd FAKE:other", "not the conf", 1),
    ("deploy {d}/broken.py --asterisk-etc {d}/etc", "unknown target 'nowhere'", 1),
    ("deploy shop --rollback --asterisk-etc {d}/etc --asterisk-cmd FAKE:etc", "not deployed", 1),
    ("deploy shop --rollback --asterisk-etc {d}/etc --asterisk-cmd FAKE:other", "not the conf", 1),
    ("deploy shop --asterisk-etc {d}/etc", "shop: no such file", 1),
    ("diff {d}/good.py", "give --asterisk-etc", 2),
    ("diff {d}/broken.py --asterisk-etc {d}/etc", "unknown target 'nowhere'", 1),
    ("diff {d}/good.py --asterisk-etc {d}/etc --state-dir {d}/s", "goes with --sandbox", 2),
]


@pytest.mark.parametrize(("args", "says", "code"), CASES)
def test_bad_input_gives_one_clear_message_and_no_traceback(
    files: Path, args: str, says: str, code: int
) -> None:
    argv = [
        fake(files, arg.split(":", 1)[1]) if arg.startswith("FAKE:") else arg
        for arg in shlex.split(args.format(d=files))
    ]
    before = sorted(p.relative_to(files) for p in files.rglob("*"))
    result = CliRunner().invoke(main, argv)
    output = result.output
    assert "Traceback" not in output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, output
    assert says in output, output
    assert sorted(p.relative_to(files) for p in files.rglob("*")) == before  # nothing written
