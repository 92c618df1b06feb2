"""callflow sandbox: an isolated Asterisk 22 for tests and demos."""

from __future__ import annotations

import sys
from pathlib import Path

import click

STATE_DIR_HELP = (
    "Your own directory for the running sandbox (default: ~/.cache/callflow/sandbox, "
    "$XDG_RUNTIME_DIR/callflow-sandbox, or /run/callflow/sandbox for root)."
)


@click.group()
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
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def sandbox_up(state_dir: Path | None) -> None:
    """Provision (first time, ~1 min) and start the sandbox; it keeps running."""
    from callflow import sandbox as sb

    try:
        pbx = sb.up(state_dir)
    except sb.SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"sandbox running: pid {pbx.pid}, etc {pbx.etc_dir}, ARI {pbx.ari_url}, "
        f"AMI 127.0.0.1:{pbx.ami_port}"
    )


@sandbox.command("down")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def sandbox_down(state_dir: Path | None) -> None:
    """Stop the sandbox."""
    from callflow import sandbox as sb

    try:
        stopped = sb.down(state_dir)
    except sb.SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("stopped" if stopped else "no sandbox was running")


@sandbox.command("status")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def sandbox_status(state_dir: Path | None) -> None:
    """Say whether the sandbox runs, and where."""
    from callflow import sandbox as sb

    try:
        info = sb.status(state_dir)
    except sb.SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    hidden = {"ami_secret", "ari_password"}
    for key, value in info.items():
        click.echo(f"{key}: {'***' if key in hidden else value}")
    sys.exit(0 if info.get("running") else 1)


@sandbox.command("cli")
@click.argument("command", nargs=-1, required=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def sandbox_cli(command: tuple[str, ...], state_dir: Path | None) -> None:
    """Run an Asterisk CLI command in the sandbox: callflow sandbox cli dialplan show."""
    from callflow import sandbox as sb

    try:
        pbx = sb.attach(state_dir)
    except sb.SandboxError as exc:
        raise click.ClickException(f"{exc} (start it with `callflow sandbox up`)") from exc
    try:
        output = pbx.cli(" ".join(command))
    except sb.SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(output, nl=False)
