"""What a callflow process runs, as services started in order and stopped in reverse.

A service is anything with ``async start()`` and ``async stop()``. ``callflow serve``, the
demo and the benchmarks compose the same three (each also usable alone):

- :class:`LookupServer`: the FastAGI server answering the dialplan's ``lookup`` route
  from the store (first: every call's lookup depends on it);
- :class:`CallRecordWriter`: call records (and screen pops) from Asterisk's AMI events;
- :class:`~callflow.runtime.server.LiveService`: a site's live ARI application.

A :class:`Supervisor` starts them in order; when one fails to start, the ones already
started are stopped (in reverse) and :class:`ServiceFailed` names the one that failed.
:meth:`Supervisor.run` waits for SIGTERM/SIGINT (or an event), then stops them in
reverse, so the live app hands its calls back before the lookup server goes::

    lookup = LookupServer(engine, port=4573)
    records = CallRecordWriter(sessions, AmiConnection(address, user, secret))
    await Supervisor({"lookup server": lookup, "call records": records}).run()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from callflow.errors import CallflowError
from callflow.runtime.ami import AmiAddress, AmiConnection
from callflow.runtime.fastagi import FastAgiServer, Handler, Network
from callflow.runtime.lookup import CustomerLookup, LookupRoute
from callflow.runtime.records import AMI_EVENT_CLASSES, CallRecorder, OutboundStore
from callflow.runtime.screenpop import ScreenPop
from callflow.store.call_records import CallRecord

log = logging.getLogger("callflow.services")


class Service(Protocol):
    """Something a callflow process runs: started once, stopped once."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class ServiceFailed(CallflowError):
    """A service did not start: ``name`` says which, ``cause`` why."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(f"{name} failed to start: {cause}")
        self.name = name
        self.cause = cause


class AmiNotReady(CallflowError):
    """A call-record writer that must be connected before anything else starts is not."""


class CannotListen(CallflowError, OSError):
    """A server's address is taken or not ours to bind."""


class Supervisor:
    """Start ``services`` (name -> service) in order, stop them in reverse::

    async with Supervisor({"lookup server": lookup, "live app": live}):
        ...                      # both running
    """

    def __init__(self, services: Mapping[str, Service]) -> None:
        self.services = dict(services)
        self.started: list[str] = []

    async def start(self) -> None:
        """Start each service in order; if one fails, stop those started and raise
        :class:`ServiceFailed` naming it."""
        for name, service in self.services.items():
            try:
                await service.start()
            except Exception as exc:
                log.error("%s failed to start: %s", name, exc)
                await self.stop()
                raise ServiceFailed(name, exc) from exc
            self.started.append(name)

    async def stop(self) -> None:
        """Stop the started services, last started first. A service that fails to stop is
        logged by name and the others are still stopped."""
        while self.started:
            name = self.started.pop()
            try:
                await self.services[name].stop()
            except Exception:
                log.exception("%s failed to stop", name)

    async def run(
        self,
        stop: asyncio.Event | None = None,
        *,
        started: Callable[[], object] | None = None,
    ) -> None:
        """Start everything, call ``started``, run until SIGTERM/SIGINT (or until ``stop``
        is set), then stop everything."""
        stop = stop or asyncio.Event()
        with _stop_on_signals(stop):
            await self.start()
            try:
                if started is not None:
                    started()
                await stop.wait()
            finally:
                await self.stop()

    async def __aenter__(self) -> Supervisor:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # not in the main thread, or not on this platform: the caller sets ``stop`` itself
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


