"""Small sites and helpers shared by the real-Asterisk tests."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from callflow import (
    Dial,
    Hangup,
    Lookup,
    LookupSettings,
    Menu,
    PriorityRule,
    Queue,
    Site,
    Staff,
)
from callflow.deploy import CliControl, deploy
from callflow.model.nodes import Play
from callflow.model.prompts import Prompt
from callflow.runtime.ami import AmiAddress
from callflow.runtime.services import CallRecordWriter
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.testing import install_placeholder_prompts, without_phones


def load(sandbox: Any, site: Site) -> list[str]:
    """Deploy ``site`` into the sandbox; return the WARNING/ERROR lines the load logged."""
    install_placeholder_prompts(sandbox, site)
    mark = sandbox.log_mark()
    site = without_phones(site)  # Local channels here; real SIP is test_phones.py
    deploy(site, sandbox.etc_dir, asterisk=CliControl(sandbox.asterisk_command()))
    return sandbox.problems_since(mark, settle=0.5)


def load_with_contexts(sandbox: Any, site: Site, contexts: str) -> None:
    """Deploy ``site`` with the test dialplan ``contexts`` appended to the sandbox's
    extensions.conf first: app_queue takes a Local member whose extension does not exist
    when the queue is loaded for an invalid device, and never rings it."""
    marker = re.search(r"(?m)^\[[^\]]+\]", contexts)
    assert marker is not None, "contexts without a [context] line"
    main_conf = Path(sandbox.etc_dir) / "extensions.conf"

    def append() -> bool:
        text = main_conf.read_text()
        if marker.group(0) in text:
            return False
        main_conf.write_text(text + contexts)
        sandbox.cli("dialplan reload")
        return True

    append()
    assert load(sandbox, site) == []
    if append():  # the deploy rewrote extensions.conf: the queues read members again
        sandbox.cli("queue reload all")


@contextlib.asynccontextmanager
async def record_writer(sandbox: Any, db: Path) -> AsyncIterator[tuple[str, Any, Any]]:
    """The call-record writer `callflow serve` runs, on ``sandbox``'s AMI, over a fresh
    SQLite store at ``db``: ``(url, recorder, sessions)`` while the block runs."""
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    writer = CallRecordWriter(
        sessions,
        AmiAddress(sandbox.ami_host, sandbox.ami_port),
        sandbox.ami_user,
        sandbox.ami_secret,
        connect_timeout=5,
    )
    await writer.start()
    try:
        yield url, writer.recorder, sessions
    finally:
        await writer.stop()
        engine.dispose()


def free_port() -> int:
    """A loopback port nothing listens on (yet), over TCP and UDP alike: SIP phones and
    RTP use it over UDP (a TCP-free port once was a SIPp phone's taken UDP port)."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


async def ari_get(sandbox: Any, path: str, **params: str) -> Any:
    """``GET <ari_url>/<path>`` as JSON (JSON carries values AMI would cut at a line
    break); None on 404."""
    auth = {"Authorization": aiohttp.encode_basic_auth(sandbox.ari_user, sandbox.ari_password)}
    async with (
        aiohttp.ClientSession(headers=auth) as http,
        http.get(f"{sandbox.ari_url}/{path}", params=params) as response,
    ):
        if response.status == 404:
            return None
        response.raise_for_status()
        return await response.json()


#: a device that exists for no channel driver: callers wait in the queue (joinempty=yes)
NOBODY = "PJSIP/callflow-nobody"


def priority_site(name: str, lookup_url: str, *, tiers=None) -> Site:
    """Entry 100: CRM lookup, then the 'sales' queue, where callers wait (nobody answers)."""
    return Site(
        name=name,
        entries={"100": "who"},
        staff=[Staff("ann", name="Ann", device=NOBODY, groups=("sales",))],
        priority=PriorityRule(tiers or {"vip": 10, "gold": 5}, default=0),
        lookup=LookupSettings(url=lookup_url),
        nodes=[
            Lookup(id="who", next="sales"),
            Queue(id="sales", members=["sales"], max_wait=120, overflow="bye"),
            Hangup(id="bye"),
        ],
    )


def hostile_site(name: str, payload: str) -> Site:
    """Hostile text everywhere free text is allowed, on the path of a real call."""
    return Site(
        name=name,
        label=payload,
        entries={"100": "hello", "101": "desk"},
        staff=[Staff("ann", name=payload, device=NOBODY, groups=("sales",))],
        nodes=[
            Play(id="hello", label=payload, prompts=Prompt("beep", text=payload), next="sales"),
            Queue(
                id="sales",
                label=payload,
                members=["sales"],
                max_wait=60,
                overflow="bye",
                cid_prefix=payload,
            ),
            Dial(
                id="desk", label=payload, target="ann", ring=1, no_answer="menu", cid_prefix=payload
            ),
            Menu(
                id="menu",
                label=payload,
                prompt=Prompt("beep", text=payload),
                options={"1": "sales"},
                operator="sales",
                timeout=1,
                tries=1,
                failure="bye",
            ),
            Hangup(id="bye", label=payload),
        ],
    )


def menu_site(name: str) -> Site:
    """A menu whose silence and invalid-input exits differ, so a test can tell them apart."""
    return Site(
        name=name,
        entries={"100": "menu"},
        staff=[Staff("ann", name="Ann", device=NOBODY, groups=("sales",))],
        nodes=[
            Menu(
                id="menu",
                prompt="beep",
                options={"1": "sales"},
                operator="sales",
                timeout=2,
                tries=2,
                invalid_prompt="beep",
                on_timeout="silent",
                failure="gave_up",
            ),
            Queue(id="sales", members=["sales"], max_wait=60, overflow="gave_up"),
            Hangup(id="silent"),
            Hangup(id="gave_up"),
        ],
    )
