"""Real test calls through a running Asterisk, over AMI: :class:`CallDriver`.

A :class:`CallDriver` speaks AMI. Each call is an ``Originate`` of
``Local/s@cf-test-dial``: its ``;2`` leg jumps into the site under test with the
caller id you chose, its ``;1`` leg plays the caller (waits, sends DTMF, holds, hangs
up). The compiled site reports where the call went with a ``CallflowEnd`` user event
from its hangup handler, which becomes a :class:`CallResult`::

    async with CallDriver.from_sandbox(pbx) as driver:
        result = await driver.place_call("acme-main", "s", dtmf="2", caller_id="5551234")
        assert result.trace == ["main", "sales_menu", "sales"]
        assert result.dest == "queue:sales"

Queue tests start several calls at once with :meth:`CallDriver.start_call`, look at
the queue with :meth:`CallDriver.queue_waiting`, add test agents
(``Local/<name>@cf-test-agent/n``) with :meth:`CallDriver.add_agent`, and read where
each caller joined (:attr:`CallHandle.joins`) and who answered in which order
(:attr:`CallHandle.answer`, :meth:`CallDriver.answer_order`) from app_queue's own events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
import time
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from callflow.audio import site_prompts, sound_file
from callflow.contract import CF_NOW, END_EVENT
from callflow.runtime.ami import AmiAddress, AmiConnection, AmiError, AmiMessage
from callflow.simulate import call_time

if TYPE_CHECKING:
    import datetime as dt

    from callflow.model.site import Site
    from callflow.sandbox import Sandbox

__all__ = [
    "CallDriver",
    "CallError",
    "CallHandle",
    "CallResult",
    "CallTimeout",
    "QueueAnswer",
    "QueueJoin",
    "WaitingCaller",
    "ami_value",
    "install_placeholder_prompts",
    "prompt_files",
]

_END_EVENT = END_EVENT
_AGENT_EVENT = "CallflowAgent"
_END_GRACE = 2.0  # seconds to wait for the site's end event once both legs are gone
#: Asterisk reads an AMI line into 1,025 bytes and drops longer lines whole
_AMI_LINE_BYTES = 1024
#: what Asterisk's argument splitter (``ast_app_separate_args``) would take as syntax in
#: an Originate ``Variable`` header: a backslash makes each of them literal
_AMI_SPECIAL = re.compile(r'([\\,"()\[\]])')
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def ami_value(what: str, value: str) -> str:
    """``value`` escaped for an AMI ``Variable`` header, so the channel variable holds it
    byte for byte; ``ValueError`` naming ``what`` when AMI cannot carry it (a line break
    or another control character would end or inject a header)::

        ami_value("caller_name", 'a,b"c\\d')   # 'a\\,b\\"c\\\\d'
    """
    bad = _CONTROL.search(value)
    if bad:
        raise ValueError(
            f"{what} {value!r}: control character {bad.group()!r} at {bad.start()} "
            "cannot travel in an AMI header"
        )
    return _AMI_SPECIAL.sub(r"\\\1", value)


class CallError(RuntimeError):
    """A test call could not be placed or did not end the way the contract says."""


class CallTimeout(CallError, TimeoutError):
    """A test call (or an AMI action) did not finish in time."""


@dataclass(frozen=True)
class CallResult:
    """Where a finished test call went, as the site reported it.

    ``trace`` is the node ids the call visited, ``dest`` its final destination
    (``queue:sales``, ``staff:alice``, ``voicemail:100``, ``hangup``), ``agent`` the
    cf-test-agent that answered it (queue calls), ``event`` the raw AMI user event.
    """

    call_id: str
    trace: list[str]
    dest: str
    site: str
    channel: str
    uniqueid: str
    agent: str | None
    event: dict[str, Any]
    elapsed: float


@dataclass(frozen=True)
class WaitingCaller:
    """One caller waiting in a queue, in queue order (``position`` 1 is next)."""

    position: int
    channel: str
    uniqueid: str
    caller_id: str
    priority: int
    wait: int
    call_id: str | None


@dataclass(frozen=True)
class QueueJoin:
    """A call joining a queue, from app_queue's ``QueueCallerJoin`` event: its
    ``position`` (1 = next to be served) and the queue's size ``count`` at that moment,
    ``at`` the driver's wall clock (``time.time()``) when the event arrived."""

    queue: str
    position: int
    count: int
    at: float


