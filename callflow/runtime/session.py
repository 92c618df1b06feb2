"""One live call: its events, its channel variables, and the few things a node can do.

A :class:`CallSession` is what the interpreter's node handlers work through: play a prompt
(optionally interrupted by a digit), wait for a digit, set channel variables, hand the call
to a compiled dialplan context, hang up. It keeps the trace exactly as the compiled
dialplan does (``CF_TRACE`` = node ids with a leading space each, ``CF_DEST`` = the last
destination reached) and writes variables to the channel lazily, always before anything
that can take time, so the hang-up handler reports a live call as it would a compiled one.

When the caller hangs up, whatever the session is doing raises :class:`CallHungUp`: the one
exception type that ends a call's state machine::

    session = CallSession(control, channel="1700000000.12", site="acme", entry="8000")
    digit = await session.play([Prompt("custom/menu")], barge_in=True)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from callflow.contract import CF_DEST, CF_TRACE
from callflow.model.prompts import Prompt

T = TypeVar("T")


@dataclass(frozen=True)
class AriEvent:
    """The parts of an ARI event the runtime uses (the adapter builds these)."""

    type: str
    channel: str = ""
    digit: str = ""
    playback: str = ""
    args: tuple[str, ...] = ()
    caller: str = ""
    #: ``ChannelDestroyed``: the Q.850 hang-up cause (None when the event has none)
    cause: int | None = None
    #: the channel's state in the event (``Ring``, ``Ringing``, ``Up``...)
    state: str = ""
    #: ``ChannelVarset``: the variable and its new value
    variable: str = ""
    value: str = ""


class ControlError(RuntimeError):
    """A channel operation failed (ARI down, refused, timed out)."""


class ChannelGone(ControlError):
    """The channel no longer exists or has left the application."""


class CallHungUp(Exception):
    """The caller hung up (or the channel left the application): the call is over."""


class CallControl(Protocol):
    """The channel operations a session needs (:class:`~callflow.runtime.ari.AriClient`
    has them; unit tests use a recording fake)."""

    async def answer(self, channel: str) -> None: ...
    async def play(self, channel: str, media: str, playback: str) -> None: ...
    async def stop_playback(self, playback: str) -> None: ...
    async def set_var(self, channel: str, name: str, value: str) -> None: ...
    async def get_var(self, channel: str, name: str) -> str | None: ...
    async def continue_in_dialplan(
        self, channel: str, context: str | None, extension: str | None, priority: int | None
    ) -> None: ...
    async def hangup(self, channel: str) -> None: ...


#: events after which the channel is no longer ours
END_EVENTS = frozenset({"StasisEnd", "ChannelHangupRequest", "ChannelDestroyed"})


class CallSession:
    """The state of one call in the live runtime (see the module docstring)."""

    def __init__(
        self,
        control: CallControl,
        *,
        channel: str,
        site: str,
        entry: str,
        caller: str = "",
        trace: Iterable[str] = (),
        dest: str = "",
        ready: bool = False,
    ) -> None:
        self.control = control
        self.channel = channel
        self.site = site
        self.entry = entry
        self.caller = caller
        self.trace: list[str] = list(trace)
        self.dest = dest
        self.node: str | None = None
        self.started = time.monotonic()
        self.events: asyncio.Queue[AriEvent] = asyncio.Queue()
        self.hung_up = False
        self.finished = False
        #: the entry's set-up is done (CF_SITE, hang-up handler)
        self.ready = ready
        #: answered by a node that needs media (entries do not answer)
        self.answered = False
        self._known: dict[str, str] = {}
        self._pending: dict[str, str] = {}
        self._playbacks = itertools.count(1)

    # ---- events ---------------------------------------------------------------------------
    def deliver(self, event: AriEvent) -> None:
        """Queue an event for this call (called by the dispatcher, never blocks)."""
        if event.type in END_EVENTS:
            self.hung_up = True
        self.events.put_nowait(event)

    async def next_event(self, timeout: float | None = None) -> AriEvent | None:
        """The next event, None on timeout; raises :class:`CallHungUp` at the end."""
        if self.hung_up and self.events.empty():
            raise CallHungUp(self.channel)
        try:
            if timeout is None:
                event = await self.events.get()
            else:
                event = await asyncio.wait_for(self.events.get(), max(0.0, timeout))
        except TimeoutError:
            return None
        if event.type in END_EVENTS:
            raise CallHungUp(self.channel)
        return event

    def discard_digits(self) -> None:
        """Forget digits pressed before now (the dialplan drops them too: Playback and
        AGI read and discard DTMF)."""
        kept = []
        while not self.events.empty():
            event = self.events.get_nowait()
            if event.type != "ChannelDtmfReceived":
                kept.append(event)
        for event in kept:
            self.events.put_nowait(event)

    # ---- channel variables ------------------------------------------------------------------
    def set(self, name: str, value: str) -> None:
        """Set a channel variable; written before the next blocking step (see flush)."""
        self._known[name] = value
        self._pending[name] = value

    async def var(self, name: str) -> str:
        """A channel variable: as this session set it, else as read from the channel."""
        if name not in self._known:
            value = await self._op(self.control.get_var(self.channel, name))
            self._known[name] = value or ""
        return self._known[name]

    async def flush(self) -> None:
        """Write the variables set since the last flush (concurrently: they're independent)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        await asyncio.gather(
            *(self._op(self.control.set_var(self.channel, k, v)) for k, v in pending.items())
        )

    # ---- trace ----------------------------------------------------------------------------
    def enter(self, node_id: str, destination: str | None) -> None:
        """Record entering a node exactly as the compiled context's first steps do."""
        self.node = node_id
        self.trace.append(node_id)
        self.set(CF_TRACE, self.trace_text())
        if destination is not None:
            self.dest = destination
            self.set(CF_DEST, destination)

    def trace_text(self, trace: Iterable[str] | None = None) -> str:
        """``CF_TRACE`` as ``Set(CF_TRACE=${CF_TRACE} id)`` builds it: `` a b c``."""
        return "".join(f" {n}" for n in (self.trace if trace is None else trace))

    # ---- actions --------------------------------------------------------------------------
    async def answer(self) -> None:
        await self._op(self.control.answer(self.channel))
        self.answered = True

    async def play(self, prompts: Iterable[Prompt], *, barge_in: bool = False) -> str | None:
        """Play prompts in order; with ``barge_in`` a digit stops them and is returned
        (Background), without it digits are ignored (Playback)."""
        await self.flush()
        for prompt in prompts:
            digit = await self._play_one(prompt, barge_in)
            if digit is not None:
                return digit
        return None

    async def _play_one(self, prompt: Prompt, barge_in: bool) -> str | None:
        playback = f"{self.channel}-p{next(self._playbacks)}"
        await self._op(self.control.play(self.channel, f"sound:{prompt.file}", playback))
        while True:
            event = await self.next_event()
            if event is None:  # pragma: no cover - no timeout given
                continue
            if event.type == "PlaybackFinished" and event.playback == playback:
                return None
            if event.type == "ChannelDtmfReceived" and barge_in and event.digit:
                with contextlib.suppress(ControlError):  # it may have ended by itself
                    await self.control.stop_playback(playback)
                return event.digit

    async def wait_digit(self, timeout: float) -> str | None:
        """Wait up to ``timeout`` seconds for one digit (WaitExten)."""
        await self.flush()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            event = await self.next_event(left)
            if event is None:
                return None
            if event.type == "ChannelDtmfReceived" and event.digit:
                return event.digit

    async def continue_at(self, context: str, extension: str = "s", priority: int = 1) -> None:
        """Hand the call to the dialplan (it leaves the application)."""
        await self.flush()
        await self._op(
            self.control.continue_in_dialplan(self.channel, context, extension, priority)
        )
        self.finished = True

    async def leave(self) -> None:
        """Let the channel go on at the next dialplan priority (after ``Stasis()``)."""
        await self._op(self.control.continue_in_dialplan(self.channel, None, None, None))
        self.finished = True

    async def hangup(self) -> None:
        await self.flush()
        await self._op(self.control.hangup(self.channel))
        self.finished = True

    async def _op(self, operation: Awaitable[T]) -> T:
        """Await a control operation; a vanished channel becomes :class:`CallHungUp`."""
        try:
            return await operation
        except ChannelGone as exc:
            self.hung_up = True
            raise CallHungUp(self.channel) from exc
