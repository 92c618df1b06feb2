"""callflow campaign run|pause|resume|stop|status: the dialer's commands.

They join `campaign_group` (callflow/cli/campaign.py). ``pause``/``resume``/``stop``
write the campaign's status in the store; every dialer of the campaign (any shell, any
host on PostgreSQL) reads it before each claim.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from callflow.cli.campaign import campaign_group, find_campaign, store_engine
from callflow.cli.common import DB_OPTION, load_valid
from callflow.cli.serve import _ami_address, _ari_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


@contextmanager
def _sessions(db_url: str | None) -> Iterator[sessionmaker[Session]]:
    """A sessionmaker on the checked store; store errors become one clear message."""
    from callflow.store import make_sessionmaker

    with store_engine(db_url) as engine:
        yield make_sessionmaker(engine)


def _site_campaign(site_spec: str, campaign_id: str) -> tuple[Any, Any]:
    site = load_valid(site_spec)
    return site, find_campaign(site, site_spec, campaign_id)


@campaign_group.command("run")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option(
    "--cps",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 200, min_open=True),
    help="Calls per second at most.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=None,
    help="Live calls at most [default: the campaign's concurrency].",
)
@click.option("--dialer-id", default=None, help="This dialer's id [default: host_site_campaign].")
@click.option(
    "--lease",
    default=60.0,
    show_default=True,
    type=click.FloatRange(5, 3600),
    help="Seconds another dialer waits before taking over this one's live attempts.",
)
@click.option(
    "--until-idle",
    is_flag=True,
    help="Exit when nothing is due now (retries scheduled later are left for a next run).",
)
@click.option("--json", "as_json", is_flag=True, help="No live display; print the result as JSON.")
@click.option("--ari-url", default=None, envvar="CALLFLOW_ARI_URL", callback=_ari_url,
              help="ARI base URL, e.g. http://127.0.0.1:8088/ari [$CALLFLOW_ARI_URL].")  # fmt: skip
@click.option("--ari-user", default=None, envvar="CALLFLOW_ARI_USER", help="[$CALLFLOW_ARI_USER]")
@click.option("--ari-password", default=None, envvar="CALLFLOW_ARI_PASSWORD",
              help="[$CALLFLOW_ARI_PASSWORD]; never printed.")  # fmt: skip
@click.option("--ami", default=None, envvar="CALLFLOW_AMI", callback=_ami_address,
              help="AMI host[:port] (5038 by default): store the survey answers and opt-outs "
              "from the calls' end events [$CALLFLOW_AMI].")  # fmt: skip
@click.option("--ami-user", default="callflow", show_default=True, envvar="CALLFLOW_AMI_USER",
              help="[$CALLFLOW_AMI_USER]")  # fmt: skip
@click.option("--ami-secret", default="", envvar="CALLFLOW_AMI_SECRET",
              help="[$CALLFLOW_AMI_SECRET]; never printed.")  # fmt: skip
@click.option("--ami-wait", default=10.0, show_default=True, type=click.FloatRange(0.1, 300),
              help="Seconds to wait for the AMI login before giving up (nothing is dialled "
              "until it is in).")  # fmt: skip
@DB_OPTION
def run_cmd(
    site_spec: str,
    campaign_id: str,
    cps: float,
    concurrency: int | None,
    dialer_id: str | None,
    lease: float,
    until_idle: bool,
    as_json: bool,
    ari_url: str | None,
    ari_user: str | None,
    ari_password: str | None,
    ami: Any,
    ami_user: str,
    ami_secret: str,
    ami_wait: float,
    db_url: str | None,
) -> None:
    """Dial CAMPAIGN of SITE over ARI until every contact is done (or it is stopped).

    Each attempt's row is committed before its originate; after a crash, a restart
    reconciles the live attempts with Asterisk's channels before dialling again.
    SIGINT/SIGTERM stop dialling at once (live calls go on; the next run finds them).
    With --ami, the calls' survey answers and opt-outs are stored as they end (as
    `callflow serve --ami` does); without it, only a `callflow serve --ami` running
    beside this stores them.
    """
    import asyncio

    from callflow.outbound.attempts import AttemptError
    from callflow.outbound.compliance import ComplianceError
    from callflow.runtime.ari import AriSettings
    from callflow.runtime.services import ServiceFailed

    site, campaign = _site_campaign(site_spec, campaign_id)
    if not campaign.caller_id:
        raise click.ClickException(
            f"{site_spec}: campaign {campaign_id!r} has no caller_id; a caller ID is "
            "required before anything is dialled"
        )
    try:
        settings = AriSettings.from_env("callflow-dialer", url=ari_url, user=ari_user,
                                        password=ari_password)  # fmt: skip
    except ValueError as exc:
        raise click.UsageError(f"{exc} (--ari-user)") from exc
    options: dict[str, Any] = {
        "cps": cps,
        "concurrency": concurrency,
        "dialer_id": dialer_id,
        "lease_seconds": lease,
        "until_idle": until_idle,
    }
    records = None if ami is None else (ami, ami_user, ami_secret, ami_wait)
    if campaign.agent_mode:
        if ami is None:
            raise click.UsageError(
                f"campaign {campaign.id!r} dials for agents (dial_mode={campaign.dial_mode!r}): "
                "pass --ami HOST so the dialer sees which agents are free"
            )
        options["ami"] = (ami, ami_user, ami_secret)
    if records is None:
        click.echo(
            f"warning: no --ami: the answers and opt-outs of campaign {campaign.id!r} are "
            "stored only while a `callflow serve --ami HOST` runs beside this dialer "
            "(or pass --ami HOST here)",
            err=True,
        )
    with _sessions(db_url) as sessions:
        try:
            summary = asyncio.run(
                run_campaign(sessions, site, campaign, settings, options, as_json, records)
            )
        except ServiceFailed as exc:
            raise click.ClickException(str(exc)) from None
        except (AttemptError, ComplianceError) as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    elif "records" in summary:
        found = summary["records"]
        click.echo(
            f"call records (answers, opt-outs): {found['recorded']} of the "
            f"{found['answered']} answered calls stored"
        )


async def run_campaign(
    sessions: sessionmaker[Session],
    site: Any,
    campaign: Any,
    settings: Any,
    options: dict[str, Any],
    as_json: bool,
    records: tuple[Any, str, str, float] | None = None,
) -> dict[str, Any]:
    """Dial (and, with ``records`` = (AmiAddress, user, secret, seconds to wait for the
    login), write the calls' records, answers and opt-outs) until the dialer ends; the
    campaign's summary."""
    from callflow.runtime.records import agent_ids
    from callflow.runtime.services import CallRecordWriter, Service, Supervisor

    services: dict[str, Service] = {}
    writer = None
    if records is not None:
        # first: listening before anything is dialled; it reconnects after a drop
        address, user, secret, wait = records
        writer = CallRecordWriter(
            sessions, address, user, secret, agents=agent_ids(site), ready_timeout=wait
        )
        services["call records (AMI)"] = writer
    from callflow.dialer.service import DialerService

    service = DialerService(sessions, site, campaign, settings, **options)
    services["dialer"] = service
    async with Supervisor(services):
        result = await _dial(sessions, site, campaign, service, as_json)
        if writer is not None:
            # the end events travel on AMI, the hang-ups on ARI: either may come first
            answered = service.dialer.answered_ids()
            recorded = await writer.wait_for(answered, timeout=5.0)
            result["records"] = {"answered": len(answered), "recorded": recorded}
    return result


async def _dial(
    sessions: sessionmaker[Session],
    site: Any,
    campaign: Any,
    service: Any,
    as_json: bool,
) -> dict[str, Any]:
    import asyncio
    import contextlib
    import signal

    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, service._stop.set)
            installed.append(sig)
    try:
        return await _watch(sessions, site, campaign, service, as_json)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _watch(
    sessions: sessionmaker[Session],
    site: Any,
    campaign: Any,
    service: Any,
    as_json: bool,
) -> dict[str, Any]:
    import asyncio

    from callflow.dialer.progress import campaign_summary, render_table

    waiting = asyncio.create_task(service.wait())

    async def summary() -> dict[str, Any]:
        return await asyncio.to_thread(
            lambda: campaign_summary(sessions, site.name, campaign.id, model=campaign)
        )

    if as_json:
        status = await waiting
    else:
        from rich.console import Console
        from rich.live import Live

        console = Console()
        with Live(console=console, refresh_per_second=2) as live:
            while not waiting.done():
                live.update(render_table(await summary(), service.dialer.snapshot()))
                await asyncio.wait({waiting}, timeout=0.5)
            live.update(render_table(await summary(), service.dialer.snapshot()))
        status = waiting.result()
    result = await summary()
    result["dialer"] = service.dialer.snapshot()
    result["exit"] = status
    return result


