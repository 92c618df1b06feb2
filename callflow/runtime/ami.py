"""One AMI connection that never stops ``callflow serve``: connect and retry in the background.

panoramisk does the protocol and reconnects by itself; this adapter decides how often and
what is said. AMI unreachable: the first failure is a WARNING, then one line per
:attr:`AmiConnection.quiet` seconds while retries back off from 1 s to 30 s. A wrong
user or secret: ERROR "authentication failed" once per attempt, one attempt every
:attr:`AmiConnection.auth_retry` seconds (Asterisk closes the session on a failed
login; we keep trying slowly so that fixing ``manager.conf`` and reloading is enough)::

    ami = AmiConnection(AmiAddress.parse("127.0.0.1:5038"), "callflow", secret)
    CallRecorder(sessions).register(ami.manager)
    ami.start()        # returns at once; FastAGI does not wait for AMI
    ...
    ami.close()
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager

log = logging.getLogger("callflow.ami")

DEFAULT_PORT = 5038


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
    """A panoramisk :class:`Manager` for ``address``, supervised (see the module doc)."""

    #: seconds between two "still unreachable" lines
    quiet = 60.0
    #: seconds between login attempts after "authentication failed"
    auth_retry = 30.0
    #: reconnect delays while unreachable: first, then doubled up to the last
    backoff = (1.0, 30.0)

    def __init__(self, address: AmiAddress, user: str, secret: str, **options: Any) -> None:
        self.address = address
        self.user = user
        self.connected = asyncio.Event()
        self.auth_failures = 0
        self.connect_failures = 0
        self._last_said = 0.0
        self._retry: asyncio.TimerHandle | None = None
        self.manager = Manager(
            host=address.host,
            port=address.port,
            username=user,
            secret=secret,
            reconnect_timeout=1,
            log=_PanoramiskLog(self),
            on_connect=self._on_connect,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
            **options,
        )

    def start(self) -> None:
        """Begin connecting; returns at once (failures are retried and logged)."""
        task = self.manager.connect()
        # panoramisk reads the result in its own callback; this keeps asyncio quiet too
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        self.manager.reconnect_timeout = 10**9  # a close is not a loss: do not come back
        self.manager.close()

    # ---- panoramisk hooks --------------------------------------------------------------------
    def _unreachable(self) -> None:
        self.connect_failures += 1
        delay = self.manager.reconnect_timeout
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
        self.manager.reconnect_timeout = min(max(delay * 2, self.backoff[0]), self.backoff[1])

    def _on_connect(self, manager: Manager) -> None:
        future = manager.authenticated_future
        if future is not None:
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
        protocol = getattr(self.manager, "protocol", None)
        if protocol is not None and getattr(protocol, "closed", False):
            return  # already lost: panoramisk has scheduled the next attempt
        # Asterisk closes the session after a failed login; we close first (panoramisk
        # does not come back after a close of ours) and come back in auth_retry seconds
        self.manager.close()
        loop = asyncio.get_running_loop()
        self._retry = loop.call_later(self.auth_retry, self.start)

    def _on_login(self, manager: Manager) -> None:
        if self.connect_failures or self.auth_failures:
            log.info("AMI %s connected after %d failed attempt(s)", self.address,
                     self.connect_failures + self.auth_failures)  # fmt: skip
        else:
            log.info("AMI %s connected", self.address)
        self.connect_failures = self.auth_failures = 0
        self.manager.reconnect_timeout = self.backoff[0]
        self.connected.set()

    def _on_disconnect(self, manager: Manager, exc: BaseException | None) -> None:
        if self.connected.is_set():
            log.warning("AMI %s connection lost; reconnecting", self.address)
        self.connected.clear()
