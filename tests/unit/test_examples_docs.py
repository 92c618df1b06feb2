"""Examples and docs stay true: examples validate cleanly, the tutorial runs as written,
and docs/errors.md documents exactly the codes the validator emits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callflow import Site, validate
from callflow.loader import load_site

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DOCS = ROOT / "docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
CODE = re.compile(r"\bCF\d{3}\b")


def test_there_are_examples() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"four_s_dealer.py", "ecommerce_hotline.py"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_without_errors_or_warnings(path: Path) -> None:
    site = load_site(str(path))
    assert isinstance(site, Site)
    assert [str(d) for d in validate(site)] == []


def tutorial_blocks() -> list[str]:
    return PYTHON_BLOCK.findall((DOCS / "tutorial.md").read_text(encoding="utf-8"))


def test_tutorial_python_blocks_run_and_the_site_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = tutorial_blocks()
    assert len(blocks) >= 4, "the tutorial lost its code blocks (or the regex broke)"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "tutorial"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"docs/tutorial.md python block {number}", "exec")
        exec(code, namespace)
    site = namespace.get("site")
    assert isinstance(site, Site)
    assert [str(d) for d in validate(site)] == []
    # the tutorial's compile step wrote the files where it said it would
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "extensions.conf",
        "musiconhold.conf",
        "pjsip.conf",
        "queues.conf",
        "voicemail.conf",
    ]


def test_tutorial_shows_shell_commands_as_console_blocks() -> None:
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    fences = re.findall(r"^```(\w*)$", text, re.MULTILINE)
    # every opening fence names its language: python (executed) or console (shown)
    openings = fences[0::2]
    assert openings and set(openings) <= {"python", "console"}, openings
    assert "$ callflow validate" in text and "$ callflow compile" in text


def emitted_codes() -> set[str]:
    # validate's CF1xx (some declared with the model's fields), lint's CF2xx
    sources = ("validate.py", "model/fieldcheck.py", "model/limits.py", "analysis.py")
    return {
        code
        for name in sources
        for code in CODE.findall((ROOT / "callflow" / name).read_text(encoding="utf-8"))
    }


def documented_codes() -> set[str]:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## (CF\d{3})\b", text, re.MULTILINE))


def test_every_emitted_code_is_documented_and_vice_versa() -> None:
    emitted, documented = emitted_codes(), documented_codes()
    assert len(emitted) >= 20, "the code regex no longer finds the validator's codes"
    assert sorted(emitted - documented) == [], "codes missing from docs/errors.md"
    assert sorted(documented - emitted) == [], "docs/errors.md documents codes never emitted"


def test_warning_codes_are_marked_as_warnings_in_the_docs() -> None:
    source = (ROOT / "callflow" / "validate.py").read_text(encoding="utf-8")
    warnings = set(re.findall(r"self\.warn\(\s*[^,]+,\s*\"(CF\d{3})\"", source))
    marked = set(
        re.findall(
            r"^## (CF\d{3}) \(warning\)$",
            (DOCS / "errors.md").read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    )
    assert warnings, "found no warnings in validate.py (regex broke?)"
    assert {code for code in marked if code.startswith("CF1")} == warnings


def test_docs_link_to_pages_that_exist() -> None:
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.(?:md|py))\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).resolve().is_file(), f"{page.name}: {target}"


def cli_commands() -> list[str]:
    """Every command the CLI registers, as typed: ``validate``, ``sandbox up``, ..."""
    import click

    from callflow.cli import main

    out = []
    for name, command in sorted(main.commands.items()):
        if isinstance(command, click.Group):
            out.extend(f"{name} {sub}" for sub in sorted(command.commands))
        else:
            out.append(name)
    return out


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = cli_commands()
    assert {"validate", "compile", "sandbox up"} <= set(commands)
    missing = [c for c in commands if f"callflow {c}" not in text]
    assert missing == [], "commands missing from docs/cli.md"


def test_the_readme_example_is_a_clean_site(tmp_path) -> None:
    from callflow.loader import load_site
    from callflow.validate import validate

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"^```python\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    (tmp_path / "shop.py").write_text(code, encoding="utf-8")
    assert validate(load_site(str(tmp_path / "shop.py"))) == []
