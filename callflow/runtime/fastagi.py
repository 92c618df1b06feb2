"""An asyncio FastAGI server: the compiled dialplan's ``AGI(agi://host:port/script,...)``.

A FastAGI connection is one short conversation: Asterisk sends ``agi_*`` headers, we send
commands (``SET VARIABLE ...``) and read each ``200 result=...`` reply, then close. A
handler gets the request and a session to talk through; it runs under a time budget, and
whatever goes wrong (an exception, the budget, a dead socket) is logged with the call's
id and ends only that conversation. The compiled Lookup node then sees no answer and
takes its fallback::

    async def hello(request, agi):
        await agi.set_variable("GREETING", f"hi {request.caller}")

    server = FastAgiServer({"hello": hello}, port=4573)
    await server.start()
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger("callflow.fastagi")

_REPLY = re.compile(r"(\d{3})(?: result=(-?\d+)(?: \((.*)\))?)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")
#: one line of the AGI environment exactly as res_agi's setup_env writes it
_ENV_LINE = re.compile(r"(agi_[a-z0-9_]{1,40}): (.*)")


class AgiError(RuntimeError):
    """Asterisk answered a command with an error, or the conversation broke."""


@dataclass(frozen=True)
class AgiRequest:
    """The ``agi_*`` headers of one connection, with the usual ones by name."""

    env: Mapping[str, str]

    @property
    def script(self) -> str:
        return self.env.get("agi_network_script", "").split("?", 1)[0].strip("/")

    @property
    def args(self) -> list[str]:
        out, i = [], 1
        while f"agi_arg_{i}" in self.env:
            out.append(self.env[f"agi_arg_{i}"])
            i += 1
        return out

    @property
    def caller(self) -> str:
        return self.env.get("agi_callerid", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: int | None
    data: str = ""


def quote(value: str) -> str:
    """An AGI argument that Asterisk reads back as ``value`` (control characters become
    spaces: a command is one line)."""
    flat = _CONTROL.sub(" ", value)
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class AgiSession:
    """Send commands to Asterisk over one FastAGI connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    sent: list[str] = field(default_factory=list)

    async def command(self, line: str) -> AgiReply:
        if "\n" in line or "\r" in line:
            raise AgiError(f"AGI command must be one line: {line!r}")
        self.writer.write(line.encode() + b"\n")
        self.sent.append(line)
        await self.writer.drain()
        raw = await self.reader.readline()
        if not raw:
            raise AgiError(f"connection closed while waiting for the reply to {line!r}")
        text = raw.decode(errors="replace").strip()
        while text.startswith("520-"):  # multi-line usage error
            raw = await self.reader.readline()
            text = raw.decode(errors="replace").strip()
            if not raw or text.startswith("520 "):
                break
        match = _REPLY.match(text)
        if match is None:
            raise AgiError(f"unexpected reply {text!r} to {line!r}")
        code = int(match.group(1))
        reply = AgiReply(
            code, int(match.group(2)) if match.group(2) else None, match.group(3) or ""
        )
        if code != 200:
            raise AgiError(f"{line!r} failed: {text}")
        return reply

    async def set_variable(self, name: str, value: str) -> None:
        if not _NAME.fullmatch(name):
            raise AgiError(f"bad channel variable name {name!r}")
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def get_variable(self, name: str) -> str | None:
        if not _NAME.fullmatch(name):
            raise AgiError(f"bad channel variable name {name!r}")
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == 1 else None

    async def verbose(self, message: str, level: int = 3) -> None:
        await self.command(f"VERBOSE {quote(message)} {level}")


Handler = Callable[[AgiRequest, AgiSession], Awaitable[None]]


