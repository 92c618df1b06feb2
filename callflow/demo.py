"""``callflow demo``: the 4S dealership example, deployed to the sandbox and called.

Starts a throwaway Asterisk 22, deploys ``examples/four_s_dealer.py`` with every staff
phone replaced by a test agent that answers (the front desk is busy, so the human-first
greeting falls through to the menu), answers CRM lookups for a few demo customers over
FastAGI, places scripted calls and prints where each one went.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callflow.deploy import CliControl, deploy
from callflow.loader import load_site
from callflow.model.site import LookupSettings, Site
from callflow.runtime.fastagi import AgiRequest, AgiSession, FastAgiServer
from callflow.sandbox import Sandbox, provision
from callflow.testing import CallDriver, CallResult, install_placeholder_prompts

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "four_s_dealer.py"

#: demo CRM: caller id -> what the lookup tells the dialplan
CUSTOMERS = {
    "13800000001": {"CF_CUSTOMER_ID": "1", "CF_TIER": "vip", "CF_MANAGER": "wang"},
    "13800000002": {"CF_CUSTOMER_ID": "2", "CF_TIER": "gold"},
}


@dataclass(frozen=True)
class DemoCall:
    title: str
    entry: str
    caller: str
    digits: str = ""
    at: dt.datetime | None = None


def _shanghai(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


CALLS = (
    DemoCall("VIP owner, rings his account manager", "8000", "13800000001"),
    DemoCall(
        "gold customer, weekday, presses 2 for service",
        "8000",
        "13800000002",
        "2",
        _shanghai(2026, 11, 24, 10, 0),
    ),
    DemoCall(
        "unknown caller, presses 3 for customer care",
        "8000",
        "13900000009",
        "3",
        _shanghai(2026, 11, 24, 11, 0),
    ),
    DemoCall(
        "unknown caller, Sunday night: leaves a message",
        "8000",
        "13900000010",
        "1",
        _shanghai(2026, 11, 22, 20, 0),
    ),
    DemoCall(
        "unknown caller, National Day", "8000", "13900000011", "2", _shanghai(2027, 10, 1, 10, 0)
    ),
)


def demo_site(site: Site, lookup_port: int) -> Site:
    """The example with test agents for phones and the demo lookup server."""
    staff = []
    for person in site.staff:
        behaviour = "busy" if "front_desk" in person.groups else "agent"
        staff.append(dataclasses.replace(person, device=f"Local/{person.id}@cf-test-{behaviour}/n"))
    return dataclasses.replace(
        site, staff=tuple(staff), lookup=LookupSettings(url=f"agi://127.0.0.1:{lookup_port}")
    )


async def _lookup(request: AgiRequest, agi: AgiSession) -> None:
    for name, value in CUSTOMERS.get(request.caller, {}).items():
        await agi.set_variable(name, value)
    if request.caller in CUSTOMERS:
        await agi.set_variable("CF_LOOKUP", "ok")


async def _run(pbx: Sandbox, echo: Callable[[str], None]) -> list[tuple[DemoCall, CallResult]]:
    async with FastAgiServer({"lookup": _lookup}, port=0) as agi:
        site = demo_site(load_site(str(EXAMPLE)), agi.port)
        install_placeholder_prompts(pbx, site)
        started = time.perf_counter()
        result = deploy(
            site, pbx.etc_dir, asterisk=CliControl(pbx.asterisk_command()), log_reader=pbx
        )
        echo(
            f"deployed {site.name} version {result.version} "
            f"in {time.perf_counter() - started:.2f}s (reload + verify)"
        )
        async with CallDriver.from_sandbox(pbx) as driver:
            entry = f"cf-{site.name}-entry"
            pending = []
            for call in CALLS:
                variables = {"CF_NOW": str(int(call.at.timestamp()))} if call.at else None
                pending.append(
                    driver.place_call(
                        entry,
                        call.entry,
                        caller_id=call.caller,
                        dtmf=call.digits,
                        prewait=1.0,
                        hold=6.0,
                        agent_talk=2.0,
                        timeout=40.0,
                        variables=variables,
                    )
                )
            results = await asyncio.gather(*pending)
    return list(zip(CALLS, results, strict=True))


def run_demo(echo: Callable[[str], None] = print) -> list[tuple[DemoCall, CallResult]]:
    """Run the demo end to end and print a table of where each call went."""
    from rich.console import Console
    from rich.table import Table

    root = provision()
    with Sandbox(root) as pbx:
        echo(f"Asterisk 22 sandbox up in {pbx.boot_seconds or 0:.2f}s ({pbx.workdir})")
        outcome = asyncio.run(_run(pbx, echo))
    table = Table(title="Where each call went")
    for column in ("call", "caller", "digits", "trace", "destination", "agent"):
        table.add_column(column)
    for call, res in outcome:
        table.add_row(
            call.title,
            call.caller,
            call.digits or "-",
            " > ".join(res.trace),
            res.dest,
            res.agent or "-",
        )
    Console().print(table)
    return outcome
