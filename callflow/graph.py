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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from callflow.errors import CallflowError
from callflow.model.nodes import (
    Ask,
    Branch,
    Dial,
    Goto,
    Hangup,
    LanguageSelect,
    Lookup,
    Menu,
    Node,
    Play,
    Queue,
    TimeCondition,
    Voicemail,
)
from callflow.model.site import Site
from callflow.model.visitor import NodeVisitor

__all__ = ["Drawer", "GraphError", "edges", "render", "to_dot", "to_mermaid"]

_UNSET_HANGS_UP = ("failure", "no_answer", "overflow")


class GraphError(CallflowError, RuntimeError):
    """A diagram could not be rendered (no Graphviz, or dot failed)."""


@dataclass(frozen=True)
class Edge:
    source: str  # a node id, or "entry:<number>"
    target: str | None  # None: the call is hung up
    label: str


def _no(role: str) -> bool:
    return False


Shape = Literal["menu", "decision", "person", "voicemail", "end", "step"]


@dataclass(frozen=True)
class _Look:
    """How one node is drawn: what its box says under its id and type, its shape, and
    its edges."""

    detail: str
    shape: Shape
    edges: tuple[Edge, ...]


class Drawer(NodeVisitor[_Look]):
    """Graph's backend (``Drawer.require(site.nodes)`` checks a site up front).

    One ``visit_<node>`` per node type: a type without one fails with
    :class:`~callflow.errors.UnsupportedNode` ("graph can't ...") instead of being left
    out of the diagram."""

    backend = "graph"

    @staticmethod
    def follow(
        node: Node, labels: Mapping[str, str] | None = None, skip: Callable[[str], bool] = _no
    ) -> tuple[Edge, ...]:
        """Edges by role; an unset role is drawn only where it hangs the caller up."""
        return tuple(
            Edge(node.id, target, (labels or {}).get(role, role.replace("_", " ")))
            for role, target in node.edges().items()
            if (target is not None or role in _UNSET_HANGS_UP) and not skip(role)
        )

    def visit_play(self, node: Play) -> _Look:
        files = " ".join(p.file for p in node.prompts)
        return _Look(files, "step", self.follow(node))

    def visit_goto(self, node: Goto) -> _Look:
        return _Look("", "step", self.follow(node))

    def visit_lookup(self, node: Lookup) -> _Look:
        return _Look("", "step", self.follow(node))

    def visit_menu(self, node: Menu) -> _Look:
        out = [
            Edge(node.id, choice, f"{d} (operator)" if d == "0" and node.operator == choice else d)
            for d, choice in sorted(node.choices().items())
        ]
        skip = {"operator"} if node.can_fail else {"operator", "failure"}
        out += self.follow(node, skip=lambda role: role.startswith("options[") or role in skip)
        return _Look(f"{node.tries} tries x {node.timeout:g}s", "menu", tuple(out))

    def visit_ask(self, node: Ask) -> _Look:
        skip = set() if node.can_fail else {"failure"}
        look = self.follow(node, {"next": f"answer {node.answers}"}, skip=skip.__contains__)
        return _Look(f"{node.question_id}: {node.tries} tries x {node.timeout:g}s", "menu", look)

    def visit_language_select(self, node: LanguageSelect) -> _Look:
        out = tuple(
            Edge(node.id, node.next, f"{digit}: {lang}")
            for digit, lang in sorted(node.languages.items())
        )
        return _Look("", "menu", out)

    def visit_dial(self, node: Dial) -> _Look:
        look = self.follow(node, {"no_answer": "no answer"})
        return _Look(f"ring {node.target} {node.ring}s", "person", look)

    def visit_queue(self, node: Queue) -> _Look:
        detail = f"max wait {node.max_wait}s" + (
            f", manager first {node.manager_first}s" if node.manager_first else ""
        )
        return _Look(detail, "person", self.follow(node))

    def visit_voicemail(self, node: Voicemail) -> _Look:
        return _Look(f"mailbox {node.mailbox}", "voicemail", self.follow(node))

    def visit_hangup(self, node: Hangup) -> _Look:
        return _Look("", "end", self.follow(node))

    def visit_time_condition(self, node: TimeCondition) -> _Look:
        detail = ", ".join(f"{h.days} {h.start}-{h.end}" for h in node.hours)
        return _Look(detail, "decision", self.follow(node))

    def visit_branch(self, node: Branch) -> _Look:
        labels = {f"cases[{k!r}]": f"{node.attribute}={k}" for k in node.cases}
        return _Look(f"by {node.attribute}", "decision", self.follow(node, labels))


def _looks(site: Site) -> list[tuple[Node, _Look]]:
    """Every node with how it is drawn, in id order; an unknown node type raises
    :class:`~callflow.errors.UnsupportedNode` before anything is drawn."""
    drawer = Drawer()
    return [(node, drawer.visit(node)) for node in sorted(site.nodes, key=lambda n: n.id)]


def _describe(node: Node, look: _Look) -> str:
    head = f"{node.id}\n{type(node).__name__}" + (f": {look.detail}" if look.detail else "")
    return head + (f"\n{node.label}" if node.label else "")


