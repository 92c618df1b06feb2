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
    #: pjsip.conf and musiconhold.conf sections
    pjsip: tuple[Section, ...] = ()
    moh: tuple[Section, ...] = ()
    #: what deploy reads back: pjsip endpoints, music-on-hold classes, the tone zone
    endpoints: tuple[str, ...] = ()
    tone_zone: str = ""

    @property
    def secrets(self) -> tuple[str, ...]:
        """The names of the secrets the generated pjsip.conf needs."""
        return tuple(
            sorted({v.name for s in self.pjsip for _, v in s.settings if isinstance(v, SecretRef)})
        )

    def context_map(self) -> dict[str, Context]:
        return {c.name: c for c in self.contexts}


@dataclass(frozen=True, slots=True)
class Section:
    """One section of pjsip.conf or musiconhold.conf: ``[name]`` and its settings, in
    order (``type = endpoint`` first for pjsip). A setting whose value is a
    :class:`SecretRef` is filled from the secrets at render time."""

    name: str
    settings: tuple[tuple[str, str | SecretRef], ...]
    comment: str = ""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A secret's name (``staff.ann``, ``trunk.carrier``): never a value."""

    name: str
