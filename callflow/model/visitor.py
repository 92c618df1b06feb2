"""One dispatch for every backend (as SQLAlchemy's visitors do).

A backend subclasses :class:`NodeVisitor` and defines ``visit_<visit_name>`` methods;
a node it has no method for raises :class:`~callflow.errors.UnsupportedNode` instead of
being skipped::

    class Printer(NodeVisitor[str]):
        backend = "printer"
        def visit_menu(self, node): return f"menu {node.id}"
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from callflow.errors import UnsupportedNode
from callflow.model.nodes import Node

R = TypeVar("R")


class NodeVisitor(Generic[R]):
    """Dispatch ``visit(node)`` to ``visit_<node.visit_name>``."""

    backend = "this backend"

    def visit(self, node: Node, *args: Any) -> R:
        method = getattr(self, f"visit_{node.visit_name}", None)
        if method is None:
            raise UnsupportedNode(self.backend, type(node).__name__, node.id)
        result: R = method(node, *args)
        return result

    @classmethod
    def unsupported(cls, nodes: object) -> list[Node]:
        """The nodes this backend has no method for (checked up front, at start-up).

        ``nodes`` is a site's ``nodes`` as the user gave it: anything but a tuple, and
        items that are not nodes, are left for validation to report."""
        items = nodes if isinstance(nodes, tuple) else ()
        return [
            n for n in items if isinstance(n, Node) and not hasattr(cls, f"visit_{n.visit_name}")
        ]

    @classmethod
    def require(cls, nodes: object) -> None:
        """Raise :class:`~callflow.errors.UnsupportedNode` for the first of ``nodes`` this
        backend has no method for: a backend fails when it is built, not mid-way."""
        missing = cls.unsupported(nodes)
        if missing:
            raise UnsupportedNode(cls.backend, type(missing[0]).__name__, missing[0].id)