def add_env_line(env: dict[str, str], line: str) -> None:
    """Add one ``agi_key: value`` line of the AGI environment to *env*.

    Refuses (:class:`AgiError`) a line not in res_agi's exact form and a key already
    seen: a line break inside text that reaches the environment (a caller's name, a
    redirecting number) makes Asterisk send extra lines, and a later ``agi_callerid``
    must never replace the real one::

        add_env_line(env, "agi_callerid: 13800000001")
    """
    match = _ENV_LINE.fullmatch(line)
    if match is None:
        raise AgiError(f"malformed AGI environment line {line[:80]!r}")
    key, value = match.groups()
    if key in env:
        raise AgiError(f"AGI environment repeats {key!r} (a line break in a caller's text?)")
    env[key] = value.strip()


async def read_request(reader: asyncio.StreamReader) -> AgiRequest:
    """Read the environment Asterisk sends first; malformed or repeated lines end the
    conversation (see :func:`add_env_line`)."""
    env: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if not raw:
            raise AgiError("connection closed before the AGI headers ended")
        line = raw.decode(errors="replace").rstrip("\r\n")
        if not line:
            return AgiRequest(env)
        add_env_line(env, line)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(text: str) -> tuple[Network, ...]:
    """``"127.0.0.1,10.0.0.0/8"`` -> networks; ValueError naming the bad item::

    parse_allow("127.0.0.1, ::1")
    """
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("expected one or more addresses or networks, comma-separated")
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address or network ({exc})") from None
    return tuple(out)


class RateLimitedLog:
    """WARNINGs that cannot flood: the first ``burst`` per ``interval`` seconds, then one
    summary of how many were left out (said with the next one after the interval)."""

    def __init__(self, logger: logging.Logger, *, burst: int = 10, interval: float = 60.0):
        self.logger, self.burst, self.interval = logger, burst, interval
        self._window = float("-inf")
        self._said = 0
        self.suppressed = 0

    def warning(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._window >= self.interval:
            if self.suppressed:
                self.logger.warning(
                    "%d more FastAGI warnings left out in the last %gs",
                    self.suppressed,
                    self.interval,
                )
            self._window, self._said, self.suppressed = now, 0, 0
        if self._said < self.burst:
            self._said += 1
            self.logger.warning(msg, *args)
        else:
            self.suppressed += 1


class FastAgiServer:
    """Serve FastAGI ``routes`` (script name -> handler) on ``host:port``.

    ``budget`` seconds bound each conversation (headers, handler, replies); a handler that
    overruns is cancelled and the call continues in dialplan without its answer. With
    ``allow`` (networks, see :func:`parse_allow`), connections from any other address are
    closed unread: anyone who reaches the port could otherwise look up any customer.
    Failures are logged through a :class:`RateLimitedLog`.
    """

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        budget: float = 1.0,
        allow: Iterable[Network] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.host, self._port, self.budget = host, port, budget
        self.allow = tuple(allow) if allow is not None else None
        self._server: asyncio.Server | None = None
        self.served = 0
        self.failed = 0
        self.refused = 0
        self.warnings = RateLimitedLog(log)

    def allows(self, address: str) -> bool:
        """Whether a client at ``address`` may talk to this server."""
        if self.allow is None:
            return True
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.allow)

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            return self._port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request: AgiRequest | None = None
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self.allows(client):
            self.refused += 1
            self.warnings.warning("FastAGI connection from %s refused: not in --allow", client)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        try:
            async with asyncio.timeout(self.budget):
                request = await read_request(reader)
                handler = self.routes.get(request.script)
                if handler is None:
                    raise AgiError(f"no FastAGI script {request.script!r}")
                await handler(request, AgiSession(reader, writer))
            self.served += 1
        except Exception as exc:  # one bad conversation must never stop the server
            self.failed += 1
            call = request.uniqueid if request else "?"
            script = request.script if request else "?"
            reason = "over its time budget" if isinstance(exc, TimeoutError) else repr(exc)
            self.warnings.warning(
                "FastAGI %s for call %s from %s failed: %s", script, call, client, reason
            )
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
