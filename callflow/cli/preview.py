"""callflow campaign offers|accept|skip: an agent's side of preview dialling.

They join `campaign_group` (callflow/cli/campaign.py). A preview campaign's dialer offers
each contact to a free agent (the ``CallflowOffer`` AMI event); the agent, or their tool,
answers with ``accept`` (the dialer dials it) or ``skip`` (back to the list, no attempt
used). ``offers`` lists what is waiting.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from callflow.cli.campaign import _session, campaign_group, find_campaign
from callflow.cli.common import DB_OPTION, load_valid

AGENT_OPTION = click.option(
    "--agent", "agent", required=True, metavar="STAFF", help="The staff id the offer was made to."
)


def _offer_row(offer: Any, seconds: int, now: dt.datetime) -> dict[str, Any]:
    left = seconds - (now - offer.offered_at).total_seconds()
    return {
        "attempt": offer.attempt_id,
        "agent": offer.agent,
        "number": offer.number,
        "name": offer.name,
        "customer_id": offer.customer_id,
        "attempt_no": offer.attempt_no,
        "offered_at": offer.offered_at.isoformat(timespec="seconds"),
        "seconds_left": max(0, int(left)),
    }


@campaign_group.command("offers")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option("--agent", default=None, metavar="STAFF", help="Only the offers made to STAFF.")
@click.option("--json", "as_json", is_flag=True, help="Print the offers as JSON.")
@DB_OPTION
def offers_cmd(
    site_spec: str, campaign_id: str, agent: str | None, as_json: bool, db_url: str | None
) -> None:
    """The contacts of a preview CAMPAIGN waiting for their agent's accept or skip."""
    from callflow.outbound.preview import open_offers

    site = load_valid(site_spec)
    campaign = find_campaign(site, site_spec, campaign_id)
    if agent is not None and agent not in {s.id for s in site.staff}:
        raise click.BadParameter(
            f"{site_spec}: site {site.name!r} has no staff {agent!r}", param_hint="--agent"
        )
    now = dt.datetime.now(dt.UTC)
    with _session(db_url) as session:
        rows = [
            _offer_row(o, campaign.preview_seconds, now)
            for o in open_offers(session, site.name, campaign.id, agent)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        who = f" for {agent}" if agent else ""
        click.echo(f"no open offers{who} in campaign {campaign.id} of {site.name}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"open offers of campaign {campaign.id} ({site.name})")
    for column in ("attempt", "agent", "number", "name", "seconds left"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["attempt"], row["agent"], row["number"], row["name"] or "",
                      str(row["seconds_left"]))  # fmt: skip
    Console().print(table)


def _answer(verb: str, attempt_id: str, agent: str, db_url: str | None) -> None:
    from callflow.outbound.preview import PreviewError, accept, skip

    act = accept if verb == "accept" else skip
    now = dt.datetime.now(dt.UTC)
    try:
        with _session(db_url) as session:
            done = act(session, attempt_id, agent, now)
    except PreviewError as exc:
        raise click.ClickException(str(exc)) from None
    past = "accepted" if verb == "accept" else "skipped"
    if done:
        then = "the dialer dials it now" if verb == "accept" else "the contact is back on the list"
        click.echo(f"attempt {attempt_id} {past} by {agent}: {then}")
    else:
        click.echo(f"attempt {attempt_id} was already {past} by {agent}")


@campaign_group.command("accept")
@click.argument("attempt_id", metavar="ATTEMPT")
@AGENT_OPTION
@DB_OPTION
def accept_cmd(attempt_id: str, agent: str, db_url: str | None) -> None:
    """Take the offered ATTEMPT: the preview dialer calls the contact for you."""
    _answer("accept", attempt_id, agent, db_url)


@campaign_group.command("skip")
@click.argument("attempt_id", metavar="ATTEMPT")
@AGENT_OPTION
@DB_OPTION
def skip_cmd(attempt_id: str, agent: str, db_url: str | None) -> None:
    """Pass on the offered ATTEMPT: it goes back to the list without using an attempt."""
    _answer("skip", attempt_id, agent, db_url)
