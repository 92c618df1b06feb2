"""Diagrams of the examples: Mermaid and dot text with every node and entry."""

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow import Branch, Hangup, Menu, Queue, Site, Staff
from callflow.cli import main
from callflow.graph import GraphError, edges, render, to_dot, to_mermaid
from callflow.loader import load_site

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["four_s_dealer", "ecommerce_hotline"]


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("draw", [to_mermaid, to_dot])
def test_diagrams_name_every_node_and_entry(name, draw):
    site = load_site(str(ROOT / f"examples/{name}.py"))
    text = draw(site)
    for node in site.nodes:
        assert f"n_{node.id}" in text and f"{node.id}\\n" in text.replace("<br/>", "\\n")
    for number in site.entries:
        assert f"call {number}" in text
    assert text == draw(site)  # deterministic


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_diagrams_are_up_to_date(name):
    site = load_site(str(ROOT / f"examples/{name}.py"))
    assert (ROOT / f"docs/diagrams/{name}.mmd").read_text() == to_mermaid(site)
    assert (ROOT / f"docs/diagrams/{name}.dot").read_text() == to_dot(site)


def test_menu_options_and_fallbacks_are_labelled():
    site = load_site(str(ROOT / "examples/four_s_dealer.py"))
    found = {(e.source, e.target, e.label) for e in edges(site)}
    assert ("main", "front_desk_queue", "0 (operator)") in found
    assert ("main", "sales", "1") in found
    assert ("hours", "holiday_notice", "holiday") in found
    assert ("vip_check", "vip_sales", "tier=vip") in found
    assert ("greeting", "main", "no answer") in found
    assert ("entry:8000", "identify", "") in found


def test_quotes_in_labels_cannot_break_the_diagram():
    from callflow import Hangup, Site

    site = Site(name="q", entries={"1": "bye"}, nodes=[Hangup(id="bye", label='a"b\\c')])
    assert 'a\\"b\\\\c' in to_dot(site)
    assert "a#quot;b" in to_mermaid(site)


def test_png_needs_graphviz_or_says_so(tmp_path, monkeypatch):
    site = load_site(str(ROOT / "examples/four_s_dealer.py"))
    if shutil.which("dot"):
        out = render(to_dot(site), "svg", tmp_path / "x.svg")
        assert "<svg" in out.read_text()
    monkeypatch.setenv("PATH", "")
    with pytest.raises(GraphError, match="not on PATH"):
        render(to_dot(site), "png", tmp_path / "x.png")
    result = CliRunner().invoke(
        main,
        [
            "graph",
            str(ROOT / "examples/four_s_dealer.py"),
            "--format",
            "png",
            "-o",
            str(tmp_path / "y.png"),
        ],
    )
    assert result.exit_code == 1 and "not on PATH" in result.output


# -- any text in a label stays inside its label ---------------------------------------------------
NASTY = [
    *'\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\t\x00\ud800\udfff"#&<>`\\;|[]{}()',
    "-->",
    "%%",
    "#quot;",
    "&amp;",
    "<img src=x onerror=alert(1)>",
    "<br/>",
    "\\n",
]
TEXT = st.lists(st.characters(exclude_categories=()) | st.sampled_from(NASTY), max_size=30).map(
    "".join
)


def _site_with(texts):
    label, case, number, name = texts
    return Site(
        name=name,
        entries={number: "b", "100": "m"},
        staff=[Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))],
        nodes=[
            Branch(id="b", label=label, attribute="tier", cases={case: "q"}, default="m"),
            Menu(id="m", label=label, prompt="p", options={"1": "q"}, operator="q"),
            Queue(id="q", label=label, members=["desk"], max_wait=60, overflow="bye"),
            Hangup(id="bye", label=label),
        ],
    )


def _statements(site):
    all_edges = edges(site)
    return (
        1
        + len(site.entries)
        + len(site.nodes)
        + any(e.target is None for e in all_edges)
        + len(all_edges)
    )


def _readable(text):
    """What a label is meant to show: lone surrogates cannot be written, U+FFFD stands in."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _mermaid_label(quoted):
    text = quoted[1:-1].replace("<br/>", "\n")
    names = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}
    return re.sub(r"#(\w+);", lambda m: names.get(m[1]) or chr(int(m[1])), text)


def _dot_label(quoted):
    text = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], quoted[1:-1])
    return re.sub(r"&(#\d+|amp);", lambda m: "&" if m[1] == "amp" else chr(int(m[1][1:])), text)


@settings(max_examples=300, deadline=None)
@given(st.tuples(TEXT, TEXT, TEXT, TEXT))
def test_any_label_text_stays_one_label_on_one_line(texts):
    site = _site_with(texts)
    label, case, number, name = (_readable(t) for t in texts)
    n = _statements(site)
    mermaid, dot = to_mermaid(site), to_dot(site)
    for text, statements in ((mermaid, n), (dot, n + 4)):  # dot: header, 3 settings, "}"
        text.encode("utf-8")  # writable as it is
        lines = text.split("\n")
        assert lines[-1] == "" and text.splitlines() == lines[:-1]  # no other line breaks
        assert len(lines) - 1 == statements
    # every quoted string decodes to exactly the text it stands for
    m_labels = [_mermaid_label(q) for q in re.findall(r'"[^"]*"', mermaid)]
    assert f"call {number}" in m_labels and f"tier={case}" in m_labels
    assert f"bye\nHangup\n{label}" in m_labels or not label
    for q in re.findall(r'"[^"]*"', mermaid):
        assert not re.search(r"[<>&`]", q.replace("<br/>", "")), q
        assert not re.search(r"#(?!(\w+);)", q), q
    d_labels = [_dot_label(q) for q in re.findall(r'"(?:[^"\\]|\\.)*"', dot)]
    assert name in d_labels and f"call {number}" in d_labels and f"tier={case}" in d_labels
    assert f"bye\nHangup\n{label}" in d_labels or not label
