"""Diagrams of the examples: Mermaid and dot text with every node and entry."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

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
