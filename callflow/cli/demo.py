"""callflow demo: the 4S dealer example on a throwaway sandbox."""

from __future__ import annotations

from pathlib import Path

import click

from callflow.cli.common import output_file
from callflow.errors import CallflowError


@click.command("demo")
@click.option(
    "--dry-run",
    is_flag=True,
    help="No Asterisk: validate and compile the example, fill a temporary store from its "
    "CSVs and walk the demo's calls through the simulator.",
)
@click.option(
    "-o",
    "--output",
    "report",
    type=click.Path(path_type=Path),
    default=Path("demo-report.html"),
    show_default=True,
    help="Write the HTML KPI report of the demo's calls here (as `callflow report`).",
)
@click.option(
    "--effective",
    type=click.IntRange(0, 86400),
    default=None,
    help="Talk seconds that make an effective call in the report and summary "
    "[default: 10: the demo's calls are short; the KPI's own default is 180].",
)
def demo_cmd(dry_run: bool, report: Path, effective: int | None) -> None:
    """Deploy the 4S dealership example to a throwaway sandbox, place scripted calls, dial
    its survey, write the KPI report of it all and print the report's path and a summary."""
    try:
        from callflow import demo

        if dry_run:
            walked = demo.dry_run(click.echo)
            failed = [call.title for call, result in walked if not result.dest]
        else:
            output_file(report)
            outcome = demo.run_demo(
                click.echo,
                report=report,
                effective=demo.DEMO_EFFECTIVE if effective is None else effective,
            )
            failed = [call.title for call, res in outcome if not res.dest]
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    if failed:
        raise click.ClickException(f"calls with no destination: {', '.join(failed)}")
