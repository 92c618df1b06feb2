"""``callflow demo``: the 4S dealership example, deployed to the sandbox and called.

Starts a throwaway Asterisk 22, deploys ``examples/four_s_dealer.py`` with every staff
phone replaced by a test agent that answers (the front desk is busy, so the human-first
greeting falls through to the menu), and runs the CRM the way a site does: a fresh
SQLite store (migrated with ``upgrade``) filled from ``examples/four_s_staff.csv`` and
``examples/four_s_customers.csv``, answering the dialplan's lookups through the FastAGI
``lookup`` route, and call records written from Asterisk's own AMI events. Then it places
scripted calls and prints where each one went and what the store recorded.

``callflow demo --dry-run`` needs no Asterisk: it validates and compiles the example,
fills the store the same way and walks the same calls through the simulator, each with
what the store says about its caller.

The example and its CSVs ship inside the package as ``callflow/examples`` (pyproject maps
the checkout's ``examples/`` there), so an installed wheel runs the demo as a checkout
does, from the same files.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from callflow.compiler import compile_site
from callflow.contract import entry_context
from callflow.deploy import CliControl, deploy
from callflow.errors import CallflowError
from callflow.loader import load_site
from callflow.model.site import LookupSettings, Site
from callflow.runtime.ami import AmiAddress
from callflow.runtime.lookup import CustomerLookup
from callflow.runtime.records import CallRecorder, agent_ids
from callflow.runtime.services import CallRecordWriter, LookupServer, Supervisor
from callflow.sandbox import Sandbox, provision
from callflow.simulate import CUSTOMER_FIELDS, Script, SimResult, simulate
from callflow.store import CallRecord, Customer, make_engine, make_sessionmaker, upgrade
from callflow.store.csv_import import import_customers, import_staff
from callflow.testing import CallDriver, CallResult, install_placeholder_prompts, without_phones


class DemoDataMissing(CallflowError, FileNotFoundError):
    """The example site or its CSVs are not where the package says."""


def examples_dir() -> Path:
    """The example sites and CSVs: ``callflow/examples`` in an installed wheel, the
    checkout's ``examples/`` in an editable install (the same files: see the module)."""
    here = Path(__file__).resolve().parent
    candidates = (here / "examples", here.parent / "examples")
    for candidate in candidates:
        if (candidate / "four_s_dealer.py").is_file():
            return candidate
    raise DemoDataMissing(
        f"the demo's example site is missing: looked for four_s_dealer.py in "
        f"{' and '.join(str(c) for c in candidates)}; reinstall asterisk-callflow"
    )


EXAMPLES = examples_dir()
EXAMPLE = EXAMPLES / "four_s_dealer.py"
STAFF_CSV = EXAMPLES / "four_s_staff.csv"
CUSTOMERS_CSV = EXAMPLES / "four_s_customers.csv"


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
        "silver customer from his landline, presses 1: his manager first",
        "8000",
        "02155550103",
        "1",
        _shanghai(2026, 11, 24, 10, 30),
    ),
    DemoCall(
        "customer with a hostile name, presses 3 for customer care",
        "8000",
        "13800000004",
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
        without_phones(site),  # test agents stand in for the phones; no carrier here
        staff=tuple(staff),
        lookup=LookupSettings(url=f"agi://127.0.0.1:{lookup_port}"),
    )


@contextmanager
def demo_store(directory: Path, echo: Callable[[str], None]) -> Iterator[Engine]:
    """A migrated SQLite store in *directory* with the example's staff and customers."""
    url = f"sqlite:///{directory / 'crm.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        for report in (import_staff(engine, STAFF_CSV), import_customers(engine, CUSTOMERS_CSV)):
            echo(str(report))
            for message in report.messages():
                echo(f"  {message}")
        yield engine
    finally:
        engine.dispose()


async def _records(
    recorder: CallRecorder, sessions: sessionmaker[Session], calls: int
) -> list[tuple[CallRecord, str | None]]:
    """The call records of this run with each customer's name, once all are written."""
    deadline = time.monotonic() + 3.0
    while True:
        await recorder.flush()
        with sessions() as session:
            rows = session.execute(
                select(CallRecord, Customer.name)
                .outerjoin(Customer, Customer.id == CallRecord.customer_id)
                .order_by(CallRecord.id)
            ).all()
        if len(rows) >= calls or time.monotonic() > deadline:
            return [(record, name) for record, name in rows]
        await asyncio.sleep(0.1)


