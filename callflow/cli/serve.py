"""callflow serve: the FastAGI lookup, call records, screen pops and the live ARI app."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from callflow.cli.common import DB_OPTION, load
from callflow.errors import ValidationError

if TYPE_CHECKING:  # imported where used: `callflow --help` stays fast
    import asyncio

    from callflow.model.site import Site
    from callflow.runtime.ari import AriSettings


def _ami_address(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    from callflow.runtime.ami import AmiAddress

    if value is None:
        return None
    try:
        return AmiAddress.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _allow(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    from callflow.runtime.fastagi import parse_allow

    if value is None:
        return None
    try:
        return parse_allow(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _finite(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    if value != value:  # nan passes every range comparison
        raise click.BadParameter("must be a number of seconds, not nan")
    return value


def _ari_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from callflow.runtime.ari import split_url

    if value is None:
        return None
    try:
        split_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command("serve")
@click.argument("site_spec", metavar="[SITE]", required=False)
@DB_OPTION
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="FastAGI address (loopback: only this machine's Asterisk can ask).",
)
@click.option(
    "--port", default=4573, show_default=True, type=click.IntRange(0, 65535), help="FastAGI port."
)
@click.option(
    "--allow",
    default=None,
    callback=_allow,
    envvar="CALLFLOW_AGI_ALLOW",
    help="Client addresses/networks FastAGI answers, e.g. 127.0.0.1,10.0.0.0/8 "
    "(default: any that reaches --host).",
)
@click.option(
    "--budget",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 30, min_open=True),
    callback=_finite,
    help="Seconds per lookup.",
)
@click.option(
    "--ami",
    default=None,
    envvar="CALLFLOW_AMI",
    callback=_ami_address,
    help="AMI host[:port] (port 5038 by default) for records; connected in the background.",
)
@click.option("--ami-user", default="callflow", envvar="CALLFLOW_AMI_USER")
@click.option(
    "--ami-secret", default="", envvar="CALLFLOW_AMI_SECRET", help="[$CALLFLOW_AMI_SECRET]"
)
@click.option("--webhook", default=None, envvar="CALLFLOW_SCREENPOP_URL", help="Screen-pop URL.")
@click.option(
    "--ari-url",
    default=None,
    envvar="CALLFLOW_ARI_URL",
    callback=_ari_url,
    help="ARI base URL, e.g. http://127.0.0.1:8088/ari [$CALLFLOW_ARI_URL].",
)
@click.option("--ari-user", default=None, envvar="CALLFLOW_ARI_USER", help="[$CALLFLOW_ARI_USER]")
@click.option(
    "--ari-password",
    default=None,
    envvar="CALLFLOW_ARI_PASSWORD",
    help="[$CALLFLOW_ARI_PASSWORD]; never printed.",
)
@click.option(
    "--campaign",
    "campaigns",
    multiple=True,
    metavar="CAMPAIGN",
    help="Also run the dialer of SITE's CAMPAIGN (repeatable); pause/resume/stop it with "
    "`callflow campaign pause|resume|stop`.",
)
@click.option(
    "--cps",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 200, min_open=True),
    help="Calls per second at most, per --campaign.",
)
def serve_cmd(
    site_spec: str | None,
    db_url: str | None,
    host: str,
    port: int,
    allow: Any,
    budget: float,
    ami: Any,
    ami_user: str,
    ami_secret: str,
    webhook: str | None,
    ari_url: str | None,
    ari_user: str | None,
    ari_password: str | None,
    campaigns: tuple[str, ...],
    cps: float,
) -> None:
    """Serve CRM lookups over FastAGI; with --ami, also write call records and screen-pop.

    With SITE (file.py[:name]), also run SITE's live entries as the ARI application
    callflow-<site> in the same process, looking callers up in the same store. SIGTERM or
    SIGINT hands the calls in progress back to the compiled dialplan, then exits 0.
    With --campaign, SITE's campaigns are dialled too (each its own ARI application).
    """
    import asyncio
    import logging

    from callflow.errors import UnsupportedNode
    from callflow.runtime.services import ServiceFailed

    _check_url(db_url)
    crm_options = _CrmOptions(
        db_url, host, port, budget, ami, ami_user, ami_secret, webhook, allow=allow
    )
    live = None
    if campaigns and site_spec is None:
        raise click.UsageError("--campaign needs SITE (the site whose campaign is dialled)")
    if site_spec is None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    else:
        from callflow.runtime.ari import AriSettings
        from callflow.runtime.interpreter import app_name
        from callflow.runtime.records import agent_ids
        from callflow.runtime.server import configure_logging

        site = load(site_spec)
        crm_options = dataclasses.replace(crm_options, agents=agent_ids(site))
        try:
            settings = AriSettings.from_env(
                app_name(site.name), url=ari_url, user=ari_user, password=ari_password
            )
        except ValueError as exc:
            raise click.UsageError(f"{exc} (--ari-user)") from exc
        configure_logging()
        live = (site, settings)
        known = {c.id: c for c in site.campaigns}
        for campaign_id in campaigns:
            if campaign_id not in known:
                raise click.BadParameter(
                    f"site {site.name!r} has no campaign {campaign_id!r} (its campaigns: "
                    f"{', '.join(sorted(known)) or 'none'})",
                    param_hint="--campaign",
                )
        crm_options = dataclasses.replace(crm_options, campaigns=campaigns, cps=cps)
    try:
        asyncio.run(_serve_crm(crm_options, live))
    except ServiceFailed as exc:
        raise click.ClickException(str(exc.cause)) from None
    except (UnsupportedNode, ValidationError) as exc:
        raise click.ClickException(str(exc)) from exc


def _check_url(db_url: str | None) -> None:
    """Refuse a store URL that can never work (not a URL, unknown driver) before anything
    listens. A database that is down or locked is not refused: lookups answer "unknown
    caller" until it is back, and the reason is logged."""
    from callflow.store import DatabaseError, make_engine

    try:
        make_engine(db_url).dispose()
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class _CrmOptions:
    """What ``serve`` needs for the CRM side: lookups, records, screen pops."""

    db_url: str | None
    host: str
    port: int
    budget: float
    #: an AmiAddress, or None
    ami: Any
    ami_user: str
    ami_secret: str
    webhook: str | None
    #: client networks FastAGI answers (None: any)
    allow: Any = None
    #: queue member device -> staff id, for call records (from the site, if one is served)
    agents: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: campaigns of the served site to dial, and their calls-per-second cap
    campaigns: tuple[str, ...] = ()
    cps: float = 5.0


