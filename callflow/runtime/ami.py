"""The AMI adapter: the only module that talks to panoramisk (an import-linter contract
says so). Everything else sees :class:`AmiConnection` and plain :class:`AmiMessage` mappings.

Two ways to connect. ``callflow serve`` never stops for AMI: :meth:`AmiConnection.start`
connects and retries in the background. AMI unreachable: the first failure is a WARNING,
then one line per :attr:`AmiConnection.quiet` seconds while retries back off from 1 s to
30 s. A wrong user or secret: ERROR "authentication failed" once per attempt, one attempt
every :attr:`AmiConnection.auth_retry` seconds (Asterisk closes the session on a failed
login; we keep trying slowly so that fixing ``manager.conf`` and reloading is enough)::

    ami = AmiConnection(AmiAddress.parse("127.0.0.1:5038"), "callflow", secret)
    CallRecorder(sessions).register(ami)
    ami.start()        # returns at once; FastAGI does not wait for AMI
    ...
    ami.close()

Tools that cannot work without AMI (the test call driver, the demo, benchmarks) make one
attempt and fail plainly with :meth:`AmiConnection.connect`::

    ami = AmiConnection(address, user, secret, events="user")
    ami.on("UserEvent", lambda event: print(event["UserEvent"]))
    await ami.connect(timeout=5)            # AmiError when refused, TimeoutError, OSError
    [reply] = await ami.send_action({"Action": "Getvar", "Variable": "X"}, as_list=False)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from panoramisk import Manager

log = logging.getLogger("callflow.ami")

DEFAULT_PORT = 5038

#: what an action's header values may be: one value, or one line per value (``Variable``)
ActionValue = str | Sequence[str]


class AmiError(RuntimeError):
    """AMI refused something: a login, or an action sent while not connected."""


class AmiMessage(Mapping[str, str]):
    """One AMI event or response: its headers, looked up case-insensitively as Asterisk
    means them (``event["linkedid"]`` is ``event["Linkedid"]``), iterated with the case
    Asterisk sent. A header sent more than once (``Output``) reads as its lines joined by
    ``"\n"``; :meth:`lines` gives them one by one::

        event = AmiMessage({"Event": "UserEvent", "UserEvent": "CallflowEnd"})
        assert event.name == "UserEvent" and event["userevent"] == "CallflowEnd"
    """

    __slots__ = ("_headers", "_keys", "content")

    def __init__(
        self, headers: Mapping[str, ActionValue] | Iterable[tuple[str, ActionValue]] = (),
        content: str = "",
    ) -> None:  # fmt: skip
        items = headers.items() if isinstance(headers, Mapping) else headers
        self._headers: dict[str, tuple[str, ...]] = {}
        self._keys: dict[str, str] = {}  # lower-case -> as sent
        for key, value in items:
            lines = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
            folded = key.lower()
            self._keys.setdefault(folded, key)
            self._headers[folded] = self._headers.get(folded, ()) + lines
        #: the free text of a ``Response: Follows`` reply (old ``Command`` output)
        self.content = content

    @classmethod
    def _of(cls, message: Any) -> AmiMessage:
        """Copy a panoramisk message into a plain AmiMessage (panoramisk keeps the body of
        a ``Follows`` reply as a ``content`` header; it becomes :attr:`content` here)."""
        headers = [(k, v) for k, v in message.items() if k.lower() != "content"]
        return cls(headers, str(message.get("content", "") or ""))

    def __getitem__(self, key: str) -> str:
        return "\n".join(self._headers[key.lower()])

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._headers)

    def lines(self, key: str) -> list[str]:
        """Every value of a header sent once or more (``[]`` when absent)."""
        return list(self._headers.get(key.lower(), ()))

    @property
    def name(self) -> str:
        """The event's name (``"AgentConnect"``), ``""`` for a response."""
        return self.get("Event", "")

    @property
    def success(self) -> bool:
        """An event, or a response that says Success (what panoramisk calls success)."""
        return "event" in self._headers or self.get("Response", "") in _SUCCESS

    def __repr__(self) -> str:
        return f"AmiMessage({dict(self.items())!r})"


_SUCCESS = ("Success", "Follows", "Goodbye")

#: an event handler: called on the event loop with each event it was registered for
EventHandler = Callable[[AmiMessage], object]


class AmiEvents(Protocol):
    """Where AMI events come from (an :class:`AmiConnection`, or a test's fake)."""

    def on(self, event: str, handler: EventHandler) -> None: ...


