"""lint, simulate, graph, forecast: looking at a flow before it takes calls."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from callflow.cli.common import load


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


@click.command("lint")
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
    report = lint(load(site_spec), config)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(report.describe())
    sys.exit(1 if report.errors else 0)


@click.command("simulate")
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

    site = load(site_spec)
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


@click.command("graph")
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

    site = load(site_spec)
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


@click.command("forecast")
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

    site = load(site_spec)
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
