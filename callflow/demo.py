"""``callflow demo``: the 4S dealership example, deployed to the sandbox and called.

Starts a throwaway Asterisk 22, deploys ``examples/four_s_dealer.py`` with every staff
phone replaced by a test agent that answers (the front desk is busy, so the human-first
greeting falls through to the menu), and runs the CRM the way a site does: a fresh
SQLite store (migrated with ``upgrade``) filled from ``examples/four_s_staff.csv`` and
``examples/four_s_customers.csv``, answering the dialplan's lookups through the FastAGI
``lookup`` route, and call records written from Asterisk's own AMI events. Then it places
scripted calls and prints where each one went and what the store recorded. Last, the
example's ``satisfaction_survey`` campaign dials its audience (five owners) with the
dialer, into callees of the sandbox (``cf-demo-callees``: two answer and press digits,
one presses the opt-out digit, one is busy, one does not answer), and prints the
dispositions, the answers per question and the opt-outs the store holds.

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

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from callflow.compiler import compile_site
from callflow.contract import entry_context
from callflow.deploy import CliControl, deploy
from callflow.errors import CallflowError
from callflow.loader import load_site
from callflow.model.campaigns import Campaign
from callflow.model.site import LookupSettings, Site
from callflow.reports import Period, Report, ReportOptions, build_report, zone
from callflow.reports.kpis import EFFECTIVE_SECONDS, VIP
from callflow.reports.period import Interval
from callflow.runtime.ami import AmiAddress
from callflow.runtime.ari import AriSettings
from callflow.runtime.lookup import CustomerLookup
from callflow.runtime.records import CallRecorder, agent_ids
from callflow.runtime.services import CallRecordWriter, LookupServer, Supervisor
from callflow.sandbox import Sandbox, provision
from callflow.simulate import CUSTOMER_FIELDS, Script, SimResult, simulate
from callflow.store import CallRecord, Customer, make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact, DncNumber
from callflow.store.csv_import import import_customers, import_staff
from callflow.store.surveys import SurveyResponse
from callflow.testing import CallDriver, CallResult, install_placeholder_prompts, without_phones


class DemoDataMissing(CallflowError, FileNotFoundError):
    """The example site or its CSVs are not where the package says."""


class DemoReportError(CallflowError, OSError):
    """The demo's report file could not be written."""


#: the tier the summary sets against VIPs: customers with no special treatment
STANDARD = "standard"


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
    talk: float = 2.0  # seconds the test agent who answers talks


#: the demo's effective-call threshold (talk seconds): its calls talk 4 to 12 s, so the
#: KPI's own 180 s (``callflow demo --effective 180``) would count none of them
DEMO_EFFECTIVE = 10


def _shanghai(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


CALLS = (
    DemoCall("VIP owner, rings his account manager", "8000", "13800000001", talk=12.0),
    DemoCall(
        "gold customer, weekday, presses 2 for service",
        "8000",
        "13800000002",
        "2",
        _shanghai(2026, 11, 24, 10, 0),
        talk=4.0,
    ),
    DemoCall(
        "silver customer from his landline, presses 1: his manager first",
        "8000",
        "02155550103",
        "1",
        _shanghai(2026, 11, 24, 10, 30),
        talk=12.0,
    ),
    DemoCall(
        "customer with a hostile name, presses 3 for customer care",
        "8000",
        "13800000004",
        "3",
        _shanghai(2026, 11, 24, 11, 0),
        talk=5.0,
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
) -> tuple[list[tuple[DemoCall, CallResult]], list[tuple[CallRecord, str | None]], SurveyResult]:
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
            site,
            pbx.etc_dir,
            asterisk=CliControl(pbx.asterisk_command()),
            log_reader=pbx,
            prompts="refuse",  # every prompt is on the sandbox: its placeholders
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
                        hold=call.talk + 6.0,  # the caller stays until the agent is done
                        agent_talk=call.talk,
                        timeout=call.talk + 40.0,
                        at=call.at,
                    )
                )
            results = await asyncio.gather(*pending)
        route = lookup.route
        echo(f"CRM lookups: {route.answered} answered from the store, {route.fallbacks} fell back")
        written = await _records(records.recorder, sessions, len(CALLS))
        survey = await run_survey(pbx, site, sessions, records, echo)
    return list(zip(CALLS, results, strict=True)), written, survey


