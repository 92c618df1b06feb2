"""callflow demo: the 4S dealer example on a throwaway sandbox."""

from __future__ import annotations

import click

from callflow.errors import CallflowError


@click.command("demo")
@click.option(
    "--dry-run",
    is_flag=True,
    help="No Asterisk: validate and compile the example, fill a temporary store from its "
    "CSVs and walk the demo's calls through the simulator.",
)
def demo_cmd(dry_run: bool) -> None:
    """Deploy the 4S dealership example to a throwaway sandbox and place scripted calls."""
    try:
        from callflow import demo

        if dry_run:
            walked = demo.dry_run(click.echo)
            failed = [call.title for call, result in walked if not result.dest]
        else:
            outcome = demo.run_demo(click.echo)
            failed = [call.title for call, res in outcome if not res.dest]
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    if failed:
        raise click.ClickException(f"calls with no destination: {', '.join(failed)}")