async def _serve_crm(
    options: _CrmOptions,
    live: tuple[Site, AriSettings] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Compose and run what ``serve`` serves, until SIGTERM/SIGINT (or ``stop``, an
    asyncio.Event): the FastAGI lookup server first (every call's lookup depends on it),
    then call records on an AMI connection made in the background (an unreachable AMI or
    a wrong secret is logged and retried, never fatal), then ``live`` (site, AriSettings):
    the site's ARI application, which on the way out hands its calls back to dialplan."""
    from callflow.runtime.server import LiveService, ThreadedLookup
    from callflow.runtime.services import CallRecordWriter, LookupServer, Service, Supervisor
    from callflow.store import make_engine, make_lookup_engine, make_sessionmaker

    engine = make_engine(options.db_url)
    lookup_engine = make_lookup_engine(options.db_url)
    threaded = None
    try:
        lookup = LookupServer(
            lookup_engine,
            host=options.host,
            port=options.port,
            budget=options.budget,
            allow=options.allow,
        )
        services: dict[str, Service] = {"FastAGI lookup server": lookup}
        if options.ami is not None:
            services["call records"] = CallRecordWriter(
                make_sessionmaker(engine),
                options.ami,
                options.ami_user,
                options.ami_secret,
                agents=options.agents,
                webhook=options.webhook,
            )
        if live is not None:
            from callflow.runtime.lookup import CustomerLookup

            site, settings = live
            threaded = ThreadedLookup(CustomerLookup(lookup_engine).answer)
            services["live app"] = LiveService(
                site, settings, lookup=threaded, lookup_timeout=options.budget
            )
            if options.campaigns:
                from callflow.dialer.service import DialerService

                for campaign in site.campaigns:
                    if campaign.id in options.campaigns:
                        services[f"dialer {campaign.id}"] = DialerService(
                            make_sessionmaker(engine), site, campaign, settings, cps=options.cps
                        )

        def started() -> None:
            via = (
                f", AMI {options.ami} (connecting in the background)"
                if options.ami is not None
                else ""
            )
            click.echo(f"FastAGI lookup on agi://{options.host}:{lookup.port}/lookup{via}")
            if live is not None:
                # settings.url never holds credentials: AriSettings moves them out of it
                click.echo(f"live: {live[0].name} as ARI application {live[1].app} on "
                           f"{live[1].url}")  # fmt: skip

        await Supervisor(services).run(stop, started=started)
    finally:
        if threaded is not None:
            threaded.close()
        lookup_engine.dispose()
        engine.dispose()
