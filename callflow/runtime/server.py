"""The live process: one site's Stasis application plus the FastAGI server, in one loop.

:class:`LiveRuntime` turns ARI events into call sessions (one task per call, so a slow or
failing call never holds up another), reclaims the channels still parked in the
application after every (re)registration, sweeps for orphans, and on shutdown hands every
call in progress back to the compiled dialplan at the node it was in. :func:`serve` wires
it to an :class:`~callflow.runtime.ari.AriClient` and a
:class:`~callflow.runtime.fastagi.FastAgiServer` and runs until SIGTERM/SIGINT::

    settings = AriSettings.from_env(app=app_name(site.name))
    asyncio.run(serve(site, settings, lookup=crm.lookup, agi_routes={"lookup": handler}))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from callflow.contract import CF_DEST, CF_ENTRY, CF_SITE, CF_TRACE
from callflow.model.site import Site
from callflow.runtime.ari import AriClient, AriSettings
from callflow.runtime.fastagi import FastAgiServer, Handler
from callflow.runtime.interpreter import CustomerLookup, Interpreter, app_name
from callflow.runtime.services import Supervisor
from callflow.runtime.session import AriEvent, CallControl, CallSession, ControlError

log = logging.getLogger("callflow.live")

#: fields of a log record that the JSON formatter copies when present
LOG_FIELDS = ("call", "node", "site", "entry", "app", "ari", "calls", "reclaimed")


class RuntimeControl(CallControl, Protocol):
    """Channel operations plus the two the runtime itself needs."""

    async def app_channels(self) -> list[str]: ...
    async def channel_info(self, channel: str) -> dict[str, Any] | None: ...


class LiveRuntime:
    """Dispatch one Stasis application's events to per-call sessions."""

    def __init__(self, interpreter: Interpreter, control: RuntimeControl) -> None:
        self.interpreter = interpreter
        self.control = control
        self.site = interpreter.site
        self.sessions: dict[str, CallSession] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.stopping = False
        self.started = 0
        self.reclaimed = 0
        self._orphans: set[str] = set()
        self._side: set[asyncio.Task[None]] = set()

    # ---- events -------------------------------------------------------------------------------
    def on_event(self, event: AriEvent) -> None:
        """Called by the adapter for every event; never blocks."""
        if event.type == "StasisStart":
            if event.channel in self.sessions:
                return
            entry = event.args[0] if event.args else ""
            session = CallSession(
                self.control,
                channel=event.channel,
                site=self.site.name,
                entry=entry,
                caller=event.caller,
            )
            if self.stopping:  # shutting down: the compiled flow takes it
                self._spawn(session.leave())
                return
            self.started += 1
            self._start(session, None)
            return
        session_for = self.sessions.get(event.channel)
        if session_for is not None:
            session_for.deliver(event)

    def _start(self, session: CallSession, start: str | None) -> None:
        self.sessions[session.channel] = session
        log.info(
            "call starts",
            extra={"call": session.channel, "entry": session.entry, "node": start},
        )
        task = asyncio.create_task(self._run(session, start), name=f"call-{session.channel}")
        self.tasks[session.channel] = task

    async def _run(self, session: CallSession, start: str | None) -> None:
        try:
            await self.interpreter.run_call(session, start)
        finally:
            self.sessions.pop(session.channel, None)
            self.tasks.pop(session.channel, None)
            log.info(
                "call leaves the runtime",
                extra={"call": session.channel, "node": session.node},
            )

    def _spawn(self, coro: Any) -> None:
        async def quietly() -> None:
            with contextlib.suppress(Exception):
                await coro

        task = asyncio.create_task(quietly())
        self._side.add(task)
        task.add_done_callback(self._side.discard)

    # ---- reclaiming ------------------------------------------------------------------------------
    async def reclaim(self) -> int:
        """Take over every channel in the application that has no session (after a
        reconnect or a restart of this process); returns how many were taken."""
        try:
            channels = await self.control.app_channels()
        except ControlError as exc:
            log.warning("cannot list the application's channels: %s", exc)
            return 0
        taken = 0
        for channel in channels:
            if channel in self.sessions or self.stopping:
                continue
            if await self._reclaim_one(channel):
                taken += 1
        if taken:
            log.info("reclaimed calls", extra={"reclaimed": taken})
        self.reclaimed += taken
        return taken

    async def _reclaim_one(self, channel: str) -> bool:
        get = self.control.get_var
        try:
            site, entry, trace_text, dest = (
                await get(channel, CF_SITE),
                await get(channel, CF_ENTRY),
                await get(channel, CF_TRACE),
                await get(channel, CF_DEST),
            )
            info = await self.control.channel_info(channel)
        except ControlError as exc:
            log.info("cannot reclaim: %s", exc, extra={"call": channel})
            return False
        if info is None or channel in self.sessions:
            return False
        caller = str((info.get("caller") or {}).get("number", ""))
        if site != self.site.name or not entry or entry not in self.site.entries:
            # never set up: start it afresh from the entry Stasis() was given
            data = str((info.get("dialplan") or {}).get("app_data", ""))
            parts = data.split(",")
            fresh = CallSession(
                self.control,
                channel=channel,
                site=self.site.name,
                entry=parts[1] if len(parts) > 1 else "",
                caller=caller,
            )
            self._start(fresh, None)
            return True
        trace = (trace_text or "").split()
        node = trace[-1] if trace and trace[-1] in self.site.node_map else None
        session = CallSession(
            self.control,
            channel=channel,
            site=self.site.name,
            entry=entry,
            caller=caller,
            trace=trace[:-1] if node else trace,
            dest=dest or "",
            ready=True,
        )
        self._start(session, node or self.site.entries[entry])
        return True

    async def sweep(self, interval: float = 10.0) -> None:
        """Forever: reclaim channels seen without a session on two sweeps in a row (so a
        call whose StasisStart is still on its way is never taken twice)."""
        while True:
            await asyncio.sleep(interval)
            if self.stopping:
                return
            try:
                channels = set(await self.control.app_channels())
            except ControlError:
                continue
            orphans = {c for c in channels if c not in self.sessions}
            stale = orphans & self._orphans
            self._orphans = orphans - stale
            for channel in sorted(stale):
                if channel not in self.sessions:
                    await self._reclaim_one(channel)

    # ---- shutdown --------------------------------------------------------------------------------
    async def shutdown(self) -> int:
        """Stop taking calls and hand each call in progress back to the compiled dialplan
        at the node it is in; returns how many were handed back."""
        self.stopping = True
        sessions = list(self.sessions.values())
        tasks = [self.tasks[s.channel] for s in sessions if s.channel in self.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(
            *(self.interpreter.hand_back(s) for s in sessions), return_exceptions=True
        )
        if self._side:
            await asyncio.gather(*self._side, return_exceptions=True)
        log.info("runtime stopped", extra={"calls": len(sessions)})
        return len(sessions)


class ThreadedLookup:
    """The interpreter's lookup over a blocking one (the store's
    :meth:`~callflow.runtime.lookup.CustomerLookup.answer`): each query runs in a small
    thread pool, so a slow database holds up only its own call; the interpreter's
    ``lookup_timeout`` is the budget, and an error makes the caller unknown::

        lookup = ThreadedLookup(CustomerLookup(engine).answer)
        LiveService(site, settings, lookup=lookup, lookup_timeout=0.5)
    """

    def __init__(self, answer: Callable[[str], Iterable[tuple[str, str]]], threads: int = 8):
        self.answer = answer
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="cf-live-lookup")

    async def __call__(self, caller: str) -> Mapping[str, str] | None:
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self._pool, self.answer, caller)
        return dict(found)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the call's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in LOG_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Structured logs on stderr (what ``callflow serve`` uses)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("callflow")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class LiveService:
    """Everything ``callflow serve`` runs for one site, startable and stoppable in-process
    (tests and benchmarks use it directly)::

        service = LiveService(site, settings, lookup=crm.lookup)
        await service.start()
        await service.ari.registered.wait()
        ...
        await service.stop()          # calls in progress go back to the compiled dialplan
    """

    def __init__(
        self,
        site: Site,
        settings: AriSettings,
        *,
        lookup: CustomerLookup | None = None,
        lookup_timeout: float = 1.0,
        agi_routes: Mapping[str, Handler] | None = None,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        sweep_interval: float = 10.0,
    ) -> None:
        self.site = site
        self.settings = settings
        self.interpreter = Interpreter(site, lookup=lookup, lookup_timeout=lookup_timeout)
        if settings.app != app_name(site.name):
            log.warning("application %r is not the site's %r", settings.app, app_name(site.name))
        self.ari = AriClient(settings, self._on_event, on_registered=self._on_registered)
        self.runtime = LiveRuntime(self.interpreter, self.ari)
        self.agi = FastAgiServer(agi_routes, host=agi_host, port=agi_port) if agi_routes else None
        self.sweep_interval = sweep_interval
        self._tasks: list[asyncio.Task[Any]] = []

    def _on_event(self, event: AriEvent) -> None:
        self.runtime.on_event(event)

    async def _on_registered(self) -> None:
        await self.runtime.reclaim()

    async def start(self) -> None:
        if self.agi is not None:
            await self.agi.start()
        self._tasks = [
            asyncio.create_task(self.ari.run(), name="ari"),
            asyncio.create_task(self.runtime.sweep(self.sweep_interval), name="sweep"),
        ]
        log.info(
            "serving",
            extra={"site": self.site.name, "app": self.settings.app, "ari": self.settings.url},
        )

    async def stop(self, *, hand_back: bool = True) -> None:
        """Stop; with ``hand_back`` (SIGTERM) calls in progress continue in the compiled
        dialplan, without it (a crash, for tests) they stay parked in the application."""
        if hand_back:
            await self.runtime.shutdown()
        else:
            self.runtime.stopping = True
            for task in list(self.runtime.tasks.values()):
                task.cancel()
            await asyncio.gather(*self.runtime.tasks.values(), return_exceptions=True)
        await self.ari.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.agi is not None:
            await self.agi.stop()
        log.info("stopped", extra={"site": self.site.name, "calls": self.runtime.started})


async def serve(
    site: Site,
    settings: AriSettings,
    *,
    lookup: CustomerLookup | None = None,
    lookup_timeout: float = 1.0,
    agi_routes: Mapping[str, Handler] | None = None,
    agi_host: str = "127.0.0.1",
    agi_port: int = 4573,
    stop: asyncio.Event | None = None,
) -> LiveRuntime:
    """Run ``site`` live until SIGTERM/SIGINT (or ``stop`` is set), then hand the calls in
    progress back to dialplan and return the runtime (for its counters)."""
    service = LiveService(
        site,
        settings,
        lookup=lookup,
        lookup_timeout=lookup_timeout,
        agi_routes=agi_routes,
        agi_host=agi_host,
        agi_port=agi_port,
    )
    await Supervisor({"live app": service}).run(stop)
    return service.runtime