class AmiActions(AmiEvents, Protocol):
    """Events plus actions: what a component that also acts needs (an
    :class:`AmiConnection`, or a test's fake)."""

    async def send_action(
        self,
        action: Mapping[str, ActionValue],
        *,
        timeout: float | None = 10.0,
        as_list: bool | None = None,
    ) -> list[AmiMessage]: ...


@dataclass(frozen=True)
class AmiAddress:
    """Where AMI listens: ``host[:port]`` (port 5038 when left out)."""

    host: str
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, text: str) -> AmiAddress:
        """``"pbx"`` -> ``pbx:5038``; ``"[::1]:5038"`` for IPv6; ValueError when bad::

        AmiAddress.parse("10.0.0.5:5039")   # AmiAddress(host='10.0.0.5', port=5039)
        """
        value = text.strip()
        if value.startswith("["):
            host, closed, rest = value[1:].partition("]")
            if not closed or (rest and not rest.startswith(":")):
                raise ValueError(f"{text!r}: expected [IPv6 address]:port")
            sep, port_text = rest[:1], rest[1:]
        elif value.count(":") > 1:
            raise ValueError(f"{text!r}: write an IPv6 address as [address]:port")
        else:
            host, sep, port_text = value.partition(":")
        if not host or any(c.isspace() or c in "/@?#[]" for c in host):
            raise ValueError(f"{text!r}: expected host or host:port")
        if not sep:
            return cls(host)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
        return cls(host, int(port_text))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class _PanoramiskLog:
    """What panoramisk logs, turned into our few rate-limited lines."""

    def __init__(self, owner: AmiConnection) -> None:
        self.owner = owner

    def warning(self, msg: str, *args: Any) -> None:
        if "connect" in msg:  # 'Not able to reconnect'
            self.owner._unreachable()
        else:
            log.warning("AMI %s: " + msg, self.owner.address, *args)

    def exception(self, msg: str, *args: Any) -> None:
        if "connect" in msg:  # 'Not able to connect'
            self.owner._unreachable()
        else:  # 'Fail to send <action>': the action may be the Login, with its secret
            log.warning("AMI %s: sending an action failed", self.owner.address)

    def error(self, msg: str, *args: Any) -> None:  # 'Connection lost': on_disconnect says it
        pass

    def info(self, msg: str, *args: Any) -> None:
        log.debug("AMI %s: " + msg, self.owner.address, *args)

    debug = info


