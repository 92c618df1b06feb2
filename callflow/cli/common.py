"""What every command group shares: loading a site, printing diagnostics, the --db option."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from callflow.errors import CallflowError, Diagnostic, Severity
from callflow.loader import load_site
from callflow.model.site import Site
from callflow.model.visitor import NodeVisitor


def load(spec: str) -> Site:
    """Load SITE (file.py[:name]) or end the command with one clear message."""
    try:
        return load_site(spec)
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc


def load_valid(spec: str, backend: type[NodeVisitor[Any]] | None = None) -> Site:
    """Load SITE and validate it; a site with errors ends the command (exit 1) after
    printing every diagnostic as ``validate`` does, so no command walks a broken flow.

    A node type that ``backend`` (the command's own, e.g. graph's drawer) or validation
    has no method for ends the command with that one message, the backend's first."""
    from callflow.validate import validate

    site = load(spec)
    try:
        if backend is not None:
            backend.require(site.nodes)
        problems = validate(site)
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    errors = sum(d.severity is Severity.ERROR for d in problems)
    if errors:
        print_diagnostics(problems, False, err=True)
        raise click.ClickException(f"{spec}: {errors} error(s) in the site; run validate")
    return site


def print_diagnostics(problems: list[Diagnostic], as_json: bool, *, err: bool = False) -> None:
    """Print diagnostics (errors to stderr, warnings to stdout; all to stderr with
    ``err``, for commands whose stdout is data)."""
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in problems], indent=2), err=err)
        return
    for d in problems:
        click.echo(str(d), err=err or d.severity is Severity.ERROR)


def output_file(path: Path) -> Path:
    """Check that ``path`` can be written as a file: its directory exists and it is not
    a directory; otherwise end the command with one clear message."""
    if path.is_dir():
        raise click.BadParameter(
            f"{path} is a directory; give a file name", param_hint="-o/--output"
        )
    if not path.parent.is_dir():
        raise click.BadParameter(
            f"directory {path.parent} does not exist", param_hint="-o/--output"
        )
    return path


def output_dir(path: Path) -> Path:
    """Check that ``path`` is a directory or can be made one (not an existing file)."""
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise click.BadParameter(
                    f"{parent} is a file, not a directory", param_hint="-o/--output"
                )
            break
    return path


def failing(exc: CallflowError | OSError) -> click.ClickException:
    """One clear message for an error met while a command runs."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return click.ClickException(f"{where}{exc.strerror or exc}")
    return click.ClickException(str(exc))


DB_OPTION = click.option(
    "--db", "db_url", envvar="CALLFLOW_DB", default=None, help="Database URL [$CALLFLOW_DB]."
)
