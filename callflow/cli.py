"""The ``callflow`` command: the composition root that wires the library together.

No module-level state: every command builds what it needs from its options.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from callflow.compiler import compile_site, write
from callflow.errors import CallflowError, Severity, ValidationError
from callflow.loader import load_site
from callflow.model.site import Site
from callflow.validate import validate

if TYPE_CHECKING:
    from callflow.deploy import CliControl, ProblemLog


def _load(spec: str) -> Site:
    try:
        return load_site(spec)
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc


def _print_diagnostics(problems: list, as_json: bool) -> None:  # type: ignore[type-arg]
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in problems], indent=2))
        return
    for d in problems:
        click.echo(str(d), err=d.severity is Severity.ERROR)


@click.group()
@click.version_option(package_name="asterisk-callflow")
def main() -> None:
    """Declare a contact centre in Python; compile it to Asterisk or run it live."""


@main.command("validate")
@click.argument("site_spec", metavar="SITE")
@click.option("--json", "as_json", is_flag=True, help="Print diagnostics as JSON.")
def validate_cmd(site_spec: str, as_json: bool) -> None:
    """Check SITE (file.py[:name]) and print every problem; exit 1 if any is an error."""
    problems = validate(_load(site_spec))
    _print_diagnostics(problems, as_json)
    errors = sum(d.severity is Severity.ERROR for d in problems)
    if not as_json:
        click.echo(f"{errors} error(s), {len(problems) - errors} warning(s)", err=bool(errors))
    sys.exit(1 if errors else 0)


@main.command("compile")
@click.argument("site_spec", metavar="SITE")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory to write extensions.conf, queues.conf, voicemail.conf into.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUTPUT differs.")
def compile_cmd(site_spec: str, output: Path, check: bool) -> None:
    """Compile SITE to Asterisk configuration files in OUTPUT."""
    site = _load(site_spec)
    try:
        compiled = compile_site(site)
    except ValidationError as exc:
        _print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors; nothing written") from exc
    if check:
        stale = [
            name
            for name, text in sorted(compiled.files.items())
            if not (output / name).is_file() or (output / name).read_text() != text
        ]
        if stale:
            raise click.ClickException(f"{output}: out of date: {', '.join(stale)}")
        click.echo(f"{output}: up to date")
        return
    for path in write(compiled, output):
        click.echo(f"wrote {path}")


# -- sandbox ----------------------------------------------------------------------------
@main.group()
def sandbox() -> None:
    """An isolated Asterisk 22 for tests and demos (no containers, cached root)."""


@sandbox.command("provision")
def sandbox_provision() -> None:
    """Build the cached Asterisk 22 root if it is not there yet (debootstrap, ~1 min)."""
    from callflow import sandbox as sb

    try:
        root = sb.provision()
    except sb.SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Asterisk 22 root ready: {root}")


@sandbox.command("up")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_up(state_dir: Path | None) -> None:
    """Provision (first time, ~1 min) and start the sandbox; it keeps running."""
    from callflow import sandbox as sb

    pbx = sb.up(state_dir)
    click.echo(
        f"sandbox running: pid {pbx.pid}, etc {pbx.etc_dir}, ARI {pbx.ari_url}, "
        f"AMI 127.0.0.1:{pbx.ami_port}"
    )


@sandbox.command("down")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_down(state_dir: Path | None) -> None:
    """Stop the sandbox."""
    from callflow import sandbox as sb

    click.echo("stopped" if sb.down(state_dir) else "no sandbox was running")


@sandbox.command("status")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_status(state_dir: Path | None) -> None:
    """Say whether the sandbox runs, and where."""
    from callflow import sandbox as sb

    info = sb.status(state_dir)
    hidden = {"ami_secret", "ari_password"}
    for key, value in info.items():
        click.echo(f"{key}: {'***' if key in hidden else value}")
    sys.exit(0 if info.get("running") else 1)


@sandbox.command("cli")
@click.argument("command", nargs=-1, required=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_cli(command: tuple[str, ...], state_dir: Path | None) -> None:
    """Run an Asterisk CLI command in the sandbox: callflow sandbox cli dialplan show."""
    from callflow import sandbox as sb

    try:
        pbx = sb.attach(state_dir)
    except sb.SandboxError as exc:
        raise click.ClickException(f"{exc} (start it with `callflow sandbox up`)") from exc
    click.echo(pbx.cli(" ".join(command)), nl=False)


@main.command("demo")
def demo_cmd() -> None:
    """Deploy the 4S dealership example to a throwaway sandbox and place scripted calls."""
    from callflow.demo import run_demo

    outcome = run_demo(click.echo)
    failed = [call.title for call, result in outcome if not result.dest]
    if failed:
        raise click.ClickException(f"calls with no destination: {', '.join(failed)}")


# -- CRM: store, lookup server -----------------------------------------------------------
# -- deploy -----------------------------------------------------------------------------
def _target(
    etc: Path | None, use_sandbox: bool, asterisk_cmd: str, log_file: Path | None
) -> tuple[Path, CliControl, ProblemLog | None]:
    """Where to deploy: the running sandbox, or an Asterisk config dir and its CLI."""
    import shlex

    from callflow.deploy import CliControl, LogReader

    if use_sandbox:
        from callflow import sandbox as sb

        try:
            pbx = sb.attach()
        except sb.SandboxError as exc:
            raise click.ClickException(f"{exc} (start it with `callflow sandbox up`)") from exc
        return pbx.etc_dir, CliControl(pbx.asterisk_command()), pbx
    if etc is None:
        raise click.UsageError("give --asterisk-etc DIR (or --sandbox)")
    reader = LogReader(log_file) if log_file is not None else None
    return etc, CliControl(shlex.split(asterisk_cmd)), reader


_etc_option = click.option(
    "--asterisk-etc",
    "etc",
    type=click.Path(path_type=Path),
    default=None,
    help="Asterisk's configuration directory (e.g. /etc/asterisk).",
)
_sandbox_option = click.option(
    "--sandbox", "use_sandbox", is_flag=True, help="Use the running `callflow sandbox up`."
)


@main.command("deploy")
@click.argument("site_spec", metavar="SITE")
@_etc_option
@_sandbox_option
@click.option(
    "--asterisk-cmd",
    default="asterisk",
    show_default=True,
    help="How to reach Asterisk's CLI; run as `CMD -rx ...`.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Asterisk's messages log: new warnings or errors fail the deploy.",
)
@click.option("--keep", default=5, show_default=True, help="Versions to keep.")
@click.option("--rollback", is_flag=True, help="Restore the version before the current one.")
def deploy_cmd(
    site_spec: str,
    etc: Path | None,
    use_sandbox: bool,
    asterisk_cmd: str,
    log_file: Path | None,
    keep: int,
    rollback: bool,
) -> None:
    """Validate, compile and deploy SITE: a new version, reloaded, verified, or rolled back."""
    from callflow.deploy import DeployRefused, deploy
    from callflow.deploy import rollback as do_rollback

    site = _load(site_spec)
    etc_dir, control, reader = _target(etc, use_sandbox, asterisk_cmd, log_file)
    try:
        if rollback:
            result = do_rollback(site.name, etc_dir, asterisk=control, log_reader=reader)
        else:
            result = deploy(site, etc_dir, asterisk=control, keep=keep, log_reader=reader)
    except DeployRefused as exc:
        _print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors; nothing was deployed") from exc
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    action = "rolled back to" if rollback else ("deployed" if result.changed else "unchanged,")
    click.echo(
        f"{site.name}: {action} version {result.version} (previous {result.previous}) "
        f"in {result.seconds:.2f}s: reload {result.reload_seconds:.2f}s, "
        f"verify {result.verify_seconds:.2f}s"
    )


@main.command("diff")
@click.argument("site_spec", metavar="SITE")
@_etc_option
@_sandbox_option
def diff_cmd(site_spec: str, etc: Path | None, use_sandbox: bool) -> None:
    """Show what deploying SITE would change; exit 1 if it would change anything."""
    from callflow.deploy import DeployRefused, diff

    site = _load(site_spec)
    etc_dir, _control, _reader = _target(etc, use_sandbox, "asterisk", None)
    try:
        text = diff(site, etc_dir)
    except DeployRefused as exc:
        _print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors") from exc
    if text:
        click.echo(text, nl=False)
        sys.exit(1)
    click.echo(f"{site.name}: no changes")


@main.group("db")
def db_group() -> None:
    """The CRM store: customers, staff, call records (SQLite or PostgreSQL)."""


_DB_OPTION = click.option(
    "--db", "db_url", envvar="CALLFLOW_DB", default=None, help="Database URL [$CALLFLOW_DB]."
)


@db_group.command("upgrade")
@_DB_OPTION
def db_upgrade(db_url: str | None) -> None:
    """Create or migrate the store's tables to the latest schema."""
    from callflow.store import resolve_url, safe_url, upgrade

    upgrade(db_url)
    click.echo(f"{safe_url(resolve_url(db_url))}: up to date")


