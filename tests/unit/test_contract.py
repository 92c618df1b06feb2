"""The names shared with Asterisk live once, in callflow.contract, and its string
functions behave like Asterisk's TOLOWER and FILTER."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import callflow
from callflow import contract
from callflow.contract import ascii_lower, asterisk_filter, lowered_key

PACKAGE = Path(callflow.__file__).parent
#: a channel variable of ours (harness variables such as __CF_TEST_CID are the test
#: dialplan's, not the flows')
VARIABLE = re.compile(r"(?<![A-Za-z0-9_])CF_[A-Z0-9_]+")
#: the start of a generated name: f"cf-{site}..." / f"callflow-{site}"
NAME_PREFIX = re.compile(r"(?:^|[^A-Za-z0-9_-])(cf|callflow)-$")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def contract_literals(path: Path) -> list[str]:
    """Every copy of a contract name in ``path``'s code (docstrings excluded)."""
    where = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else path.name
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            for name in VARIABLE.findall(node.value):
                found.append(f"{where}:{node.lineno}: {name}")
            if contract.END_EVENT in node.value:
                found.append(f"{where}:{node.lineno}: {contract.END_EVENT}")
        if isinstance(node, ast.JoinedStr):
            for part, after in zip(node.values, node.values[1:], strict=False):
                if (
                    isinstance(part, ast.Constant)
                    and isinstance(after, ast.FormattedValue)
                    and NAME_PREFIX.search(str(part.value))
                ):
                    found.append(f"{where}:{node.lineno}: {part.value!r}{{...}}")
    return sorted(set(found), key=lambda line: (int(line.split(":")[1]), line))


def test_no_contract_name_is_written_outside_the_contract() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "contract.py":
            continue
        found += contract_literals(path)
    for template in sorted((PACKAGE / "compiler" / "templates").glob("*.j2")):
        text = template.read_text()
        found += [f"{template.name}: {name}" for name in VARIABLE.findall(text)]
        found += [f"{template.name}: {m}" for m in re.findall(r"\b(?:cf|callflow)-\{\{", text)]
    assert found == []


def test_a_backwards_range_is_refused() -> None:
    """Asterisk wraps a backwards range around the byte values; callflow never writes one."""
    with pytest.raises(ValueError, match="z-a"):
        asterisk_filter("z-a", "m")


def test_the_literal_check_sees_copies(tmp_path: Path) -> None:
    """The check above is not blind: it finds each kind of copy and skips docstrings."""
    sample = tmp_path / "probe.py"
    sample.write_text(
        '"""CF_TRACE in a docstring is documentation."""\n'
        'a = "CF_TRACE"\n'
        'b = f"Set(CF_DEST={x})"\n'
        'c = f"cf-{site}-{node}"\n'
        'd = f"callflow-{site}"\n'
        'e = "CallflowEnd"\n'
        'f = "__CF_TEST_CID"\n'
        'g = f"Local/a@cf-test-{kind}/n"\n'
    )
    found = [line.split(": ", 1)[1] for line in contract_literals(sample)]
    assert found == ["CF_TRACE", "CF_DEST", "'cf-'{...}", "'callflow-'{...}", "CallflowEnd"]


@pytest.mark.parametrize(
    ("value", "lowered"),
    [
        ("VIP", "vip"),
        ("VİP", "vİp"),  # U+0130 is not A-Z: TOLOWER leaves it
        ("\u212a", "\u212a"),  # Kelvin sign
        ("\uff36\uff29\uff30", "\uff36\uff29\uff30"),  # full-width
        ("Straße", "straße"),
        ("", ""),
    ],
)
def test_ascii_lower_changes_only_a_to_z(value: str, lowered: str) -> None:
    assert ascii_lower(value) == lowered


@pytest.mark.parametrize(
    ("allowed", "value", "kept"),
    [
        ("a-z0-9_", "vİp", "vp"),
        ("a-z0-9_", "gold tier 2", "goldtier2"),
        ("0-9", "+49 (30) 123", "4930123"),
        ("0-9+", "+49 30", "+4930"),
        ("a-z0-9_.", "a.b c_d", "a.bc_d"),
        ("a-z", "\uff36\uff29\uff30\u00a0vip", "vip"),
    ],
)
def test_filter_keeps_the_allowed_bytes(allowed: str, value: str, kept: str) -> None:
    assert asterisk_filter(allowed, value) == kept


@given(st.text())
def test_the_compared_key_is_plain_ascii(value: str) -> None:
    """Whatever the CRM holds, the key a branch or tier compares is lower ASCII only,
    and ASCII letters are lowered as Asterisk lowers them."""
    key = lowered_key(contract.IDENT, value)
    assert re.fullmatch("[a-z0-9_]*", key)
    ascii_only = "".join(c for c in value if c.isascii())
    assert key == re.sub("[^a-z0-9_]", "", ascii_only.lower())