@dataclass(frozen=True)
class QueueAnswer:
    """A queue member answering a call, from app_queue's ``AgentConnect`` event.

    ``interface`` is the member's interface (``PJSIP/1001``,
    ``Local/ann@cf-test-agent/n``), ``member`` its display name, ``order`` counts the
    answers this driver saw in that queue (1 = first), ``hold`` the seconds waited.
    """

    queue: str
    interface: str
    member: str
    order: int
    hold: int
    at: float


@dataclass
class CallHandle:
    """A test call in progress, returned by :meth:`CallDriver.start_call`::

    handle = await driver.start_call("acme-main", "s", dtmf="2", hold=30)
    ...
    await handle.hangup()
    result = await handle.wait_end()
    """

    call_id: str
    caller_uniqueid: str  # the ;1 leg, playing the caller
    site_uniqueid: str  # the ;2 leg, walking the site's dialplan
    description: str
    timeout: float
    _driver: CallDriver = field(repr=False)
    started: float = field(default_factory=time.monotonic)
    site_channel: str = ""
    agent: str | None = None
    end_event: dict[str, Any] | None = None
    failure: str | None = None
    #: every queue this call joined, in order (see :class:`QueueJoin`)
    joins: list[QueueJoin] = field(default_factory=list)
    #: the member that answered it in a queue (see :class:`QueueAnswer`), or None
    answer: QueueAnswer | None = None
    legs_up: set[str] = field(default_factory=set)
    legs_seen: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def _notify(self) -> None:
        self.changed.set()

    async def wait_end(self, timeout: float | None = None) -> CallResult:
        """Wait until the site reports the end of the call; ``CallTimeout`` if it doesn't,
        ``CallError`` at once if the driver is closed."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        gone_since: float | None = None
        while True:
            if self.end_event is not None:
                return self._result()
            if self.failure is not None:
                raise CallError(f"{self.description}: {self.failure}")
            if not self._driver.connected:
                raise CallError(
                    f"{self.description}: the CallDriver is closed, so the end of the call "
                    "can no longer be seen (wait for it inside `async with`)"
                )
            now = time.monotonic()
            if self.legs_seen and not self.legs_up:
                gone_since = gone_since or now
                if now - gone_since > _END_GRACE:
                    raise CallError(
                        f"{self.description}: both legs hung up but the site sent no "
                        f"{_END_EVENT} user event (is its hangup handler in place?)"
                    )
            if now >= deadline:
                with contextlib.suppress(CallError):  # don't leave it running into the next test
                    await self.hangup()
                raise CallTimeout(
                    f"{self.description}: no {_END_EVENT} within {limit:g}s "
                    f"(site leg {self.site_channel or self.site_uniqueid}, "
                    f"legs still up: {sorted(self.legs_up) or 'none'})"
                )
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(0.25, deadline - now))

    async def hangup(self) -> None:
        """Hang up as the caller would (the ``;1`` leg); the site then runs its handler."""
        response = await self._driver._reply({"Action": "Hangup", "Channel": self.caller_uniqueid})
        if not response.success and self.caller_uniqueid in self.legs_up:
            raise CallError(f"{self.description}: hangup refused: {response.get('message', '')}")

    def _result(self) -> CallResult:
        event = self.end_event or {}
        return CallResult(
            call_id=self.call_id,
            trace=str(event.get("trace", "")).split(),
            dest=str(event.get("dest", "")).strip(),
            site=str(event.get("site", "")).strip(),
            channel=str(event.get("channel", self.site_channel)),
            uniqueid=self.site_uniqueid,
            agent=self.agent,
            event=event,
            elapsed=time.monotonic() - self.started,
        )


class CallDriver:
    """An AMI connection that places test calls and inspects queues.

    Build it from a sandbox or from AMI coordinates and use it as an async context
    manager::

        async with CallDriver("127.0.0.1", 5038, "callflow", "secret") as driver:
            print(await driver.command("core show channels"))
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        secret: str,
        *,
        action_timeout: float = 10.0,
        cli: Callable[[str], str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.secret = secret
        self.action_timeout = action_timeout
        #: runs a CLI command another way than AMI's Command action (which needs the
        #: ``command`` privilege a least-privilege AMI user does not have)
        self._cli = cli
        self._ami: AmiConnection | None = None
        self._calls: dict[str, CallHandle] = {}  # by ;1 and ;2 uniqueid
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self._tasks: set[asyncio.Task[None]] = set()
        self._answers: dict[str, list[str]] = {}  # queue -> call ids in answer order

    @property
    def connected(self) -> bool:
        """Whether the AMI connection is open (between ``connect`` and ``close``)."""
        return self._ami is not None

    @classmethod
    def from_sandbox(cls, sandbox: Sandbox, *, action_timeout: float = 10.0) -> CallDriver:
        """A driver for a :class:`~callflow.sandbox.Sandbox`'s AMI; its CLI commands go
        through the sandbox's control socket (its AMI user may not run them)."""
        return cls(
            sandbox.ami_host,
            sandbox.ami_port,
            sandbox.ami_user,
            sandbox.ami_secret,
            action_timeout=action_timeout,
            cli=sandbox.cli,
        )

    # ---- connection

    async def __aenter__(self) -> CallDriver:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and log in; ``CallError`` when AMI refuses or does not answer."""
        ami = AmiConnection(AmiAddress(self.host, self.port), self.user, self.secret)
        ami.on("UserEvent", self._on_user_event)
        ami.on("Newchannel", self._on_new_channel)
        ami.on("Hangup", self._on_hangup)
        ami.on("QueueCallerJoin", self._on_queue_join)
        ami.on("AgentConnect", self._on_agent_connect)
        self._ami = ami
        where = f"AMI on {self.host}:{self.port}"
        try:
            await ami.connect(self.action_timeout)
        except AmiError as exc:
            await self.close()
            raise CallError(f"{where}: login as {self.user!r} refused") from exc
        except TimeoutError as exc:
            await self.close()
            raise CallTimeout(f"{where}: no answer within {self.action_timeout:g}s") from exc
        except OSError as exc:
            await self.close()
            raise CallError(f"{where}: {exc}") from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the AMI connection (calls in progress keep running in Asterisk)."""
        for task in list(self._tasks):
            task.cancel()
        if self._ami is not None:
            self._ami.close()
            self._ami = None
        for handle in self._calls.values():
            handle._notify()  # a wait_end() in progress sees the driver closed
        await asyncio.sleep(0)

    # ---- plain AMI

    async def action(
        self,
        action: Mapping[str, str | list[str]],
        *,
        timeout: float | None = None,
        as_list: bool | None = None,
    ) -> list[AmiMessage]:
        """Send one AMI action; return its response, then the events of its list if it has
        one (QueueStatus...), as :class:`~callflow.runtime.ami.AmiMessage` mappings.

        ``as_list=False`` says "a single response": otherwise the reply's text is guessed
        from, and e.g. QueueAdd's "Added interface" would be waited after forever::

            [reply] = await driver.action({"Action": "Ping"}, as_list=False)
        """
        if self._ami is None:
            raise CallError("CallDriver is not connected (use `async with`)")
        limit = self.action_timeout if timeout is None else timeout
        try:
            return await self._ami.send_action(action, timeout=limit, as_list=as_list)
        except TimeoutError as exc:
            raise CallTimeout(f"AMI {action.get('Action')}: no response within {limit:g}s") from exc
        except AmiError as exc:
            raise CallError(str(exc)) from exc

    async def _reply(self, action: Mapping[str, str | list[str]]) -> AmiMessage:
        """The single response to ``action``."""
        return (await self.action(action, as_list=False))[0]

    async def command(self, command: str) -> str:
        """Run an Asterisk CLI command and return its output: over the control socket
        for a sandbox, else over AMI (the AMI user needs the ``command`` privilege)."""
        ami_value("command", command)
        if self._cli is not None:
            try:
                return await asyncio.to_thread(self._cli, command)
            except (RuntimeError, OSError) as exc:  # SandboxError, a failed subprocess
                raise CallError(f"CLI command {command!r} failed: {exc}") from exc
        response = (await self.action({"Action": "Command", "Command": command}))[0]
        if not response.success:
            raise CallError(f"AMI Command {command!r} failed: {response.get('message', '')}")
        lines = response.lines("output")
        if not lines and response.content:
            lines = [response.content]
        return "\n".join(lines)

    async def getvar(self, channel: str, name: str) -> str | None:
        """A channel variable (``channel`` is a name or a uniqueid); None if unset."""
        response = await self._reply({"Action": "Getvar", "Channel": channel, "Variable": name})
        if not response.success:
            raise CallError(f"Getvar {name} on {channel}: {response.get('message', '')}")
        value = response.get("value", "")
        return None if value in ("", "(null)") else str(value)

    async def setvar(self, channel: str, name: str, value: str) -> None:
        """Set a channel variable (``channel`` is a name or a uniqueid); ``ValueError``
        for text AMI cannot carry (see :func:`ami_value`)."""
        for what, text in (("channel", channel), ("variable", name), ("value", value)):
            ami_value(f"setvar {what}", text)  # a setvar value is taken whole: no escaping
        response = await self._reply(
            {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
        )
        if not response.success:
            raise CallError(f"Setvar {name} on {channel}: {response.get('message', '')}")

    # ---- calls

    async def start_call(
        self,
        context: str,
        exten: str = "s",
        *,
        caller_id: str | None = None,
        caller_name: str | None = None,
        dtmf: str = "",
        prewait: float = 1.0,
        hold: float = 10.0,
        agent_talk: float | None = None,
        timeout: float = 30.0,
        variables: Mapping[str, str] | None = None,
        at: dt.datetime | None = None,
    ) -> CallHandle:
        """Start a test call into ``context,exten,1`` and return without waiting.

        The caller answers, waits ``prewait`` seconds, sends ``dtmf`` (``w`` pauses
        half a second), stays ``hold`` seconds more and hangs up. ``agent_talk`` is how
        long a cf-test-agent that answers this call talks before hanging up.
        ``caller_id`` and ``caller_name`` reach the site leg byte for byte (commas,
        quotes, backslashes included; Asterisk itself drops blanks at both ends of a
        caller name, as the simulator does); a line break or other control character
        cannot travel over AMI and is refused with ``ValueError``, as in ``variables``.
        ``at`` (a timezone-aware datetime) is the moment the site's time conditions see,
        the same value :func:`~callflow.simulate.simulate` takes (it sets ``CF_NOW``, see
        :func:`~callflow.simulate.call_time`); ``variables`` are set on the site leg.
        """
        if not re.fullmatch(r"[0-9A-Da-d*#wW]*", dtmf):
            raise ValueError(f"dtmf {dtmf!r}: only 0-9, A-D, *, # and w are allowed")
        wanted = dict(variables or {})
        if at is not None:
            if at.tzinfo is None:
                raise ValueError(
                    f"at={at.isoformat()}: give a timezone-aware datetime (the driver does "
                    "not know the site's timezone; call_time(at, site.timezone) does)"
                )
            wanted[CF_NOW] = call_time(at)
        channel_vars = {
            "__CF_TEST_CID": ami_value("caller_id", caller_id or ""),
            "__CF_TEST_CNAME": ami_value("caller_name", caller_name or ""),
        }
        for name, value in wanted.items():
            if not _VARIABLE_NAME.fullmatch(name):
                raise ValueError(f"variable {name!r}: not a plain channel variable name")
            channel_vars[f"__{name}"] = ami_value(f"variable {name}", value)  # inherited
        for name, value in channel_vars.items():
            line = f"Variable: {name}={value}\r\n"
            if len(line.encode()) > _AMI_LINE_BYTES:
                raise ValueError(
                    f"{name.removeprefix('__')}: {len(line.encode())} bytes as an AMI header "
                    f"line, Asterisk drops lines over {_AMI_LINE_BYTES}"
                )
        number = next(self._ids)
        call_id = f"cf{self._prefix}{number:04d}"
        handle = CallHandle(
            call_id=call_id,
            caller_uniqueid=f"{call_id}-caller",
            site_uniqueid=f"{call_id}-site",
            description=f"call {call_id} to {exten}@{context}",
            timeout=timeout,
            _driver=self,
        )
        channel_vars.update(
            {
                "__CF_TEST_CALL": call_id,
                "__CF_TEST_CONTEXT": ami_value("context", context),
                "__CF_TEST_EXTEN": ami_value("exten", exten),
                "__CF_TEST_DTMF": dtmf,
                "__CF_TEST_PREWAIT": f"{prewait:g}",
                "__CF_TEST_HOLD": f"{hold:g}",
                "__CF_TEST_AGENT_TALK": "" if agent_talk is None else f"{agent_talk:g}",
            }
        )
        action = {
            "Action": "Originate",
            "Channel": "Local/s@cf-test-dial",
            "Context": "cf-test-caller",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(timeout * 1000)),
            "ChannelId": handle.caller_uniqueid,
            "OtherChannelId": handle.site_uniqueid,
            "Variable": [f"{name}={value}" for name, value in channel_vars.items()],
        }
        # The caller leg shows a plain number too; the site leg takes both values from
        # the variables above (the CallerID header's own quoting would cut a name).
        if caller_id and re.fullmatch(r"[0-9A-Za-z+*#_.-]{1,80}", caller_id):
            action["CallerID"] = f"<{caller_id}>"
        if self._ami is None:
            raise CallError("CallDriver is not connected (use `async with`)")
        self._calls[handle.caller_uniqueid] = handle
        self._calls[handle.site_uniqueid] = handle
        task = asyncio.ensure_future(self._watch_originate(handle, action))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handle

    async def place_call(
        self,
        context: str,
        exten: str = "s",
        *,
        caller_id: str | None = None,
        caller_name: str | None = None,
        dtmf: str = "",
        prewait: float = 1.0,
        hold: float = 10.0,
        agent_talk: float | None = None,
        timeout: float = 30.0,
        variables: Mapping[str, str] | None = None,
        at: dt.datetime | None = None,
    ) -> CallResult:
        """Place a test call and wait for the site's report of where it went
        (the arguments are :meth:`start_call`'s)::

        result = await driver.place_call("acme-main", "s", dtmf="1", hold=5)
        assert result.dest == "queue:sales"
        """
        handle = await self.start_call(
            context,
            exten,
            caller_id=caller_id,
            caller_name=caller_name,
            dtmf=dtmf,
            prewait=prewait,
            hold=hold,
            agent_talk=agent_talk,
            timeout=timeout,
            variables=variables,
            at=at,
        )
        return await handle.wait_end()

    async def _watch_originate(self, handle: CallHandle, action: dict[str, Any]) -> None:
        try:
            messages = await self.action(action, timeout=handle.timeout + 5)
        except CallTimeout:
            handle.failure = "Originate got no OriginateResponse"
        except CallError as exc:
            handle.failure = f"Originate not sent: {exc}"
        else:
            last = messages[-1]
            if last.get("response", "").lower() != "success":
                reason = last.get("reason", "") or last.get("message", "")
                handle.failure = (
                    f"the site did not answer (Originate {last.get('response', '?')}, "
                    f"reason {reason}); does {handle.description.split(' to ')[1]} exist?"
                )
        handle._notify()

    # ---- queues and test agents

    async def wait_for_callers(
        self, queue: str, count: int, timeout: float = 10.0
    ) -> list[WaitingCaller]:
        """Poll ``queue`` until ``count`` callers wait in it or ``timeout`` seconds pass;
        returns the callers waiting then (fewer than ``count`` on timeout)::

            waiting = await driver.wait_for_callers("shop-sales", 3)
        """
        deadline = time.monotonic() + timeout
        while True:
            waiting = await self.queue_waiting(queue)
            if len(waiting) >= count or time.monotonic() > deadline:
                return waiting
            await asyncio.sleep(0.1)

    async def queue_waiting(self, queue: str) -> list[WaitingCaller]:
        """Callers waiting in ``queue``, next-to-be-served first (AMI QueueStatus)."""
        messages = await self.action({"Action": "QueueStatus", "Queue": queue})
        waiting = []
        for message in messages:
            if message.get("event") != "QueueEntry" or message.get("queue") != queue:
                continue
            uniqueid = str(message.get("uniqueid", ""))
            handle = self._calls.get(uniqueid)
            waiting.append(
                WaitingCaller(
                    position=int(message.get("position", 0)),
                    channel=str(message.get("channel", "")),
                    uniqueid=uniqueid,
                    caller_id=str(message.get("calleridnum", "")),
                    priority=int(message.get("priority", 0) or 0),
                    wait=int(message.get("wait", 0) or 0),
                    call_id=handle.call_id if handle else None,
                )
            )
        return sorted(waiting, key=lambda caller: caller.position)

    async def add_agent(
        self,
        queue: str,
        name: str,
        *,
        penalty: int = 0,
        paused: bool = False,
        behaviour: str = "agent",
        member_name: str | None = None,
    ) -> str:
        """Add a test member to ``queue`` and return its interface.

        ``behaviour`` is ``agent`` (answers, talks, hangs up), ``busy`` or ``noanswer``;
        ``member_name`` is the display name app_queue shows (default ``name``).
        A paused agent that you later unpause with :meth:`pause_agent` is the way to
        test "a member becomes available while callers wait"::

            await driver.add_agent("sales", "1001", paused=True)
            await driver.pause_agent("sales", "1001", paused=False)
        """
        if not re.fullmatch(r"[0-9a-z][0-9a-z_-]+", name):  # the cf-test-* extensions
            raise ValueError(f"test agent {name!r}: two or more lower-case letters, digits, _ or -")
        interface = f"Local/{name}@cf-test-{behaviour}/n"
        response = await self._reply(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": interface,
                "MemberName": name if member_name is None else member_name,
                "Penalty": str(penalty),
                "Paused": "true" if paused else "false",
            }
        )
        if not response.success:
            raise CallError(f"QueueAdd {interface} to {queue}: {response.get('message', '')}")
        return interface

    async def pause_agent(
        self,
        queue: str,
        member: str,
        *,
        paused: bool = True,
        by_name: bool = False,
        site: Site | None = None,
    ) -> None:
        """Pause or unpause a queue member.

        ``member`` is its interface (``PJSIP/1001``) or, for a test agent added with
        :meth:`add_agent` (or a staff member whose device is one), its id:
        ``"ann"`` finds ``Local/ann@cf-test-agent/n``; with ``site`` a staff id also finds
        that person's device. Display names are people's real names and need not be
        unique, so they match only with ``by_name=True``::

            await driver.pause_agent("shop-sales", "ann", paused=False)
            await driver.pause_agent("shop-sales", "PJSIP/1001")
            await driver.pause_agent("shop-sales", "ann", site=site)   # ann's device
        """
        interface = await self._member_interface(queue, member, by_name=by_name, site=site)
        response = await self._reply(
            {
                "Action": "QueuePause",
                "Queue": queue,
                "Interface": interface,
                "Paused": "true" if paused else "false",
            }
        )
        if not response.success:
            raise CallError(f"QueuePause {interface} in {queue}: {response.get('message', '')}")

    async def remove_agent(
        self, queue: str, member: str, *, by_name: bool = False, site: Site | None = None
    ) -> None:
        """Remove a queue member (``member`` as in :meth:`pause_agent`)."""
        interface = await self._member_interface(queue, member, by_name=by_name, site=site)
        response = await self._reply(
            {"Action": "QueueRemove", "Queue": queue, "Interface": interface}
        )
        if not response.success:
            raise CallError(f"QueueRemove {interface} from {queue}: {response.get('message', '')}")

    async def queue_members(self, queue: str) -> dict[str, str]:
        """The members of ``queue``: interface -> display name (AMI QueueStatus)."""
        messages = await self.action({"Action": "QueueStatus", "Queue": queue})
        return {
            str(m.get("location") or m.get("stateinterface")): str(m.get("name", ""))
            for m in messages
            if m.get("event") == "QueueMember" and m.get("queue") == queue
        }

    async def _member_interface(
        self, queue: str, member: str, *, by_name: bool, site: Site | None = None
    ) -> str:
        members = await self.queue_members(queue)
        person = site.staff_map.get(member) if site is not None else None
        device = person.device if person is not None else None
        if by_name:
            found = [interface for interface, name in members.items() if name == member]
            how = "named"
        else:
            found = [
                interface
                for interface in members
                if interface in (member, device)
                or re.fullmatch(rf"Local/{re.escape(member)}@cf-test-[a-z]+(/n)?", interface)
            ]
            how = "with interface, test-agent id" + (" or staff id" if site else "")
        if len(found) == 1:
            return found[0]
        if not found:
            raise CallError(
                f"queue {queue!r} has no member {how} {member!r} "
                f"(members: {', '.join(sorted(members)) or 'none'})"
            )
        raise CallError(f"queue {queue!r} has {len(found)} members {how} {member!r}: {found}")

    def answer_order(self, queue: str) -> list[str]:
        """The call ids of this driver's calls that members of ``queue`` answered, first
        answered first (from ``AgentConnect`` events)::

            assert driver.answer_order("shop-sales") == [vip.call_id, gold.call_id]
        """
        return list(self._answers.get(queue, ()))

    # ---- the live runtime

    async def ari_apps(self) -> list[str]:
        """The ARI (Stasis) applications registered with Asterisk right now."""
        output = await self.command("ari show apps")
        # "Application Name", a rule of "=", then one name a line
        _, rule, names = output.partition("=" * 25)
        return [line.strip() for line in names.splitlines() if line.strip()] if rule else []

    async def wait_for_app(self, name: str, timeout: float = 10.0) -> None:
        """Wait until the ARI application ``name`` is registered (the live runtime is
        connected and calls sent to ``Stasis(name)`` will reach it); ``CallTimeout``
        naming the applications that are there otherwise::

            await driver.wait_for_app("callflow")
        """
        deadline = time.monotonic() + timeout
        while True:
            apps = await self.ari_apps()
            if name in apps:
                return
            if time.monotonic() > deadline:
                raise CallTimeout(
                    f"ARI application {name!r} not registered within {timeout:g}s "
                    f"(registered: {', '.join(apps) or 'none'})"
                )
            await asyncio.sleep(0.1)

    # ---- AMI events

    def _on_new_channel(self, event: AmiMessage) -> None:
        handle = self._calls.get(str(event.get("uniqueid", "")))
        if handle is not None:
            handle.legs_up.add(str(event["uniqueid"]))
            handle.legs_seen.add(str(event["uniqueid"]))
            if event["uniqueid"] == handle.site_uniqueid:
                handle.site_channel = str(event.get("channel", ""))
            handle._notify()

    def _on_hangup(self, event: AmiMessage) -> None:
        handle = self._calls.get(str(event.get("uniqueid", "")))
        if handle is not None:
            handle.legs_up.discard(str(event["uniqueid"]))
            handle._notify()

    def _on_queue_join(self, event: AmiMessage) -> None:
        handle = self._calls.get(str(event.get("uniqueid", "")))
        if handle is not None:
            handle.joins.append(
                QueueJoin(
                    queue=str(event.get("queue", "")),
                    position=int(event.get("position", 0) or 0),
                    count=int(event.get("count", 0) or 0),
                    at=time.time(),
                )
            )
            handle._notify()

    def _on_agent_connect(self, event: AmiMessage) -> None:
        handle = self._calls.get(str(event.get("uniqueid", "")))
        if handle is None:
            return
        queue = str(event.get("queue", ""))
        order = self._answers.setdefault(queue, [])
        order.append(handle.call_id)
        handle.answer = QueueAnswer(
            queue=queue,
            interface=str(event.get("interface", "")),
            member=str(event.get("membername", "")),
            order=len(order),
            hold=int(event.get("holdtime", 0) or 0),
            at=time.time(),
        )
        handle._notify()

    def _on_user_event(self, event: AmiMessage) -> None:
        kind = event.get("userevent")
        if kind not in (_END_EVENT, _AGENT_EVENT):
            return
        handle = self._calls.get(str(event.get("uniqueid", ""))) or self._calls.get(
            str(event.get("linkedid", ""))
        )
        if handle is None:
            return
        if kind == _AGENT_EVENT:
            handle.agent = str(event.get("agent", "")).strip() or None
        elif event.get("uniqueid") == handle.site_uniqueid:
            handle.end_event = dict(event)
        handle._notify()


