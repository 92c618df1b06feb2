"""The service supervisor: start in order, stop in reverse, a failure named, SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

import pytest

from callflow.runtime.services import CannotListen, LookupServer, ServiceFailed, Supervisor
from callflow.store import make_engine, upgrade


class Recording:
    """A service that writes what happens to it into a shared journal."""

    def __init__(self, name: str, journal: list[str], *, fail: str = "") -> None:
        self.name, self.journal, self.fail = name, journal, fail

    async def start(self) -> None:
        await asyncio.sleep(0)
        if self.fail == "start":
            raise RuntimeError(f"{self.name} cannot start")
        self.journal.append(f"start {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        if self.fail == "stop":
            raise RuntimeError(f"{self.name} cannot stop")


async def test_services_start_in_order_and_stop_in_reverse():
    journal: list[str] = []
    services = {name: Recording(name, journal) for name in ("lookup", "records", "live")}
    async with Supervisor(services) as running:
        assert running.started == ["lookup", "records", "live"]
        journal.append("running")
    assert journal == [
        "start lookup",
        "start records",
        "start live",
        "running",
        "stop live",
        "stop records",
        "stop lookup",
    ]


async def test_a_service_that_fails_to_start_is_named_and_the_started_ones_stop():
    journal: list[str] = []
    supervisor = Supervisor(
        {
            "lookup": Recording("lookup", journal),
            "records": Recording("records", journal),
            "live": Recording("live", journal, fail="start"),
            "never": Recording("never", journal),
        }
    )
    with pytest.raises(ServiceFailed, match="live failed to start: live cannot start") as caught:
        await supervisor.start()
    assert caught.value.name == "live" and isinstance(caught.value.cause, RuntimeError)
    assert journal == ["start lookup", "start records", "stop records", "stop lookup"]
    assert supervisor.started == []


async def test_a_service_that_fails_to_stop_is_logged_and_the_others_still_stop(caplog):
    journal: list[str] = []
    supervisor = Supervisor(
        {
            "lookup": Recording("lookup", journal),
            "records": Recording("records", journal, fail="stop"),
            "live": Recording("live", journal),
        }
    )
    await supervisor.start()
    await supervisor.stop()
    assert journal[-3:] == ["stop live", "stop records", "stop lookup"]
    [failed] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failed.getMessage() == "records failed to stop"


async def test_run_stops_everything_on_sigterm():
    journal: list[str] = []
    supervisor = Supervisor({"a": Recording("a", journal), "b": Recording("b", journal)})
    loop = asyncio.get_running_loop()

    def started() -> None:
        journal.append("started")
        loop.call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)

    await asyncio.wait_for(supervisor.run(started=started), 5)
    assert journal == ["start a", "start b", "started", "stop b", "stop a"]
    # the handler is gone again: SIGTERM's default would end this process, so only look
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


async def test_a_lookup_server_whose_port_is_taken_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServiceFailed) as caught:
            await Supervisor({"FastAGI lookup server": LookupServer(engine, port=port)}).start()
    engine.dispose()
    assert isinstance(caught.value.cause, CannotListen)
    assert str(caught.value).startswith(
        f"FastAGI lookup server failed to start: cannot listen on 127.0.0.1:{port}: "
    )