def run_demo(
    echo: Callable[[str], None] = print,
    store_dir: Path | None = None,
    report: Path | None = None,
    effective: int = DEMO_EFFECTIVE,
) -> list[tuple[DemoCall, CallResult]]:
    """Run the demo end to end and print where each call went and what was recorded.
    ``store_dir``: keep the demo's store there (``crm.db``) instead of a temporary one.
    ``report``: write the KPI report of the demo's calls there (the HTML page of
    ``callflow report``, effective calls at ``effective`` talk seconds) and end with its
    path and a summary (:func:`summary_lines`).

    outcome = run_demo(report=Path("demo-report.html"))
    call, result = outcome[0]
    assert result.dest == "queue:vip_sales" and result.event["path"] == "manager"
    """
    from rich.console import Console
    from rich.table import Table

    root = provision()
    with tempfile.TemporaryDirectory(prefix="cf-demo-") as tmp, Sandbox(root) as pbx:
        echo(f"Asterisk 22 sandbox up in {pbx.boot_seconds or 0:.2f}s ({pbx.workdir})")
        with demo_store(store_dir or Path(tmp), echo) as engine:
            outcome, records, survey = asyncio.run(_run(pbx, engine, echo))
            kpis = None if report is None else demo_report(engine, effective)
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
    print_survey(survey, echo)
    if report is not None and kpis is not None:
        write_report(kpis, report)
        for line in summary_lines(kpis, report):
            echo(line)
    return outcome


# -- the report (issue 14): `callflow report`'s HTML page of the demo's own store ----------


def demo_period(engine: Engine, timezone: str) -> Period:
    """Whole local days from the store's first call or attempt to its last, per day
    (per week beyond two months). The survey's attempts carry the dialer's clock (a
    weekday afternoon, :data:`SURVEY_AT`), its call records the real time."""
    stamps: list[dt.datetime] = []
    with make_sessionmaker(engine)() as session:
        for column in (
            CallRecord.started_at,
            CampaignAttempt.created_at,
            CampaignAttempt.dialled_at,
            DncNumber.created_at,
        ):
            low, high = session.execute(select(func.min(column), func.max(column))).one()
            stamps += [s for s in (low, high) if s is not None]
    tz = zone(timezone)
    if not stamps:
        stamps = [dt.datetime.now(dt.UTC)]
    local = [(s if s.tzinfo else s.replace(tzinfo=dt.UTC)).astimezone(tz) for s in stamps]
    first, last = min(local).date(), max(local).date() + dt.timedelta(days=1)
    interval: Interval = "day" if (last - first).days <= 62 else "week"
    return Period(
        dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC),
        dt.datetime.combine(last, dt.time(), tz).astimezone(dt.UTC),
        tz,
        interval,
    )


def demo_report(engine: Engine, effective: int = DEMO_EFFECTIVE) -> Report:
    """The KPI report of everything the demo stored (:func:`demo_period`), built by the
    same :func:`~callflow.reports.build_report` as ``callflow report``."""
    site = load_site(str(EXAMPLE))
    opts = ReportOptions(
        site=site.name,
        period=demo_period(engine, site.timezone),
        effective=effective,
        default_language=site.language,
    )
    with make_sessionmaker(engine)() as session:
        return build_report(session, opts)


def write_report(report: Report, path: Path) -> None:
    """The report as ``callflow report --format html`` writes it (whole, then renamed)."""
    from callflow.reports.render import as_html, write_atomic

    try:
        write_atomic(path, as_html(report))
    except OSError as exc:
        raise DemoReportError(f"{path}: cannot write the report ({exc.strerror or exc})") from exc


def summary_lines(report: Report, path: Path) -> list[str]:
    """The demo's last lines: where the report is, effective calls per agent (the
    report's leaderboard) and average wait per customer tier (its tier section)."""
    meta = report.meta()
    lines = [
        f"report: {path.resolve()} ({meta['site']}, {meta['from'][:10]} .. "
        f"{meta['until'][:10]} {meta['timezone']}, per {meta['interval']})"
    ]
    threshold = report.opts.effective
    if threshold == DEMO_EFFECTIVE:
        why = (
            f"the demo's threshold: its calls talk 4-12 s; the KPI's default is "
            f"{EFFECTIVE_SECONDS} s, `callflow demo --effective {EFFECTIVE_SECONDS}`"
        )
    elif threshold == EFFECTIVE_SECONDS:
        why = "the KPI's default"
    else:
        why = "--effective"
    board = report.sections["leaderboard"]
    counts = ", ".join(f"{r.agent} {r.effective} of {r.handled}" for r in board) or "no agents"
    lines.append(f"effective calls per agent (talk >= {threshold} s, {why}): {counts}")
    waits = {row.tier: row for row in report.tiers}
    tiers = ", ".join(
        f"{r.tier} {_seconds(r.avg_wait)} ({r.answered} answered)" for r in report.tiers
    )
    lines.append(f"average wait of answered calls by tier: {tiers or 'no calls waited'}")
    vip, standard = waits.get(VIP), waits.get(STANDARD)
    lines.append(
        f"VIP vs standard average wait: {_seconds(vip.avg_wait if vip else None)} vs "
        f"{_seconds(standard.avg_wait if standard else None)}"
    )
    return lines


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


