"""lint, simulate, graph, forecast: looking at a flow before it takes calls."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from callflow.cli.common import failing, load, load_valid, output_file
from callflow.errors import CallflowError
from callflow.model.site import Site


class Seconds(click.FloatRange):
    """A finite number in a range: click's FloatRange lets ``nan`` through (every
    comparison with it is false) and ``inf``."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        rv: float = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


NON_NEGATIVE = Seconds(min=0)
POSITIVE = Seconds(min=0, min_open=True)
#: handling time: more than a day per call is a typo, and it keeps the forecast finite
AHT = Seconds(min=0, min_open=True, max=86_400)
#: calls per hour for one tier at one queue: more is a typo
MAX_PER_HOUR = 1_000_000
SOUNDS = click.Path(path_type=Path, exists=True, file_okay=False, readable=True)


def _parse_arrivals(text: str, hint: str) -> dict[str, float]:
    """``vip=5,standard=60``: calls per hour by tier, each a finite number >= 0."""
    out: dict[str, float] = {}
    for part in text.split(","):
        tier, sep, value = part.strip().partition("=")
        tier = tier.strip()
        if not sep or not tier:
            raise click.BadParameter(f"{part!r} is not tier=calls_per_hour", param_hint=hint)
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate) or not 0 <= rate <= MAX_PER_HOUR:
            raise click.BadParameter(
                f"{part.strip()!r}: calls per hour must be a number from 0 to {MAX_PER_HOUR:,}",
                param_hint=hint,
            )
        if tier in out:
            raise click.BadParameter(f"tier {tier!r} is given twice", param_hint=hint)
        out[tier] = rate
    return out


def _ids_of(site: Site, kind: str, ids: tuple[str, ...], option: str) -> None:
    """Every id in ``ids`` names a node of ``site`` whose visit name is ``kind``."""
    for nid in ids:
        node = site.node_map.get(nid)
        if node is None or node.visit_name != kind:
            known = sorted(n.id for n in site.nodes if n.visit_name == kind)
            raise click.BadParameter(
                f"{nid!r} is not a {kind} node of the site (its {kind} nodes: "
                f"{', '.join(known) or 'none'})",
                param_hint=option,
            )


@click.command("lint")
@click.argument("site_spec", metavar="SITE")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--max-depth", type=click.IntRange(min=0), default=3, show_default=True, help="Menu levels."
)
@click.option(
    "--max-seconds",
    type=NON_NEGATIVE,
    default=300,
    show_default=True,
    help="Worst time to a person.",
)
@click.option(
    "--max-options", type=click.IntRange(min=0), default=4, show_default=True, help="Per menu."
)
@click.option(
    "--sounds",
    type=SOUNDS,
    default=None,
    help="Sounds directory to read prompt lengths from (wav, gsm, ulaw, alaw, sln).",
)
@click.option(
    "--prompt-seconds",
    type=NON_NEGATIVE,
    default=3.0,
    show_default=True,
    help="Unknown prompt length.",
)
@click.option(
    "--arrivals",
    "arrivals",
    multiple=True,
    metavar="QUEUE:TIER=N,...",
    help="Calls per hour by tier at a queue, e.g. sales:vip=5,standard=60 (repeatable).",
)
@click.option("--aht", type=AHT, default=240, show_default=True, help="Handling time, seconds.")
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

    site = load(site_spec)
    loads = {}
    for spec in arrivals:
        queue, sep, rest = spec.partition(":")
        if not sep:
            raise click.BadParameter(f"{spec!r} is not QUEUE:tier=N,...", param_hint="--arrivals")
        _ids_of(site, "queue", (queue,), "--arrivals")
        loads[queue] = QueueLoad(_parse_arrivals(rest, "--arrivals"), aht)
    config = LintConfig(
        max_depth=max_depth,
        max_seconds=max_seconds,
        max_options=max_options,
        default_prompt=prompt_seconds,
        sounds=sounds,
        loads=loads,
    )
    try:
        report = lint(site, config)  # validates first: a site with errors is not analysed
    except (CallflowError, OSError) as exc:
        raise failing(exc) from exc
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
@click.option("--prompt-seconds", type=NON_NEGATIVE, default=3.0, show_default=True)
@click.option("--sounds", type=SOUNDS, default=None)
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

    site = load_valid(site_spec)
    _ids_of(site, "dial", answer, "--answer")
    _ids_of(site, "queue", overflow, "--overflow")
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
    except ValueError as exc:
        raise click.BadParameter(
            f"{at!r} is not a time like 2027-03-01T10:00", param_hint="--at"
        ) from exc
    try:
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
    except (ValueError, SimulationError, CallflowError, OSError) as exc:
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
    from callflow.graph import Drawer, GraphError, render, to_dot, to_mermaid

    if output is not None:
        output_file(output)
    site = load_valid(site_spec, Drawer)
    try:
        if fmt in ("png", "svg"):
            if output is None:
                raise click.BadParameter("PNG and SVG need -o FILE", param_hint="--format")
            render(to_dot(site), fmt, output)
        else:
            text = to_mermaid(site) if fmt == "mermaid" else to_dot(site)
            if output is None:
                click.echo(text, nl=False)
                return
            output.write_text(text, encoding="utf-8")
    except (GraphError, CallflowError, OSError) as exc:
        raise failing(exc) from exc
    click.echo(f"wrote {output}")


@click.command("forecast")
@click.argument("site_spec", metavar="SITE")
@click.option("--queue", "queue_id", required=True, help="The queue's node id.")
@click.option("--arrivals", required=True, help="Calls per hour by tier: vip=5,standard=60")
@click.option("--aht", type=AHT, required=True, help="Average handling time, seconds.")
@click.option(
    "--agents",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Agents (default: the queue's people).",
)
@click.option(
    "--sl", "sl_seconds", type=NON_NEGATIVE, default=20, show_default=True, help="Service level."
)
@click.option(
    "--des-calls",
    type=click.IntRange(0, 10_000_000),
    default=200_000,
    show_default=True,
    help="Calls to simulate (0: the formula only).",
)
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

    rates = _parse_arrivals(arrivals, "--arrivals")
    site = load_valid(site_spec)
    _ids_of(site, "queue", (queue_id,), "--queue")
    queue = site.node_map[queue_id]
    assert isinstance(queue, Queue)
    people = {p.id for m in queue.member_list for p in site.people(m.who)}
    n = agents or len(people)
    if n <= 0:
        raise click.ClickException(f"queue {queue_id!r} has no staff; pass --agents N")
    try:
        fc = forecast(
            rates,
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
