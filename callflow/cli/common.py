"""What every command group shares: loading a site, printing diagnostics, the --db option."""

from __future__ import annotations

import json

import click

from callflow.errors import CallflowError, Diagnostic, Severity
from callflow.loader import load_site
from callflow.model.site import Site


def load(spec: str) -> Site:
    """Load SITE (file.py[:name]) or end the command with one clear message."""
    try:
        return load_site(spec)
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc


def print_diagnostics(problems: list[Diagnostic], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in problems], indent=2))
        return
    for d in problems:
        click.echo(str(d), err=d.severity is Severity.ERROR)


DB_OPTION = click.option(
    "--db", "db_url", envvar="CALLFLOW_DB", default=None, help="Database URL [$CALLFLOW_DB]."
)