class AmiConnection:
    """One AMI session for ``address``, either supervised in the background
    (:meth:`start`) or connected once (:meth:`connect`); see the module doc."""

    #: seconds between two "still unreachable" lines
    quiet = 60.0
    #: seconds between login attempts after "authentication failed"
    auth_retry = 30.0
    #: reconnect delays while unreachable: first, then doubled up to the last
    backoff = (1.0, 30.0)

    def __init__(self, address: AmiAddress, user: str, secret: str, *, events: str = "on") -> None:
        """``events``: the event classes to receive (``"on"``: all, ``"call,agent,user"``...);
        ask only for what the handlers need, every event is parsed in this process."""
        self.address = address
        self.user = user
        self.connected = asyncio.Event()
        self.auth_failures = 0
        self.connect_failures = 0
        self._supervised = True
        self._closed = False
        self._last_said = 0.0
        self._retry: asyncio.TimerHandle | None = None
        self._manager = Manager(
            host=address.host,
            port=address.port,
            username=user,
            secret=secret,
            events=events,
            reconnect_timeout=1,
            log=_PanoramiskLog(self),
            on_connect=self._on_connect,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )

    def on(self, event: str, handler: EventHandler) -> None:
        """Call ``handler`` with every event named ``event`` (``*`` patterns allowed),
        before or after connecting::

            ami.on("AgentConnect", lambda event: print(event["MemberName"]))
        """
        self._manager.register_event(event, lambda _m, message: handler(AmiMessage._of(message)))

    def start(self) -> None:
        """Begin connecting; returns at once (failures are retried and logged)."""
        self._closed = False
        task = self._manager.connect()
        # panoramisk reads the result in its own callback; this keeps asyncio quiet too
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect and log in once, without retrying: ``AmiError`` when the login is
        refused, ``TimeoutError`` when AMI does not answer in ``timeout`` seconds,
        ``OSError`` when it cannot be reached. Keep-alive pings are off: this session is
        for tools, a lost connection is not come back from."""
        self._supervised = False
        self._closed = False
        manager = self._manager
        manager.reconnect_timeout = 10**9
        manager.ping_delay = manager.ping_interval = 10**6
        try:
            async with asyncio.timeout(timeout):
                await manager.connect()
                login = manager.authenticated_future
                if login is None:
                    raise AmiError(f"AMI {self.address}: connected but no login was sent")
                reply = await asyncio.shield(login)
        except BaseException:
            self.close()
            raise
        if not reply.success:
            self.close()
            raise AmiError(f"AMI {self.address}: login as {self.user!r} refused")

    def close(self) -> None:
        self._closed = True  # a connection still being made is closed once it is
        if self._retry is not None:
            self._retry.cancel()
        self._manager.reconnect_timeout = 10**9  # a close is not a loss: do not come back
        self._manager.close()
        self.connected.clear()

    async def send_action(
        self,
        action: Mapping[str, ActionValue],
        *,
        timeout: float | None = 10.0,
        as_list: bool | None = None,
    ) -> list[AmiMessage]:
        """Send one action; return the response, then the events of its list if it has one
        (QueueStatus...). ``as_list=False`` says "a single response" and ``True`` "a list
        that ends with a ...Complete event": left out, panoramisk guesses from the reply's
        text (and waits forever after e.g. QueueAdd's "Added interface"). ``AmiError``
        when not connected, ``TimeoutError`` after ``timeout`` seconds::

            [reply] = await ami.send_action({"Action": "Ping"}, as_list=False)
        """
        future = self._send(action, as_list)
        async with asyncio.timeout(timeout):
            answer = await future
        messages = answer if isinstance(answer, list) else [answer]
        return [AmiMessage._of(m) for m in messages]

    def send_action_nowait(self, action: Mapping[str, ActionValue]) -> None:
        """Send one action and do not wait for (or read) its answer."""
        self._send(action, None)

    def _send(self, action: Mapping[str, ActionValue], as_list: bool | None) -> Any:
        protocol = self._manager.protocol
        if protocol is None or getattr(protocol, "closed", False):
            raise AmiError(f"AMI {self.address}: not connected ({action.get('Action')})")
        headers = {k: v if isinstance(v, str) else list(v) for k, v in action.items()}
        return self._manager.send_action(headers, as_list=as_list)

    # ---- panoramisk hooks --------------------------------------------------------------------
    def _unreachable(self) -> None:
        if not self._supervised:
            return  # connect() raises the OSError itself
        self.connect_failures += 1
        delay = self._manager.reconnect_timeout
        now = time.monotonic()
        if self.connect_failures == 1 or now - self._last_said >= self.quiet:
            log.warning(
                "AMI %s unreachable (%d attempt%s); retrying every %ds at most, "
                "FastAGI lookups go on",
                self.address,
                self.connect_failures,
                "" if self.connect_failures == 1 else "s",
                int(self.backoff[1]),
            )
            self._last_said = now
        self._manager.reconnect_timeout = min(max(delay * 2, self.backoff[0]), self.backoff[1])

    def _on_connect(self, manager: Manager) -> None:
        if self._closed:  # a reconnect that was under way when we closed
            manager.close()
            return
        future = manager.authenticated_future
        if future is not None and self._supervised:
            future.add_done_callback(self._on_login_reply)

    def _on_login_reply(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        reply = future.result()
        if getattr(reply, "success", False):
            return
        self.auth_failures += 1
        message = reply.get("message", "") if hasattr(reply, "get") else ""
        log.error(
            "AMI %s: authentication failed for user %r (%s); check the AMI user and "
            "secret (--ami-user, $CALLFLOW_AMI_SECRET); next attempt in %ds",
            self.address,
            self.user,
            message or "login refused",
            int(self.auth_retry),
        )
        protocol = getattr(self._manager, "protocol", None)
        if protocol is not None and getattr(protocol, "closed", False):
            return  # already lost: panoramisk has scheduled the next attempt
        # Asterisk closes the session after a failed login; we close first (panoramisk
        # does not come back after a close of ours) and come back in auth_retry seconds
        self._manager.close()
        loop = asyncio.get_running_loop()
        self._retry = loop.call_later(self.auth_retry, self.start)

    def _on_login(self, manager: Manager) -> None:
        if self.connect_failures or self.auth_failures:
            log.info("AMI %s connected after %d failed attempt(s)", self.address,
                     self.connect_failures + self.auth_failures)  # fmt: skip
        else:
            log.info("AMI %s connected", self.address)
        self.connect_failures = self.auth_failures = 0
        if self._supervised:  # a tool's session does not come back (see connect)
            self._manager.reconnect_timeout = self.backoff[0]
        self.connected.set()

    def _on_disconnect(self, manager: Manager, exc: BaseException | None) -> None:
        if self.connected.is_set():
            log.warning("AMI %s connection lost; reconnecting", self.address)
        self.connected.clear()