# -- the survey campaign (issue 11): dialled by the dialer, answered by sandbox callees ----

SURVEY = "satisfaction_survey"
#: the sandbox context the demo's survey dials: Local/<number>@cf-demo-callees
SURVEY_CALLEES = "cf-demo-callees"
#: a Tuesday afternoon in Shanghai, inside the survey's window (mon-fri 10:00-20:00): the
#: dialer's clock starts there, so the demo dials whatever the real time and date
SURVEY_AT = _shanghai(2026, 11, 24, 14, 0)


@dataclass(frozen=True)
class SurveyCallee:
    """What one owner the survey's audience selects does when the dialer calls."""

    number: str  # E.164, as the call list holds it
    does: str  # "answers" | "optout" | "busy" | "no_answer"
    digits: str = ""  # pressed one per question ("optout": the opt-out digit)


#: the survey's audience: the example's customers tagged "purchased"
SURVEY_CALLS = (
    SurveyCallee("+8613800000001", "answers", "51"),
    SurveyCallee("+8613800000003", "answers", "42"),
    SurveyCallee("+8613800000005", "optout", "9"),
    SurveyCallee("+8613800000006", "busy"),
    SurveyCallee("+8613800000010", "no_answer"),
)


def callee_dialplan(callees: tuple[SurveyCallee, ...] = SURVEY_CALLS) -> str:
    """The ``cf-demo-callees`` context: each number's extension behaves as its callee.
    A digit goes 1.5 s after the question starts (its 0.3 s placeholder prompt has
    played; Read() waits 6 s)."""
    lines = [f"[{SURVEY_CALLEES}]"]
    for callee in callees:
        if not (callee.number[1:].isdigit() and set(callee.digits) <= set("0123456789")):
            raise ValueError(f"demo callee {callee.number!r}: digits only")
        exten = f"exten => {callee.number},1"
        if callee.does == "busy":
            lines.append(f"{exten},Busy(5)")
            continue
        if callee.does == "no_answer":
            lines += [f"{exten},Wait(40)", " same => n,Hangup()"]
            continue
        lines.append(f"{exten},Answer()")
        for digit in callee.digits:
            lines += [" same => n,Wait(1.5)", f" same => n,SendDTMF({digit},200)"]
        lines += [" same => n,Wait(5)", " same => n,Hangup()"]
    return "\n".join(lines) + "\n"


def install_callees(pbx: Sandbox) -> None:
    """Add the demo's callees to the sandbox's dialplan (after a deploy: it keeps the
    ``#include`` lines it finds) and reload it."""
    (pbx.etc_dir / f"{SURVEY_CALLEES}.conf").write_text(callee_dialplan())
    extensions = pbx.etc_dir / "extensions.conf"
    include = f'#include "{SURVEY_CALLEES}.conf"'
    text = extensions.read_text()
    if include not in text:
        extensions.write_text(text.rstrip("\n") + f"\n{include}\n")
    pbx.cli("dialplan reload")


def demo_survey(site: Site) -> Campaign:
    """The example's survey as the demo dials it: into the sandbox callees instead of the
    site's trunk, ringing 15 s (the least the rules allow) so the no-answer ends soon."""
    for campaign in site.campaigns:
        if campaign.id == SURVEY:
            return dataclasses.replace(
                campaign, endpoint=f"Local/{{number}}@{SURVEY_CALLEES}", ring_seconds=15
            )
    raise DemoDataMissing(f"the example site has no campaign {SURVEY!r}")


@dataclass
class SurveyResult:
    """What the store holds about the demo's survey once it ran."""

    loaded: str  # the call list load's report line
    seconds: float
    #: number -> (customer name, contact status, dispositions of its attempts, answers)
    contacts: dict[str, tuple[str, str, list[str], list[tuple[str, str]]]]
    dispositions: dict[str, int]
    #: question -> answer -> how many gave it
    answers: dict[str, dict[str, int]]
    optouts: list[str]  # numbers on the do-not-call list by opt-out
    recorded: int  # answered calls with a call record
    answered: int  # answered calls the dialer saw