# ---- prompts


def prompt_files(site: Site) -> set[str]:
    """Every sound file a site's nodes and its campaigns play (menu prompts, retries,
    plays, goodbyes, survey questions; :func:`callflow.audio.site_prompts`)."""
    return {use.file for use in site_prompts(site)}


def install_placeholder_prompts(pbx: Sandbox, site: Site, seconds: float = 0.3) -> list[Path]:
    """Write short silent recordings for the prompts the sandbox lacks, so test calls run
    without 'file not found' warnings; returns the files written::

        install_placeholder_prompts(pbx, site)   # <pbx.sounds_dir>/custom/welcome.wav, ...

    They go into the sandbox's own sounds directory (:attr:`Sandbox.sounds_dir`, in no
    language folder: every language finds them), never into the shared root: another
    sandbox still misses them, so its ``prompts check`` and ``deploy`` still say so."""
    own = pbx.sounds_dir.resolve()
    made = []
    for name in sorted(prompt_files(site)):
        if sound_file(pbx.sounds_dir, name, site.language) is not None:
            continue
        path = pbx.sounds_dir / f"{name}.wav"
        if not path.parent.resolve().is_relative_to(own):  # through a link to the root
            raise ValueError(
                f"placeholder for prompt {name!r}: {path.parent} leads out of the sandbox's "
                f"own sounds ({own}) into a language folder of the shared root; name the "
                "prompt under another folder (e.g. custom/)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        # write beside the file and rename: no Asterisk ever plays a half-written prompt
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        try:
            with wave.open(str(partial), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(8000)
                out.writeframes(b"\0\0" * int(8000 * seconds))
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        made.append(path)
    return made
