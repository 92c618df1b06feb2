"""Every error callflow raises, and the diagnostics that validation collects.

A :class:`Diagnostic` names *where* (a path into the model, written the way you would
reach it in Python), *what* (a stable code, documented in ``docs/errors.md``) and *why*::

    site.nodes['main'].options['1']: unknown target 'sales' [CF101]

Error classes also subclass the built-in exception that describes them (``ValueError``
for bad values, ``TypeError`` for a node a backend cannot handle), so callers that do not
know callflow can still catch them sensibly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

DOCS_URL = "docs/errors.md"


class Severity(StrEnum):
    """How bad a diagnostic is: errors block compile and deploy, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in a site: where it is, its stable code and what is wrong.

    >>> str(Diagnostic("site.nodes['main']", "CF101", "unknown target 'x'"))
    "site.nodes['main']: unknown target 'x' [CF101]"
    """

    path: str
    code: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.path}: {prefix}{self.message} [{self.code}]"

    def as_dict(self) -> dict[str, str]:
        return {
            "path": self.path,
            "code": self.code,
            "message": self.message,
            "severity": self.severity.value,
        }


class CallflowError(Exception):
    """Base class of every error callflow raises on purpose."""


class ValidationError(CallflowError, ValueError):
    """A site has problems; ``diagnostics`` lists every one of them, not only the first."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        lines = "\n".join(f"  {d}" for d in self.diagnostics)
        super().__init__(f"{len(errors)} problem(s) in site:\n{lines}")


class UnsupportedNode(CallflowError, TypeError):
    """A backend (compiler, simulator, live runtime) met a node type it cannot handle."""

    def __init__(self, backend: str, node_type: str, node_id: str) -> None:
        self.backend, self.node_type, self.node_id = backend, node_type, node_id
        super().__init__(f"{backend} can't render node {node_type} (id {node_id!r})")


class SiteLoadError(CallflowError, ValueError):
    """A site file or module could not be loaded or holds no :class:`~callflow.Site`."""


class DeployError(CallflowError, RuntimeError):
    """A deploy was refused or failed; the running configuration was left as it was."""
