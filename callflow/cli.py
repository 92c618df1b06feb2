"""The ``callflow`` command: the composition root that wires the library together.

No module-level state: every command builds what it needs from its options.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from callflow.compiler import compile_site, write
from callflow.errors import CallflowError, Severity, ValidationError
from callflow.loader import load_site
from callflow.model.site import Site
from callflow.validate import validate


def _load(spec: str) -> Site:
    try:
        return load_site(spec)
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc


def _print_diagnostics(problems: list, as_json: bool) -> None:  # type: ignore[type-arg]
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in problems], indent=2))
        return
    for d in problems:
        click.echo(str(d), err=d.severity is Severity.ERROR)


@click.group()
@click.version_option(package_name="asterisk-callflow")
def main() -> None:
    """Declare a contact centre in Python; compile it to Asterisk or run it live."""


@main.command("validate")
@click.argument("site_spec", metavar="SITE")
@click.option("--json", "as_json", is_flag=True, help="Print diagnostics as JSON.")
def validate_cmd(site_spec: str, as_json: bool) -> None:
    """Check SITE (file.py[:name]) and print every problem; exit 1 if any is an error."""
    problems = validate(_load(site_spec))
    _print_diagnostics(problems, as_json)
    errors = sum(d.severity is Severity.ERROR for d in problems)
    if not as_json:
        click.echo(f"{errors} error(s), {len(problems) - errors} warning(s)", err=bool(errors))
    sys.exit(1 if errors else 0)


@main.command("compile")
@click.argument("site_spec", metavar="SITE")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory to write extensions.conf, queues.conf, voicemail.conf into.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUTPUT differs.")
def compile_cmd(site_spec: str, output: Path, check: bool) -> None:
    """Compile SITE to Asterisk configuration files in OUTPUT."""
    site = _load(site_spec)
    try:
        compiled = compile_site(site)
    except ValidationError as exc:
        _print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors; nothing written") from exc
    if check:
        stale = [
            name
            for name, text in sorted(compiled.files.items())
            if not (output / name).is_file() or (output / name).read_text() != text
        ]
        if stale:
            raise click.ClickException(f"{output}: out of date: {', '.join(stale)}")
        click.echo(f"{output}: up to date")
        return
    for path in write(compiled, output):
        click.echo(f"wrote {path}")


# -- sandbox ----------------------------------------------------------------------------
@main.group()
def sandbox() -> None:
    """An isolated Asterisk 22 for tests and demos (no containers, cached root)."""


@sandbox.command("provision")
def sandbox_provision() -> None:
    """Build the cached Asterisk 22 root if it is not there yet (debootstrap, ~1 min)."""
    from callflow import sandbox as sb

    try:
        root = sb.provision()
    except sb.SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Asterisk 22 root ready: {root}")


@sandbox.command("up")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_up(state_dir: Path | None) -> None:
    """Provision (first time, ~1 min) and start the sandbox; it keeps running."""
    from callflow import sandbox as sb

    pbx = sb.up(state_dir)
    click.echo(
        f"sandbox running: pid {pbx.pid}, etc {pbx.etc_dir}, ARI {pbx.ari_url}, "
        f"AMI 127.0.0.1:{pbx.ami_port}"
    )


@sandbox.command("down")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_down(state_dir: Path | None) -> None:
    """Stop the sandbox."""
    from callflow import sandbox as sb

    click.echo("stopped" if sb.down(state_dir) else "no sandbox was running")


@sandbox.command("status")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_status(state_dir: Path | None) -> None:
    """Say whether the sandbox runs, and where."""
    from callflow import sandbox as sb

    info = sb.status(state_dir)
    hidden = {"ami_secret", "ari_password"}
    for key, value in info.items():
        click.echo(f"{key}: {'***' if key in hidden else value}")
    sys.exit(0 if info.get("running") else 1)


@sandbox.command("cli")
@click.argument("command", nargs=-1, required=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def sandbox_cli(command: tuple[str, ...], state_dir: Path | None) -> None:
    """Run an Asterisk CLI command in the sandbox: callflow sandbox cli dialplan show."""
    from callflow import sandbox as sb

    try:
        pbx = sb.attach(state_dir)
    except sb.SandboxError as exc:
        raise click.ClickException(f"{exc} (start it with `callflow sandbox up`)") from exc
    click.echo(pbx.cli(" ".join(command)), nl=False)


@main.command("demo")
def demo_cmd() -> None:
    """Deploy the 4S dealership example to a throwaway sandbox and place scripted calls."""
    from callflow.demo import run_demo

    outcome = run_demo(click.echo)
    failed = [call.title for call, result in outcome if not result.dest]
    if failed:
        raise click.ClickException(f"calls with no destination: {', '.join(failed)}")
