"""validate and compile: check a site, write its Asterisk configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from callflow.cli.common import failing, load, output_dir, print_diagnostics
from callflow.compiler import compile_site, with_secrets, write
from callflow.compiler.secrets import load_secrets
from callflow.errors import CallflowError, Severity, ValidationError
from callflow.validate import validate


@click.command("validate")
@click.argument("site_spec", metavar="SITE")
@click.option("--json", "as_json", is_flag=True, help="Print diagnostics as JSON.")
@click.option(
    "--sounds",
    type=click.Path(path_type=Path, exists=True, file_okay=False, readable=True),
    default=None,
    help="Asterisk's sounds directory: report every prompt with no file there (CF154).",
)
def validate_cmd(site_spec: str, as_json: bool, sounds: Path | None) -> None:
    """Check SITE (file.py[:name]) and print every problem; exit 1 if any is an error."""
    site = load(site_spec)
    try:
        problems = validate(site)
        if sounds is not None:
            from callflow.analysis import missing_sounds

            problems = sorted([*problems, *missing_sounds(site, sounds)])
    except CallflowError as exc:  # a node type validation has no check for
        raise failing(exc) from exc
    print_diagnostics(problems, as_json)
    errors = sum(d.severity is Severity.ERROR for d in problems)
    if not as_json:
        click.echo(f"{errors} error(s), {len(problems) - errors} warning(s)", err=bool(errors))
    sys.exit(1 if errors else 0)


@click.command("compile")
@click.argument("site_spec", metavar="SITE")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory to write extensions.conf, queues.conf, voicemail.conf, pjsip.conf and "
    "musiconhold.conf into.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUTPUT differs.")
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Fill pjsip.conf's passwords from this file (and $CALLFLOW_SECRET_<NAME>); "
    "without it pjsip.conf holds placeholders, fit to commit.",
)
def compile_cmd(site_spec: str, output: Path, check: bool, secrets_file: Path | None) -> None:
    """Compile SITE to Asterisk configuration files in OUTPUT (all written 0600)."""
    output_dir(output)
    site = load(site_spec)
    try:
        compiled = compile_site(site)
        if secrets_file is not None and compiled.secrets:
            values = load_secrets(compiled.secrets, file=secrets_file)
            compiled = with_secrets(compiled, values)
    except ValidationError as exc:
        print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors; nothing written") from exc
    except CallflowError as exc:
        raise failing(exc) from exc
    _writable(compiled.files)
    if check:
        stale = [
            name for name, text in sorted(compiled.files.items()) if _differs(output / name, text)
        ]
        if stale:
            raise click.ClickException(f"{output}: out of date: {', '.join(stale)}")
        click.echo(f"{output}: up to date")
        return
    try:
        written = write(compiled, output)
    except OSError as exc:
        raise failing(exc) from exc
    for path in written:
        click.echo(f"wrote {path}")


def _differs(path: Path, text: str) -> bool:
    """Whether ``path`` is missing or holds other text (unreadable bytes count as other)."""
    try:
        return path.read_bytes() != text.encode("utf-8")
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise failing(exc) from exc


def _writable(files: dict[str, str]) -> None:
    """Every file encodes as UTF-8, or the command ends naming the file and line (a lone
    surrogate in a label or prompt text cannot be written; nothing is written then)."""
    for name, text in sorted(files.items()):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            line = text.count("\n", 0, exc.start) + 1
            bad = text[exc.start : exc.end]
            raise click.ClickException(
                f"{name} line {line}: {bad!r} is not a Unicode character (a lone surrogate) "
                "and cannot be written; correct that text in the site; nothing written"
            ) from exc
