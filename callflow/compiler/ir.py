"""The typed intermediate form between the model and the templates.

Plain records: contexts of extensions of steps, queues with settings and members,
mailboxes. Every string in here is already safe to write into an Asterisk config file
(built from validated identifiers or passed through :mod:`callflow.compiler.escape`);
the templates only lay them out. Priorities are computed here (1, 2, 3, ...), never
patched afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Step:
    """One dialplan priority: ``App(args)`` with an optional label and comment."""

    app: str
    args: str = ""
    label: str | None = None
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Extension:
    name: str
    steps: tuple[Step, ...]

    def numbered(self) -> list[tuple[int, Step]]:
        return [(i + 1, s) for i, s in enumerate(self.steps)]


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    extensions: tuple[Extension, ...]
    comment: str = ""

    @property
    def priority_count(self) -> int:
        """How many priorities Asterisk should report for this context once loaded."""
        return sum(len(e.steps) for e in self.extensions)


@dataclass(frozen=True, slots=True)
class QueueMember:
    interface: str
    penalty: int
    name: str  # escaped for queues.conf


@dataclass(frozen=True, slots=True)
class QueueConf:
    name: str
    settings: tuple[tuple[str, str], ...]
    members: tuple[QueueMember, ...]
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Mailbox:
    context: str
    number: str
    password: str
    email: str = ""


@dataclass(frozen=True, slots=True)
class CompiledSite:
    """Everything compiled from one site, ready to render or to verify against Asterisk."""

    site: str
    contexts: tuple[Context, ...]
    queues: tuple[QueueConf, ...]
    mailboxes: tuple[Mailbox, ...]
    entry_context: str
    files: dict[str, str] = field(default_factory=dict)

    def context_map(self) -> dict[str, Context]:
        return {c.name: c for c in self.contexts}