class LookupServer:
    """The FastAGI server that answers the compiled Lookup node from the store::

    async with LookupServer(make_lookup_engine(url), port=0) as server:
        print(f"agi://127.0.0.1:{server.port}/lookup")
    """

    def __init__(
        self,
        engine: Engine,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        budget: float = 0.5,
        allow: tuple[Network, ...] | None = None,
        threads: int = 8,
        routes: Mapping[str, Handler] | None = None,
    ) -> None:
        """``budget``: seconds per lookup; ``routes``: more FastAGI scripts to answer
        besides ``lookup``; ``allow``: the client networks answered (None: any)."""
        self.host = host
        self.route = LookupRoute(CustomerLookup(engine), budget=budget, threads=threads)
        self.server = FastAgiServer(
            {**(routes or {}), "lookup": self.route},
            host=host,
            port=port,
            budget=budget + 0.5,
            allow=allow,
        )
        self._port = port

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        return self.server.port

    async def start(self) -> None:
        try:
            await self.server.start()
        except OSError as exc:
            raise CannotListen(
                f"cannot listen on {self.host}:{self._port}: {exc.strerror or exc}"
            ) from exc

    async def stop(self) -> None:
        await self.server.stop()
        self.route.close()

    async def __aenter__(self) -> LookupServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


class CallRecordWriter:
    """Call records (and, with a ``webhook``, screen pops) from Asterisk's AMI events, on
    an AMI connection of its own (:attr:`ami`) that asks for just the events they need.

    ``connect_timeout=None`` (``callflow serve``): AMI connects in the background and an
    AMI that is down or refuses the login is logged and retried, never fatal. A number
    (the demo, tests): :meth:`start` connects once and fails when AMI does.
    ``ready_timeout`` (``callflow campaign run``, whose answers must not be lost): the
    background connection, which comes back after a drop, and :meth:`start` waits that
    many seconds for the first login, else fails saying why::

        records = CallRecordWriter(sessions, AmiAddress.parse("pbx"), "callflow", secret)
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        address: AmiAddress,
        user: str,
        secret: str,
        *,
        agents: Mapping[str, str] | None = None,
        webhook: str | None = None,
        connect_timeout: float | None = None,
        outbound: OutboundStore | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        self.ami = AmiConnection(address, user, secret, events=AMI_EVENT_CLASSES)
        self.address = address
        self.user = user
        self.ready_timeout = ready_timeout
        self.recorder = CallRecorder(sessions, agents=agents, outbound=outbound)
        self.screenpop = ScreenPop(webhook, sessions) if webhook else None
        self.connect_timeout = connect_timeout
        self.recorder.register(self.ami)
        if self.screenpop is not None:
            self.screenpop.register(self.ami)

    async def start(self) -> None:
        if self.connect_timeout is not None:
            await self.ami.connect(self.connect_timeout)
            return
        self.ami.start()
        if self.ready_timeout is None:
            return
        try:
            await asyncio.wait_for(self.ami.connected.wait(), self.ready_timeout)
        except TimeoutError:
            self.ami.close()
            why = (
                f"login as {self.user!r} refused (check --ami-user and --ami-secret)"
                if self.ami.auth_failures
                else "unreachable"
                if self.ami.connect_failures
                else "no answer"
            )
            raise AmiNotReady(f"AMI {self.address}: {why} after {self.ready_timeout:g} s") from None

    async def wait_for(self, uniqueids: Sequence[str], timeout: float = 5.0) -> int:
        """Wait (at most ``timeout`` s) until the calls ``uniqueids`` (a dialer's answered
        attempts: attempt id = channel id) have their records, so the answers and opt-outs
        of the last calls are stored before a process exits; how many have one."""
        wanted = set(uniqueids)
        if not wanted:
            return 0

        def recorded() -> int:
            with self.recorder.sessions() as session:
                found = session.scalars(
                    select(CallRecord.uniqueid).where(CallRecord.uniqueid.in_(wanted))
                ).all()
            return len(set(found))

        deadline = time.monotonic() + timeout
        while True:
            await self.recorder.flush()
            count = await asyncio.to_thread(recorded)
            if count >= len(wanted) or time.monotonic() > deadline:
                return count
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self.ami.close()
        await self.recorder.flush()
        self.recorder.close()
        if self.screenpop is not None:
            await self.screenpop.flush()
            self.screenpop.close()