@db_group.command("import")
@click.argument("kind", type=click.Choice(["customers", "staff"]))
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", default="CN", show_default=True, help="Region of national numbers.")
@_DB_OPTION
def db_import(kind: str, csv_file: Path, region: str, db_url: str | None) -> None:
    """Import KIND (customers or staff) from CSV_FILE; bad rows are reported and skipped."""
    from callflow.store import make_engine
    from callflow.store.csv_import import import_customers, import_staff

    engine = make_engine(db_url)
    try:
        if kind == "customers":
            report = import_customers(engine, csv_file, default_region=region)
        else:
            report = import_staff(engine, csv_file)
    finally:
        engine.dispose()
    for message in report.messages():
        click.echo(message, err=True)
    click.echo(str(report))


@main.command("serve")
@click.argument("site_spec", metavar="[SITE]", required=False)
@_DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="FastAGI address.")
@click.option("--port", default=4573, show_default=True, help="FastAGI port.")
@click.option("--budget", default=0.5, show_default=True, help="Seconds per lookup.")
@click.option("--ami", default=None, envvar="CALLFLOW_AMI", help="AMI host:port for records.")
@click.option("--ami-user", default="callflow", envvar="CALLFLOW_AMI_USER")
@click.option(
    "--ami-secret", default="", envvar="CALLFLOW_AMI_SECRET", help="[$CALLFLOW_AMI_SECRET]"
)
@click.option("--webhook", default=None, envvar="CALLFLOW_SCREENPOP_URL", help="Screen-pop URL.")
@click.option(
    "--ari-url",
    default=None,
    envvar="CALLFLOW_ARI_URL",
    help="ARI base URL, e.g. http://127.0.0.1:8088/ari [$CALLFLOW_ARI_URL].",
)
@click.option("--ari-user", default=None, envvar="CALLFLOW_ARI_USER", help="[$CALLFLOW_ARI_USER]")
@click.option(
    "--ari-password",
    default=None,
    envvar="CALLFLOW_ARI_PASSWORD",
    help="[$CALLFLOW_ARI_PASSWORD]; never printed.",
)
def serve_cmd(
    site_spec: str | None,
    db_url: str | None,
    host: str,
    port: int,
    budget: float,
    ami: str | None,
    ami_user: str,
    ami_secret: str,
    webhook: str | None,
    ari_url: str | None,
    ari_user: str | None,
    ari_password: str | None,
) -> None:
    """Serve CRM lookups over FastAGI; with --ami, also write call records and screen-pop.

    With SITE (file.py[:name]), also run SITE's live entries as the ARI application
    callflow-<site> in the same process, looking callers up in the same store. SIGTERM or
    SIGINT hands the calls in progress back to the compiled dialplan, then exits 0.
    """
    import asyncio
    import logging

    crm_options = _CrmOptions(db_url, host, port, budget, ami, ami_user, ami_secret, webhook)
    if site_spec is None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        asyncio.run(_serve_crm(crm_options))
        return

    from callflow.errors import UnsupportedNode
    from callflow.runtime.ari import AriSettings
    from callflow.runtime.interpreter import app_name
    from callflow.runtime.lookup import CustomerLookup
    from callflow.runtime.records import agent_ids
    from callflow.runtime.server import ThreadedLookup, configure_logging, serve
    from callflow.store import make_lookup_engine

    site = _load(site_spec)
    crm_options = dataclasses.replace(crm_options, agents=agent_ids(site))
    try:
        settings = AriSettings.from_env(
            app_name(site.name), url=ari_url, user=ari_user, password=ari_password
        )
    except ValueError as exc:
        raise click.UsageError(f"{exc} (--ari-user)") from exc
    configure_logging()
    engine = make_lookup_engine(db_url)
    lookup = ThreadedLookup(CustomerLookup(engine).answer)

    async def run() -> None:
        stop = asyncio.Event()
        crm = asyncio.create_task(_serve_crm(crm_options), name="crm")
        crm.add_done_callback(lambda _task: stop.set())  # it only ends by failing
        click.echo(f"live: {site.name} as ARI application {settings.app} on {settings.url}")
        try:
            await serve(site, settings, lookup=lookup, lookup_timeout=budget, stop=stop)
        finally:
            crm.cancel()
            await asyncio.gather(crm, return_exceptions=True)
        if not crm.cancelled() and crm.exception() is not None:
            raise click.ClickException(f"CRM server stopped: {crm.exception()}")

    try:
        asyncio.run(run())
    except (UnsupportedNode, ValidationError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        lookup.close()
        engine.dispose()


@dataclasses.dataclass(frozen=True)
class _CrmOptions:
    """What ``serve`` needs for the CRM side: lookups, records, screen pops."""

    db_url: str | None
    host: str
    port: int
    budget: float
    ami: str | None
    ami_user: str
    ami_secret: str
    webhook: str | None
    #: queue member device -> staff id, for call records (from the site, if one is served)
    agents: Mapping[str, str] = dataclasses.field(default_factory=dict)


async def _serve_crm(options: _CrmOptions) -> None:
    import asyncio

    from panoramisk import Manager

    from callflow.runtime.fastagi import FastAgiServer
    from callflow.runtime.lookup import CustomerLookup, LookupRoute
    from callflow.runtime.records import AMI_EVENT_CLASSES, CallRecorder
    from callflow.runtime.screenpop import ScreenPop
    from callflow.store import make_engine, make_lookup_engine, make_sessionmaker

    engine = make_engine(options.db_url)
    lookup_engine = make_lookup_engine(options.db_url)
    sessions = make_sessionmaker(engine)
    route = LookupRoute(CustomerLookup(lookup_engine), budget=options.budget)
    manager = None
    if options.ami:
        ami_host, _, ami_port = options.ami.rpartition(":")
        manager = Manager(
            host=ami_host or "127.0.0.1",
            port=int(ami_port),
            username=options.ami_user,
            secret=options.ami_secret,
            events=AMI_EVENT_CLASSES,
        )
        CallRecorder(sessions, agents=options.agents).register(manager)
        if options.webhook:
            ScreenPop(options.webhook, sessions).register(manager)
        await manager.connect()
    host, port = options.host, options.port
    async with FastAgiServer({"lookup": route}, host=host, port=port, budget=options.budget + 0.5):
        ami = f", AMI {options.ami}" if options.ami else ""
        click.echo(f"FastAGI lookup on agi://{host}:{port}/lookup{ami}")
        try:
            await asyncio.Event().wait()
        finally:
            route.close()
            if manager is not None:
                manager.close()
            lookup_engine.dispose()
            engine.dispose()


# -- analysis: lint, simulate, graph, forecast ---------------------------------------------
def _parse_arrivals(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        tier, sep, value = part.strip().partition("=")
        try:
            out[tier.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not tier.strip():
            raise click.BadParameter(f"{part!r} is not tier=calls_per_hour")
    return out


@main.command("lint")
@click.argument("site_spec", metavar="SITE")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--max-depth", type=int, default=3, show_default=True, help="Menu levels allowed.")
@click.option(
    "--max-seconds", type=float, default=300, show_default=True, help="Worst time to a person."
)
@click.option("--max-options", type=int, default=4, show_default=True, help="Options per menu.")
@click.option(
    "--sounds",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Sounds directory to read prompt lengths from (wav, gsm, ulaw, alaw, sln).",
)
@click.option(
    "--prompt-seconds", type=float, default=3.0, show_default=True, help="Unknown prompt length."
)
@click.option(
    "--arrivals",
    "arrivals",
    multiple=True,
    metavar="QUEUE:TIER=N,...",
    help="Calls per hour by tier at a queue, e.g. sales:vip=5,standard=60 (repeatable).",
)
@click.option("--aht", type=float, default=240, show_default=True, help="Handling time, seconds.")
def lint_cmd(
    site_spec: str,
    as_json: bool,
    max_depth: int,
    max_seconds: float,
    max_options: int,
    sounds: Path | None,
    prompt_seconds: float,
    arrivals: tuple[str, ...],
    aht: float,
) -> None:
    """Lint SITE: menu depth and time to a person per entry, and flow smells [CF2xx]."""
    from callflow.analysis import LintConfig, QueueLoad, lint

    loads = {}
    for spec in arrivals:
        queue, sep, rest = spec.partition(":")
        if not sep:
            raise click.BadParameter(f"{spec!r} is not QUEUE:tier=N,...", param_hint="--arrivals")
        loads[queue] = QueueLoad(_parse_arrivals(rest), aht)
    config = LintConfig(
        max_depth=max_depth,
        max_seconds=max_seconds,
        max_options=max_options,
        default_prompt=prompt_seconds,
        sounds=sounds,
        loads=loads,
    )
    report = lint(_load(site_spec), config)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(report.describe())
    sys.exit(1 if report.errors else 0)


@main.command("simulate")
@click.argument("site_spec", metavar="SITE")
@click.option("--entry", required=True, help="The dialled number (an entry point).")
@click.option("--caller", "caller_id", default="", help="The caller's number.")
@click.option(
    "--digits",
    default="",
    help="Keys at each prompt, comma-separated; an empty item or 't' is silence: 1,,2",
)
@click.option("--at", "at", default=None, help="Local time of the call: 2027-03-01T10:00.")
@click.option("--tier", default=None, help="The customer's tier, as the CRM lookup says.")
@click.option("--manager", default=None, help="The customer's account manager (staff id).")
@click.option("--tags", default=None, help="The customer's tags, comma-separated.")
@click.option("--language", default=None, help="The customer's language, as the CRM says.")
@click.option("--lookup-fails", is_flag=True, help="The CRM lookup is down.")
@click.option("--answer", multiple=True, help="A Dial node id whose ringing is answered.")
@click.option("--overflow", multiple=True, help="A queue id that gives up after max_wait.")
@click.option("--prompt-seconds", type=float, default=3.0, show_default=True)
@click.option("--sounds", type=click.Path(path_type=Path, file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def simulate_cmd(
    site_spec: str,
    entry: str,
    caller_id: str,
    digits: str,
    at: str | None,
    tier: str | None,
    manager: str | None,
    tags: str | None,
    language: str | None,
    lookup_fails: bool,
    answer: tuple[str, ...],
    overflow: tuple[str, ...],
    prompt_seconds: float,
    sounds: Path | None,
    as_json: bool,
) -> None:
    """Walk one call through SITE offline and print its trace, destination and time."""
    import datetime as dt

    from callflow.analysis import prompt_timer
    from callflow.simulate import Script, SimulationError, Simulator

    site = _load(site_spec)
    inputs = [None if d.strip() in ("", "t") else d.strip() for d in digits.split(",")]
    if digits == "":
        inputs = []
    customer: dict[str, str | list[str]] = {}
    for key, value in (("tier", tier), ("manager", manager), ("language", language)):
        if value is not None:
            customer[key] = value
    if tags is not None:
        customer["tags"] = [t for t in tags.split(",") if t]
    try:
        moment = dt.datetime.fromisoformat(at) if at else None
        script = Script(
            inputs=inputs,
            customer=customer or None,
            lookup_fails=lookup_fails,
            caller_id=caller_id,
            answered=answer,
            queues={q: "timeout" for q in overflow},
        )
        sim = Simulator(
            site, durations=prompt_timer(sounds, default=prompt_seconds, language=site.language)
        )
        result = sim.run(entry, script, moment)
    except (ValueError, SimulationError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(result.describe())


@main.command("graph")
@click.argument("site_spec", metavar="SITE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "png", "svg"]),
    default="mermaid",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None)
def graph_cmd(site_spec: str, fmt: str, output: Path | None) -> None:
    """Draw SITE's flow as Mermaid or dot text, or as PNG/SVG (needs Graphviz)."""
    from callflow.graph import GraphError, render, to_dot, to_mermaid

    site = _load(site_spec)
    if fmt in ("png", "svg"):
        if output is None:
            raise click.BadParameter("PNG and SVG need -o FILE", param_hint="--format")
        try:
            render(to_dot(site), fmt, output)
        except GraphError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"wrote {output}")
        return
    text = to_mermaid(site) if fmt == "mermaid" else to_dot(site)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}")


@main.command("forecast")
@click.argument("site_spec", metavar="SITE")
@click.option("--queue", "queue_id", required=True, help="The queue's node id.")
@click.option("--arrivals", required=True, help="Calls per hour by tier: vip=5,standard=60")
@click.option("--aht", type=float, required=True, help="Average handling time, seconds.")
@click.option("--agents", type=int, default=None, help="Agents (default: the queue's people).")
@click.option("--sl", "sl_seconds", type=float, default=20, show_default=True)
@click.option("--des-calls", type=int, default=200_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def forecast_cmd(
    site_spec: str,
    queue_id: str,
    arrivals: str,
    aht: float,
    agents: int | None,
    sl_seconds: float,
    des_calls: int,
    seed: int,
    as_json: bool,
) -> None:
    """Expected wait and service level per tier at a queue under the site's priority rule,
    against first come, first served, checked by a discrete-event simulation."""
    from callflow.forecast import forecast
    from callflow.model.nodes import Queue

    site = _load(site_spec)
    queue = site.node_map.get(queue_id)
    if not isinstance(queue, Queue):
        raise click.BadParameter(f"{queue_id!r} is not a queue of the site", param_hint="--queue")
    people = {p.id for m in queue.member_list for p in site.people(m.who)}
    n = agents or len(people)
    if n <= 0:
        raise click.ClickException(f"queue {queue_id!r} has no agents; pass --agents")
    try:
        fc = forecast(
            _parse_arrivals(arrivals),
            site.rule_for(queue),
            aht=aht,
            agents=n,
            sl_seconds=sl_seconds,
            max_wait=queue.max_wait,
            des_calls=des_calls,
            seed=seed,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(fc.as_dict(), indent=2))
    else:
        click.echo(fc.describe())