async def _run(
    pbx: Sandbox, engine: Engine, echo: Callable[[str], None]
) -> tuple[list[tuple[DemoCall, CallResult]], list[tuple[CallRecord, str | None]]]:
    sessions = make_sessionmaker(engine)
    lookup = LookupServer(engine, port=0)
    records = CallRecordWriter(
        sessions,
        AmiAddress(pbx.ami_host, pbx.ami_port),
        pbx.ami_user,
        pbx.ami_secret,
        connect_timeout=5,
    )
    # the same lookup server and record writer `callflow serve` runs, here in one process
    async with Supervisor({"FastAGI lookup server": lookup, "call records": records}):
        site = demo_site(load_site(str(EXAMPLE)), lookup.port)
        records.recorder.agents.update(agent_ids(site))  # records name agents by staff id
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
            entry = entry_context(site.name)
            pending = []
            for call in CALLS:
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
                        at=call.at,
                    )
                )
            results = await asyncio.gather(*pending)
        route = lookup.route
        echo(f"CRM lookups: {route.answered} answered from the store, {route.fallbacks} fell back")
        written = await _records(records.recorder, sessions, len(CALLS))
    return list(zip(CALLS, results, strict=True)), written


def run_demo(echo: Callable[[str], None] = print) -> list[tuple[DemoCall, CallResult]]:
    """Run the demo end to end and print where each call went and what was recorded.

    outcome = run_demo()
    call, result = outcome[0]
    assert result.dest == "queue:vip_sales" and result.event["path"] == "manager"
    """
    from rich.console import Console
    from rich.table import Table

    root = provision()
    with tempfile.TemporaryDirectory(prefix="cf-demo-") as tmp, Sandbox(root) as pbx:
        echo(f"Asterisk 22 sandbox up in {pbx.boot_seconds or 0:.2f}s ({pbx.workdir})")
        with demo_store(Path(tmp), echo) as engine:
            outcome, records = asyncio.run(_run(pbx, engine, echo))
    table = Table(title="Where each call went")
    for column in ("call", "caller", "digits", "tier", "trace", "destination", "path", "agent"):
        table.add_column(column)
    for call, res in outcome:
        table.add_row(
            call.title,
            call.caller,
            call.digits or "-",
            str(res.event.get("tier") or "-"),
            " > ".join(res.trace),
            res.dest,
            str(res.event.get("path") or "-"),
            res.agent or "-",
        )
    console = Console()
    console.print(table)
    echo(f"call records in the store ({len(records)}):")
    for record, name in records:
        echo(
            f"  {record.caller or '-'} {name or '(unknown caller)'!r} tier={record.tier or '-'}"
            f" prio={record.priority} {record.destination} path={record.path or '-'}"
            f" {record.disposition} agent={record.agent or '-'} wait={record.wait_seconds}s"
            f" talk={record.talk_seconds if record.talk_seconds is not None else '-'}s"
        )
    return outcome


def dry_run(echo: Callable[[str], None] = print) -> list[tuple[DemoCall, SimResult]]:
    """The demo without Asterisk: the packaged example validated and compiled, the store
    filled from its CSVs, and each demo call walked by the simulator with what the store
    says about its caller::

        for call, result in dry_run():
            print(call.title, result.dest)
    """
    site = load_site(str(EXAMPLE))
    compiled = compile_site(demo_site(site, 4573))
    lines = sum(text.count("\n") for text in compiled.files.values())
    echo(f"{site.name}: valid; compiles to {', '.join(sorted(compiled.files))} ({lines} lines)")
    outcome = []
    with tempfile.TemporaryDirectory(prefix="cf-demo-") as tmp, demo_store(Path(tmp), echo) as e:
        lookup = CustomerLookup(e)
        for call in CALLS:
            found = dict(lookup.answer(call.caller))
            customer = {k: found[v] for k, v in CUSTOMER_FIELDS.items() if v in found}
            script = Script(
                inputs=list(call.digits),
                customer=customer or None,
                caller_id=call.caller,
                at=call.at,
                manager="answer",  # the demo's staff phones are test agents that answer
            )
            result = simulate(site, call.entry, script=script)
            echo(
                f"  {call.title}: {' > '.join(result.trace)} -> {result.dest or '-'}"
                f" (path {result.path or '-'})"
            )
            outcome.append((call, result))
    return outcome
