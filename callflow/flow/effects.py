"""What the flow machine asks its driver to do: plain records, no I/O.

A node handler of :class:`~callflow.flow.machine.FlowMachine` is a generator: it yields
these effects and gets each one's answer back (``digit = yield WaitDigit(5)``), then
returns the id of the next node, or None once the call has left the flow. The offline
simulator answers them on a virtual clock from a scripted caller; the live runtime
answers them over ARI through a :class:`~callflow.runtime.session.CallSession`::

    gen = FlowMachine(site).visit(node)
    effect = next(gen)          # Enter(node=Menu('main', ...))
    effect = gen.send(None)     # Play(prompts=(Prompt('custom/main'),), barge_in=True)
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

from callflow.model.nodes import Dial, Node, Queue
from callflow.model.prompts import Prompt


@dataclass(frozen=True)
class Enter:
    """The call enters ``node``: append it to ``CF_TRACE``, set ``CF_DEST`` to its
    destination if it has one (the compiled context's first steps). Answer: None."""

    node: Node


@dataclass(frozen=True)
class Play:
    """Play ``prompts`` in order. With ``barge_in`` a digit stops them (Background; the
    digits pressed before are dropped first) and is the answer, else None (Playback)."""

    prompts: tuple[Prompt, ...]
    barge_in: bool = False


@dataclass(frozen=True)
class WaitDigit:
    """Wait up to ``timeout`` seconds for one digit (WaitExten). Answer: the digit or
    None on silence."""

    timeout: float


@dataclass(frozen=True)
class SetVar:
    """Set a channel variable (or ``CALLERID(name)``, ``CHANNEL(language)``...)."""

    name: str
    value: str


@dataclass(frozen=True)
class GetVar:
    """Read a channel variable. Answer: its value, ``""`` when unset."""

    name: str


@dataclass(frozen=True)
class Clock:
    """Answer: the current Unix time (seconds) on the driver's clock."""


@dataclass(frozen=True)
class Lookup:
    """Ask the CRM about caller ``number``. Answer: the channel variables the lookup
    sets (``{"CF_TIER": "vip", ...}``, as :func:`callflow.runtime.lookup.assignments`
    lists them; empty for a caller not in the CRM), or None when the lookup failed."""

    number: str


@dataclass(frozen=True)
class HandOff:
    """Continue the call in ``node``'s compiled context (queues, dials, voicemail: app_queue
    and app_dial do the work). Answer: the next node id if the flow goes on, else None.
    The live runtime leaves the call to Asterisk (None); the simulator runs
    :class:`~callflow.flow.compiled.CompiledModel`, the model of that context."""

    node: Node


@dataclass(frozen=True)
class Answer:
    """Answer the channel (the compiled entry's ``Answer()``). Answer: None."""


@dataclass(frozen=True)
class DetectMachine:
    """Run answering-machine detection (the campaign context's ``AMD()``). Answer:
    ``AMDSTATUS`` (``HUMAN``, ``MACHINE``, ``NOTSURE``, ``HANGUP``)."""


@dataclass(frozen=True)
class WaitSilence:
    """Wait for the end of a machine's greeting (``WaitForSilence()``). Answer: None."""

    silence_ms: int
    timeout: float


@dataclass(frozen=True)
class Hangup:
    """End the call. ``dest`` (when set) is written to ``CF_DEST`` first, as the hooks'
    ``hangup`` extension does. Answer: None."""

    reason: str = ""
    dest: str | None = None


@dataclass(frozen=True)
class Note:
    """Something worth a line in the simulator's event log (the runtime ignores it)."""

    kind: str
    detail: str = ""


# ---- effects of the compiled contexts (only the simulator meets these) --------------------


@dataclass(frozen=True)
class Wait:
    """Time passes on the call: ``seconds`` of ringing or queueing. Answer: None."""

    seconds: float


@dataclass(frozen=True)
class Ring:
    """A Dial rings its target. Answer: ``answer``, ``noanswer``, ``busy`` or
    ``unavailable`` (DIALSTATUS, lower case)."""

    node: Dial


@dataclass(frozen=True)
class RingManager:
    """A ``manager_first`` queue rings the account ``manager`` (a staff id) first.
    Answer: ``answer``, ``noanswer`` or ``away``."""

    node: Queue
    manager: str


@dataclass(frozen=True)
class JoinQueue:
    """The caller joins the queue at ``priority``. Answer: ``wait`` (the call ends in
    the queue) or a QUEUESTATUS after which the caller overflows (``timeout``,
    ``full``, ``joinempty``...)."""

    node: Queue
    priority: int


Effect = (
    Enter
    | Play
    | WaitDigit
    | SetVar
    | GetVar
    | Clock
    | Lookup
    | HandOff
    | Answer
    | DetectMachine
    | WaitSilence
    | Hangup
    | Note
    | Wait
    | Ring
    | RingManager
    | JoinQueue
)

#: what a node handler is: effects out, answers in, the next node id (or None) at the end
Steps = Generator[Effect, Any, str | None]
#: a CRM answer as :class:`Lookup` receives it
Found = Mapping[str, str]
