"""callflow demo: the 4S dealer example on a throwaway sandbox."""

from __future__ import annotations

import click


@click.command("demo")
def demo_cmd() -> None:
    """Deploy the 4S dealership example to a throwaway sandbox and place scripted calls."""
    from callflow.demo import run_demo

    outcome = run_demo(click.echo)
    failed = [call.title for call, result in outcome if not result.dest]
    if failed:
        raise click.ClickException(f"calls with no destination: {', '.join(failed)}")
