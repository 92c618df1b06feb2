"""callflow campaign simulate: dial a campaign offline before dialling it for real.

Joins `campaign_group` (callflow/cli/campaign.py) like the dialer's commands do.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from callflow.cli.campaign import campaign_group, find_campaign
from callflow.cli.common import load_valid

if TYPE_CHECKING:
    from callflow.dialer.predictive import PacingMode
    from callflow.dialer.simulator import Summary

SHARE = click.FloatRange(0, 1)
SECONDS = click.FloatRange(0, 86_400, min_open=True)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


def _table(columns: list[Summary]) -> list[str]:
    width = 14
    rows: list[tuple[str, Any]] = [
        ("abandon rate, mean", lambda s: f"{s.abandon_rate:.2%}"),
        ("abandon rate, worst", lambda s: f"{s.worst_abandon_rate:.2%}"),
        ("protected abandoned", lambda s: str(s.protected_abandoned)),
        ("agent occupancy", lambda s: f"{s.occupancy:.1%}"),
        ("contacts/hour", lambda s: f"{s.contacts_per_hour:.1f}"),
        ("finish time", lambda s: _duration(s.finish)),
    ]
    lines = [f"{'':<22}" + "".join(f"{s.mode:>{width}}" for s in columns)]
    for label, cell in rows:
        lines.append(f"{label:<22}" + "".join(f"{cell(s):>{width}}" for s in columns))
    return lines


@campaign_group.command("simulate")
@click.argument("site_spec", metavar="SITE")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option("--agents", required=True, type=click.IntRange(1, 10_000),
              help="Agents logged in to the campaign queue.")  # fmt: skip
@click.option("--contacts", default=10_000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Contacts to dial (each once).")  # fmt: skip
@click.option("--answer-rate", default=0.35, show_default=True, type=SHARE,
              help="Share of dials a person answers.")  # fmt: skip
@click.option("--machine-rate", default=0.15, show_default=True, type=SHARE,
              help="Share of dials an answering machine answers.")  # fmt: skip
@click.option("--busy-rate", default=0.10, show_default=True, type=SHARE,
              help="Share of dials that fail at once (busy, rejected, congestion).")  # fmt: skip
@click.option("--protected-share", default=None, type=SHARE,
              help="Share of contacts in the campaign's protected tiers "
              "[default: 0.1, or 0 when it has none].")  # fmt: skip
@click.option("--talk", default=180.0, show_default=True, type=SECONDS,
              help="Mean talk time, seconds (lognormal).")  # fmt: skip
@click.option("--wrap", default=30.0, show_default=True, type=click.FloatRange(0, 86_400),
              help="Mean wrap-up time, seconds (exponential).")  # fmt: skip
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="Seeded runs (seeds SEED, SEED+1, ...).")  # fmt: skip
@click.option("--seed", default=1, show_default=True, type=int, help="The first run's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
def simulate_cmd(
    site_spec: str,
    campaign_id: str,
    agents: int,
    contacts: int,
    answer_rate: float,
    machine_rate: float,
    busy_rate: float,
    protected_share: float | None,
    talk: float,
    wrap: float,
    runs: int,
    seed: int,
    as_json: bool,
) -> None:
    """Simulate CAMPAIGN's pacing offline: expected abandon rate, agent occupancy,
    contacts per hour and finish time, with progressive dialling for comparison.

    The dial mode, abandon target and limit, ring time, AMD and protected tiers are the
    campaign's own (docs/outbound.md, "Pacing and the simulator")."""
    from callflow.dialer.simulator import model_for, simulate_runs

    site = load_valid(site_spec)
    campaign = find_campaign(site, site_spec, campaign_id)
    if campaign.dial_mode not in ("progressive", "predictive"):
        raise click.ClickException(
            f"{site_spec}: campaign {campaign.id!r} dials {campaign.dial_mode!r}; the "
            "simulator paces the progressive and predictive modes (set dial_mode)"
        )
    if answer_rate + machine_rate + busy_rate > 1:
        raise click.BadParameter(
            f"--answer-rate {answer_rate:g} + --machine-rate {machine_rate:g} + --busy-rate "
            f"{busy_rate:g} is {answer_rate + machine_rate + busy_rate:g}; at most 1",
            param_hint="--answer-rate/--machine-rate/--busy-rate",
        )
    figures: dict[str, Any] = {
        "contacts": contacts,
        "answer_rate": answer_rate,
        "machine_rate": machine_rate,
        "busy_rate": busy_rate,
        "talk": talk,
        "wrap": wrap,
    }
    if protected_share is not None:
        figures["protected_share"] = protected_share
    try:
        model = model_for(campaign, agents, **figures)
    except ValueError as exc:
        raise click.ClickException(f"{site_spec}: campaign {campaign.id!r}: {exc}") from exc
    target = campaign.abandon.target
    modes: list[PacingMode] = ["progressive"]
    if campaign.dial_mode == "predictive":
        modes.insert(0, "predictive")
    summaries = [simulate_runs(model, m, target, runs=runs, seed=seed) for m in modes]
    if as_json:
        out = {"campaign": campaign.id, "summaries": [s.as_dict() for s in summaries]}
        click.echo(json.dumps(out, indent=2))
        return
    tiers = ", ".join(campaign.protected_tiers) or "none"
    click.echo(
        f"campaign {campaign.id!r}: {campaign.dial_mode}, abandon target {target:.1%} "
        f"(limit {campaign.abandon.limit_seconds:g} s), protected tiers {tiers} "
        f"({model.protected_share:.0%} of contacts)"
    )
    click.echo(
        f"{agents} agents, {contacts} contacts, answer {answer_rate:.0%}, machine "
        f"{machine_rate:.0%} ({'AMD' if model.amd else 'no AMD: agents get them'}), busy "
        f"{busy_rate:.0%}, talk {talk:g} s, wrap {wrap:g} s; {runs} run(s), seeds "
        f"{seed}-{seed + runs - 1}"
    )
    for line in _table(summaries):
        click.echo(line)
    if len(summaries) == 2:
        pred, prog = summaries
        gain = pred.occupancy / prog.occupancy if prog.occupancy else 0.0
        click.echo(f"predictive occupancy / progressive: {gain:.3f}")
