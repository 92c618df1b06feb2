"""Each example's compiled output is committed under dialplans/<example>/; any drift fails.

Regenerate after an intended change with ``make dialplans`` and review the diff.
"""

import difflib
from pathlib import Path

import pytest

from callflow.compiler import compile_site
from callflow.loader import load_site

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_committed_dialplan_matches_a_fresh_compile(example):
    compiled = compile_site(load_site(str(example)))
    folder = ROOT / "dialplans" / example.stem
    assert folder.is_dir(), f"{folder} missing: run `make dialplans`"
    assert sorted(p.name for p in folder.iterdir()) == sorted(compiled.files)
    for name, text in compiled.files.items():
        committed = (folder / name).read_text()
        diff = "".join(
            difflib.unified_diff(committed.splitlines(True), text.splitlines(True), name, "fresh")
        )
        assert not diff, f"dialplans/{example.stem}/{name} is stale:\n{diff}"


def test_compiling_twice_gives_identical_bytes(tmp_path):
    from click.testing import CliRunner

    from callflow.cli import main

    runner = CliRunner()
    for out in ("a", "b"):
        result = runner.invoke(main, ["compile", str(EXAMPLES[0]), "-o", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    for name in ("extensions.conf", "queues.conf", "voicemail.conf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
