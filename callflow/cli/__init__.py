"""The ``callflow`` command: the composition root that wires the library together.

One module per command group; this one only assembles them. No module-level state: every
command builds what it needs from its options.
"""

from __future__ import annotations

import click

from callflow.cli.analysis import forecast_cmd, graph_cmd, lint_cmd, simulate_cmd
from callflow.cli.campaign import campaign_group, dnc_group
from callflow.cli.campaign_simulate import simulate_cmd as _simulate  # noqa: F401 - joins campaign_group
from callflow.cli.demo import demo_cmd
from callflow.cli.deploy import deploy_cmd, diff_cmd
from callflow.cli.dialer import run_cmd as _dialer_commands  # noqa: F401 - joins campaign_group
from callflow.cli.preview import offers_cmd as _preview_commands  # noqa: F401 - joins campaign_group
from callflow.cli.prompts import prompts_group
from callflow.cli.recordings import recordings_group
from callflow.cli.report import report_cmd
from callflow.cli.sandbox import sandbox
from callflow.cli.serve import serve_cmd
from callflow.cli.site import compile_cmd, validate_cmd
from callflow.cli.store import db_group


@click.group()
@click.version_option(package_name="asterisk-callflow")
def main() -> None:
    """Declare a contact centre in Python; compile it to Asterisk or run it live."""


for _command in (
    validate_cmd,
    compile_cmd,
    sandbox,
    demo_cmd,
    deploy_cmd,
    diff_cmd,
    db_group,
    campaign_group,
    dnc_group,
    serve_cmd,
    lint_cmd,
    simulate_cmd,
    graph_cmd,
    forecast_cmd,
    prompts_group,
    report_cmd,
    recordings_group,
):
    main.add_command(_command)

__all__ = ["main"]
