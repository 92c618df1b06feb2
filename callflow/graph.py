"""Draw a flow: entry points, menus with their options, queues, time conditions and the
fallbacks between them, as Mermaid or Graphviz dot text::

    print(to_mermaid(site))
    render(to_dot(site), "svg", Path("site.svg"))   # needs Graphviz's ``dot`` on PATH

Every node appears under its own id, so a diagram can be searched for what a trace says.
A ``failure``/``no_answer``/``overflow`` left unset is drawn as an edge to "hang up".
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from callflow.errors import CallflowError
from callflow.model.nodes import (
    Branch,
    Dial,
    LanguageSelect,
    Menu,
    Node,
    Play,
    Queue,
    TimeCondition,
    Voicemail,
)
from callflow.model.site import Site

__all__ = ["GraphError", "edges", "render", "to_dot", "to_mermaid"]

_UNSET_HANGS_UP = ("failure", "no_answer", "overflow")


class GraphError(CallflowError, RuntimeError):
    """A diagram could not be rendered (no Graphviz, or dot failed)."""


@dataclass(frozen=True)
class Edge:
    source: str  # a node id, or "entry:<number>"
    target: str | None  # None: the call is hung up
    label: str


def _describe(node: Node) -> str:
    kind = type(node).__name__
    if isinstance(node, Dial):
        detail = f"ring {node.target} {node.ring}s"
    elif isinstance(node, Queue):
        detail = f"max wait {node.max_wait}s" + (
            f", manager first {node.manager_first}s" if node.manager_first else ""
        )
    elif isinstance(node, Voicemail):
        detail = f"mailbox {node.mailbox}"
    elif isinstance(node, Menu):
        detail = f"{node.tries} tries x {node.timeout:g}s"
    elif isinstance(node, TimeCondition):
        detail = ", ".join(f"{h.days} {h.start}-{h.end}" for h in node.hours)
    elif isinstance(node, Branch):
        detail = f"by {node.attribute}"
    elif isinstance(node, Play):
        detail = " ".join(p.file for p in node.prompts)  # type: ignore[union-attr]
    else:
        detail = ""
    head = f"{node.id}\n{kind}" + (f": {detail}" if detail else "")
    return head + (f"\n{node.label}" if node.label else "")


def _label(node: Node, role: str) -> str:
    if isinstance(node, Menu) and role.startswith("options["):
        return role[len("options[") + 1 : -2]
    if isinstance(node, Branch) and role.startswith("cases["):
        return f"{node.attribute}={role[len('cases[') + 1 : -2]}"
    if isinstance(node, Dial) and role == "no_answer":
        return "no answer"
    return role.replace("_", " ")


def edges(site: Site) -> list[Edge]:
    """Every edge of the diagram, entries first, then nodes in id order."""
    out = [Edge(f"entry:{number}", target, "") for number, target in sorted(site.entries.items())]
    for node in sorted(site.nodes, key=lambda n: n.id):
        if isinstance(node, Menu):
            for digit, choice in sorted(node.choices().items()):
                text = f"{digit} (operator)" if digit == "0" and node.operator == choice else digit
                out.append(Edge(node.id, choice, text))
            roles: dict[str, str | None] = {
                r: t for r, t in node.edges().items() if not r.startswith("options[")
            }
            roles.pop("operator", None)
            if node.on_timeout is not None and node.invalid is not None:
                roles.pop("failure", None)  # never reached
        elif isinstance(node, LanguageSelect):
            for digit, lang in sorted(node.languages.items()):
                out.append(Edge(node.id, node.next, f"{digit}: {lang}"))
            continue
        else:
            roles = node.edges()
        for role, target in roles.items():
            if target is None and role not in _UNSET_HANGS_UP:
                continue
            out.append(Edge(node.id, target, _label(node, role)))
    return out


def _id(ref: str | None) -> str:
    if ref is None:
        return "x_hangup"
    if ref.startswith("entry:"):
        return "e_" + re.sub(r"[^0-9A-Za-z]", lambda m: f"_{ord(m.group()):x}", ref[6:])
    return f"n_{ref}"


def _shape_mermaid(node: Node, text: str) -> str:
    if isinstance(node, (Menu, LanguageSelect, Branch, TimeCondition)):
        return "{" + text + "}"
    if node.reaches_person:
        return "([" + text + "])"
    if node.destination() is not None:
        return "[[" + text + "]]"
    return "[" + text + "]"


def _mermaid_text(text: str) -> str:
    clean = text.replace('"', "#quot;").replace("\n", "<br/>")
    return f'"{clean}"'


def to_mermaid(site: Site) -> str:
    """The flow as a Mermaid flowchart (paste it into Markdown)."""
    lines = ["flowchart TD"]
    for number in sorted(site.entries):
        lines.append(f"    {_id('entry:' + number)}(({_mermaid_text('call ' + number)}))")
    for node in sorted(site.nodes, key=lambda n: n.id):
        lines.append(f"    {_id(node.id)}{_shape_mermaid(node, _mermaid_text(_describe(node)))}")
    all_edges = edges(site)
    if any(e.target is None for e in all_edges):
        lines.append(f'    {_id(None)}[/"hang up"/]')
    for e in all_edges:
        arrow = f"-- {_mermaid_text(e.label)} -->" if e.label else "-->"
        lines.append(f"    {_id(e.source)} {arrow} {_id(e.target)}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(site: Site) -> str:
    """The flow as a Graphviz digraph (``dot -Tsvg``)."""
    lines = [
        f"digraph {_dot_text(site.name)} {{",
        "    rankdir=LR;",
        '    node [fontname="Helvetica", fontsize=10];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    for number in sorted(site.entries):
        lines.append(
            f"    {_id('entry:' + number)} [label={_dot_text('call ' + number)}, "
            "shape=circle, style=filled, fillcolor=lightgrey];"
        )
    for node in sorted(site.nodes, key=lambda n: n.id):
        if isinstance(node, (Menu, LanguageSelect, Branch, TimeCondition)):
            shape = "diamond" if isinstance(node, (Branch, TimeCondition)) else "hexagon"
        elif node.reaches_person:
            shape = 'box, style="rounded,filled", fillcolor=palegreen'
        elif isinstance(node, Voicemail):
            shape = "box, style=filled, fillcolor=lightyellow"
        else:
            shape = "box"
        lines.append(f"    {_id(node.id)} [label={_dot_text(_describe(node))}, shape={shape}];")
    all_edges = edges(site)
    if any(e.target is None for e in all_edges):
        lines.append(f'    {_id(None)} [label="hang up", shape=octagon];')
    for e in all_edges:
        label = f" [label={_dot_text(e.label)}]" if e.label else ""
        lines.append(f"    {_id(e.source)} -> {_id(e.target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, fmt: str, output: Path) -> Path:
    """Run Graphviz's ``dot`` to write ``output`` as ``fmt`` (png, svg, pdf)."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphError(
            f"Graphviz 'dot' is not on PATH; cannot write {fmt} "
            "(install graphviz, or use --format mermaid or dot)"
        )
    if fmt not in ("png", "svg", "pdf"):
        raise GraphError(f"unknown image format {fmt!r}; use png, svg or pdf")
    done = subprocess.run(
        [exe, f"-T{fmt}", "-o", str(output)],
        input=dot_source,
        text=True,
        capture_output=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise GraphError(f"dot failed: {done.stderr.strip()}")
    return output