def _set(verb: str, site_spec: str, campaign_id: str, db_url: str | None) -> None:
    from callflow.dialer.control import VERB_STATUS, set_status

    site, campaign = _site_campaign(site_spec, campaign_id)
    status = VERB_STATUS[verb]
    with _sessions(db_url) as sessions:
        before = set_status(sessions, site.name, campaign.id, status)
    click.echo(f"campaign {campaign.id} of {site.name}: {status} (was {before})")


@campaign_group.command("pause")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@DB_OPTION
def pause_cmd(site_spec: str, campaign_id: str, db_url: str | None) -> None:
    """Stop claiming new contacts; live calls finish normally."""
    _set("pause", site_spec, campaign_id, db_url)


@campaign_group.command("resume")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@DB_OPTION
def resume_cmd(site_spec: str, campaign_id: str, db_url: str | None) -> None:
    """Dial again after a pause (running dialers pick it up within a second)."""
    _set("resume", site_spec, campaign_id, db_url)


@campaign_group.command("stop")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@DB_OPTION
def stop_cmd(site_spec: str, campaign_id: str, db_url: str | None) -> None:
    """Stop the campaign: dialers stop claiming, let live calls end, and exit."""
    _set("stop", site_spec, campaign_id, db_url)


@campaign_group.command("status")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@DB_OPTION
def status_cmd(site_spec: str, campaign_id: str, as_json: bool, db_url: str | None) -> None:
    """The campaign's status and counts (dialled, answered, machine, busy, ...)."""
    from callflow.dialer.progress import campaign_summary, render_table

    site, campaign = _site_campaign(site_spec, campaign_id)
    with _sessions(db_url) as sessions:
        summary = campaign_summary(sessions, site.name, campaign.id, model=campaign)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    from rich.console import Console

    Console().print(render_table(summary))
