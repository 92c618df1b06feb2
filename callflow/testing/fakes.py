"""Fakes for unit-testing flows on the live runtime without Asterisk.

:class:`FakeChannel` stands in for the ARI client behind a
:class:`~callflow.runtime.session.CallSession`: it records what the interpreter does to
the channel, keeps its variables in a dict, finishes every playback at once and presses
the caller's digits while prompts play::

    fake = FakeChannel("1", variables={"CF_NOW": "1763978400"})
    await run_live_call(site, "100", fake, caller="555")
    assert fake.vars["CF_TRACE"] == " menu" and fake.ops[-1] == ("continue", "cf-t-sales")
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from callflow.runtime.interpreter import CustomerLookup, Interpreter
from callflow.runtime.session import AriEvent, CallSession, ChannelGone

if TYPE_CHECKING:
    from callflow.model.site import Site

__all__ = ["FakeChannel", "run_live_call"]


class FakeChannel:
    """A recording :class:`~callflow.runtime.session.CallControl` (see the module).

    ``digits`` are pressed one per playback, during the prompts named in ``press_during``
    (media such as ``"sound:custom/menu"``; None = any prompt); a None among them is a
    prompt the caller lets pass in silence (as :data:`callflow.simulate.SILENCE`).
    ``ops`` lists what was done: ``("answer",)``, ``("play", media)``, ``("stop",)``,
    ``("continue", context)``, ``("hangup",)``. Set ``gone = True`` to make the channel
    vanish (``ChannelGone``).
    """

    def __init__(
        self,
        digits: str | Sequence[str | None] = "",
        variables: Mapping[str, str] | None = None,
        *,
        press_during: Collection[str] | None = None,
    ) -> None:
        self.ops: list[tuple[Any, ...]] = []
        self.vars: dict[str, str] = dict(variables or {})
        self.digits: list[str | None] = list(digits)
        self.press_during = None if press_during is None else frozenset(press_during)
        self.session: CallSession | None = None
        self.gone = False

    def _session(self) -> CallSession:
        if self.session is None:
            raise RuntimeError("FakeChannel.session is not set: assign the CallSession first")
        return self.session

    async def answer(self, channel: str) -> None:
        self.ops.append(("answer",))

    async def play(self, channel: str, media: str, playback: str) -> None:
        self.ops.append(("play", media))
        session = self._session()
        if self.digits and (self.press_during is None or media in self.press_during):
            digit = self.digits.pop(0)
            if digit:
                session.deliver(AriEvent("ChannelDtmfReceived", channel, digit=digit))
        session.deliver(AriEvent("PlaybackFinished", channel, playback=playback))

    async def stop_playback(self, playback: str) -> None:
        self.ops.append(("stop",))

    async def set_var(self, channel: str, name: str, value: str) -> None:
        if self.gone:
            raise ChannelGone(f"channel {channel} is gone")
        self.vars[name] = value

    async def get_var(self, channel: str, name: str) -> str | None:
        return self.vars.get(name)

    async def continue_in_dialplan(
        self, channel: str, context: str | None, extension: str | None, priority: int | None
    ) -> None:
        self.ops.append(("continue", context))

    async def hangup(self, channel: str) -> None:
        self.ops.append(("hangup",))


async def run_live_call(
    site: Site,
    entry: str,
    channel: FakeChannel,
    *,
    caller: str = "",
    lookup: CustomerLookup | None = None,
    lookup_timeout: float = 1.0,
) -> CallSession:
    """Run one call to ``entry`` of ``site`` on the live ARI interpreter against
    ``channel`` and return its finished session::

        session = await run_live_call(site, "100", FakeChannel("1"))
    """
    if entry not in site.entries:
        raise ValueError(f"{entry!r} is not an entry point of site {site.name!r}")
    session = CallSession(channel, channel="fake-1", site=site.name, entry=entry, caller=caller)
    channel.session = session
    interpreter = Interpreter(site, lookup=lookup, lookup_timeout=lookup_timeout)
    await interpreter.run_call(session)
    return session