def edges(site: Site) -> list[Edge]:
    """Every edge of the diagram, entries first, then nodes in id order."""
    out = [Edge(f"entry:{number}", target, "") for number, target in sorted(site.entries.items())]
    for _node, look in _looks(site):
        out += look.edges
    return out


def _id(ref: str | None) -> str:
    if ref is None:
        return "x_hangup"
    if ref.startswith("entry:"):
        return "e_" + re.sub(r"[^0-9A-Za-z]", lambda m: f"_{ord(m.group()):x}_", ref[6:])
    return "n_" + re.sub(r"[^0-9A-Za-z_]", lambda m: f"_{ord(m.group()):x}_", ref)


def _kept(char: str) -> bool:
    """Whether ``char`` may stand for itself inside a quoted label: printable, not a line
    or paragraph separator, not a lone surrogate (``str.isprintable`` is False for every
    control, format, separator and surrogate character but the plain space)."""
    return char == " " or char.isprintable()


def _codepoint(char: str) -> int:
    return 0xFFFD if 0xD800 <= ord(char) <= 0xDFFF else ord(char)  # lone surrogate: U+FFFD


#: characters Mermaid reads inside a quoted label: its end, its entity codes (#...;),
#: HTML (the label is rendered as HTML) and Markdown strings (backticks)
_MERMAID_SPECIAL = {'"': "#quot;", "#": "#35;", "&": "#amp;", "<": "#lt;", ">": "#gt;", "`": "#96;"}


def _mermaid_text(text: str) -> str:
    """``text`` as one quoted Mermaid label on one line: every character that could end
    the string, the line or the statement, or be read as HTML, Markdown or an entity
    code, is written as a Mermaid entity code (``#quot;``, ``#60;``); ``\n`` is a line
    break in the box (``<br/>``)."""
    out = []
    for char in text:
        if char == "\n":
            out.append("<br/>")
        elif char in _MERMAID_SPECIAL:
            out.append(_MERMAID_SPECIAL[char])
        elif _kept(char):
            out.append(char)
        else:
            out.append(f"#{_codepoint(char)};")
    return '"' + "".join(out) + '"'


_MERMAID_SHAPES: dict[Shape, tuple[str, str]] = {
    "menu": ("{", "}"),
    "decision": ("{", "}"),
    "person": ("([", "])"),
    "voicemail": ("[[", "]]"),
    "end": ("[[", "]]"),
    "step": ("[", "]"),
}


def to_mermaid(site: Site) -> str:
    """The flow as a Mermaid flowchart (paste it into Markdown). Draw a site that
    validates: ids and numbers are drawn as they are."""
    looks = _looks(site)
    lines = ["flowchart TD"]
    for number in sorted(site.entries):
        lines.append(f"    {_id('entry:' + number)}(({_mermaid_text('call ' + number)}))")
    for node, look in looks:
        left, right = _MERMAID_SHAPES[look.shape]
        lines.append(f"    {_id(node.id)}{left}{_mermaid_text(_describe(node, look))}{right}")
    all_edges = edges(site)
    if any(e.target is None for e in all_edges):
        lines.append(f'    {_id(None)}[/"hang up"/]')
    for e in all_edges:
        arrow = f"-- {_mermaid_text(e.label)} -->" if e.label else "-->"
        lines.append(f"    {_id(e.source)} {arrow} {_id(e.target)}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    """``text`` as one quoted Graphviz string on one line: backslash and quote escaped
    (a backslash starts Graphviz's own escapes such as ``\\l``), ``&`` and every
    character that is not printable (line and paragraph separators, controls, lone
    surrogates) as an HTML character reference, which Graphviz decodes in labels;
    ``\n`` is a line break in the box."""
    out = []
    for char in text:
        if char == "\n":
            out.append("\\n")
        elif char in '"\\':
            out.append("\\" + char)
        elif char == "&":
            out.append("&amp;")
        elif _kept(char):
            out.append(char)
        else:
            out.append(f"&#{_codepoint(char)};")
    return '"' + "".join(out) + '"'


_DOT_SHAPES: dict[Shape, str] = {
    "menu": "hexagon",
    "decision": "diamond",
    "person": 'box, style="rounded,filled", fillcolor=palegreen',
    "voicemail": "box, style=filled, fillcolor=lightyellow",
    "end": "box",
    "step": "box",
}


def to_dot(site: Site) -> str:
    """The flow as a Graphviz digraph (``dot -Tsvg``). Draw a site that validates."""
    looks = _looks(site)
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
    for node, look in looks:
        label = _dot_text(_describe(node, look))
        lines.append(f"    {_id(node.id)} [label={label}, shape={_DOT_SHAPES[look.shape]}];")
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
    try:
        done = subprocess.run(
            [exe, f"-T{fmt}", "-o", str(output)],
            input=dot_source,
            text=True,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        raise GraphError(f"dot took longer than {exc.timeout:g}s; nothing written") from exc
    except OSError as exc:
        raise GraphError(f"cannot run {exe}: {exc}") from exc
    if done.returncode != 0:
        raise GraphError(f"dot failed: {done.stderr.strip()}")
    return output