def survey_result(
    sessions: sessionmaker[Session], site: str, campaign: str
) -> tuple[dict[str, tuple[str, str, list[str], list[tuple[str, str]]]], dict[str, int],
           dict[str, dict[str, int]], list[str]]:  # fmt: skip
    """(contacts, dispositions, answers per question, opt-outs) of a campaign, from the
    store: contacts and attempts, the survey answers of its call records, the DNC list."""
    with sessions() as session:
        contacts: dict[str, tuple[str, str, list[str], list[tuple[str, str]]]] = {
            c.number: (c.name or "", c.status, [], [])
            for c in session.scalars(
                select(CampaignContact)
                .where(CampaignContact.site == site, CampaignContact.campaign == campaign)
                .order_by(CampaignContact.number)
            )
        }
        dispositions: dict[str, int] = {}
        for attempt in session.scalars(
            select(CampaignAttempt)
            .where(CampaignAttempt.site == site, CampaignAttempt.campaign == campaign)
            .order_by(CampaignAttempt.created_at)
        ):
            disposition = attempt.disposition or attempt.state
            contacts[attempt.number][2].append(disposition)
            dispositions[disposition] = dispositions.get(disposition, 0) + 1
        answers: dict[str, dict[str, int]] = {}
        for number, question, answer in session.execute(
            select(CallRecord.dialled, SurveyResponse.question, SurveyResponse.answer)
            .join(CallRecord, CallRecord.id == SurveyResponse.call_record_id)
            .where(SurveyResponse.campaign == campaign, CallRecord.site == site)
            .order_by(SurveyResponse.id)
        ):
            if number in contacts:
                contacts[number][3].append((question, answer))
            counts = answers.setdefault(question, {})
            counts[answer] = counts.get(answer, 0) + 1
        optouts = list(
            session.scalars(
                select(DncNumber.number)
                .where(DncNumber.source == "optout", DncNumber.campaign == campaign)
                .order_by(DncNumber.number)
            )
        )
    return contacts, dispositions, answers, optouts


async def run_survey(
    pbx: Sandbox,
    site: Site,
    sessions: sessionmaker[Session],
    records: CallRecordWriter,
    echo: Callable[[str], None],
) -> SurveyResult:
    """Load the survey's call list from its audience, dial it with the dialer (its clock
    starting at :data:`SURVEY_AT`) into :data:`SURVEY_CALLEES`, wait for the answered
    calls' records (answers, opt-outs: the ``records`` writer already listening on AMI),
    and read what the store holds."""
    from callflow.dialer.service import DialerService
    from callflow.outbound.lists import load_audience

    campaign = demo_survey(site)
    install_callees(pbx)
    with sessions.begin() as session:
        report = load_audience(session, site.name, campaign, region="CN")
    echo(f"survey call list: {report}")
    started = time.monotonic()

    def clock() -> dt.datetime:
        return SURVEY_AT.astimezone(dt.UTC) + dt.timedelta(seconds=time.monotonic() - started)

    settings = AriSettings(pbx.ari_url, pbx.ari_user, pbx.ari_password, "callflow-demo")
    dialer = DialerService(
        sessions, site, campaign, settings, cps=5.0, until_idle=True, poll=0.2,
        dialer_id="demo", clock=clock,
    )  # fmt: skip
    await dialer.start()
    try:
        status = await asyncio.wait_for(dialer.wait(), 60)
    finally:
        await dialer.stop()
    answered = dialer.dialer.answered_ids()
    recorded = await records.wait_for(answered, timeout=5.0)
    seconds = time.monotonic() - started
    left = "every contact done" if status == "done" else "the rest are retries due later"
    echo(f"survey dialled in {seconds:.1f}s ({left})")
    contacts, dispositions, answers, optouts = await asyncio.to_thread(
        survey_result, sessions, site.name, campaign.id
    )
    return SurveyResult(
        str(report), seconds, contacts, dispositions, answers, optouts, recorded, len(answered)
    )


def survey_lines(result: SurveyResult) -> list[str]:
    """The survey's results as the demo prints them (tests compare them with the store)."""
    lines = [f"survey {SURVEY}: {len(result.contacts)} contacts"]
    for number, (name, status, dispositions, answers) in result.contacts.items():
        said = " ".join(f"{q}={a}" for q, a in answers) or "-"
        lines.append(
            f"  {number} {name!r} status={status} dispositions={','.join(dispositions) or '-'}"
            f" answers={said}"
        )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.dispositions.items()))
    lines.append(f"survey dispositions: {counts or 'none'}")
    for question, given in sorted(result.answers.items()):
        spread = ", ".join(f"{answer}: {n}" for answer, n in sorted(given.items()))
        lines.append(f"survey answers to {question}: {spread}")
    lines.append(f"survey opt-outs (do-not-call list): {', '.join(result.optouts) or 'none'}")
    lines.append(
        f"survey call records: {result.recorded} of {result.answered} answered calls stored"
    )
    return lines


def print_survey(result: SurveyResult, echo: Callable[[str], None]) -> None:
    for line in survey_lines(result):
        echo(line)


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
