"""deploy and diff: put a site on an Asterisk, or show what that would change."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from callflow.cli.common import load, print_diagnostics
from callflow.errors import CallflowError

if TYPE_CHECKING:
    from callflow.deploy import CliControl, ProblemLog


def _target(
    etc: Path | None, use_sandbox: bool, asterisk_cmd: str, log_file: Path | None
) -> tuple[Path, CliControl, ProblemLog | None]:
    """Where to deploy: the running sandbox, or an Asterisk config dir and its CLI."""
    import shlex

    from callflow.deploy import CliControl, LogReader

    if use_sandbox:
        from callflow import sandbox as sb

        try:
            pbx = sb.attach()
        except sb.SandboxError as exc:
            raise click.ClickException(f"{exc} (start it with `callflow sandbox up`)") from exc
        return pbx.etc_dir, CliControl(pbx.asterisk_command()), pbx
    if etc is None:
        raise click.UsageError("give --asterisk-etc DIR (or --sandbox)")
    reader = LogReader(log_file) if log_file is not None else None
    return etc, CliControl(shlex.split(asterisk_cmd)), reader


_etc_option = click.option(
    "--asterisk-etc",
    "etc",
    type=click.Path(path_type=Path),
    default=None,
    help="Asterisk's configuration directory (e.g. /etc/asterisk).",
)
_sandbox_option = click.option(
    "--sandbox", "use_sandbox", is_flag=True, help="Use the running `callflow sandbox up`."
)


@click.command("deploy")
@click.argument("site_spec", metavar="SITE")
@_etc_option
@_sandbox_option
@click.option(
    "--asterisk-cmd",
    default="asterisk",
    show_default=True,
    help="How to reach Asterisk's CLI; run as `CMD -rx ...`.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Asterisk's messages log: new warnings or errors fail the deploy.",
)
@click.option("--keep", default=5, show_default=True, help="Versions to keep.")
@click.option("--rollback", is_flag=True, help="Restore the version before the current one.")
def deploy_cmd(
    site_spec: str,
    etc: Path | None,
    use_sandbox: bool,
    asterisk_cmd: str,
    log_file: Path | None,
    keep: int,
    rollback: bool,
) -> None:
    """Validate, compile and deploy SITE: a new version, reloaded, verified, or rolled back."""
    from callflow.deploy import DeployRefused, deploy
    from callflow.deploy import rollback as do_rollback

    site = load(site_spec)
    etc_dir, control, reader = _target(etc, use_sandbox, asterisk_cmd, log_file)
    try:
        if rollback:
            result = do_rollback(site.name, etc_dir, asterisk=control, log_reader=reader)
        else:
            result = deploy(site, etc_dir, asterisk=control, keep=keep, log_reader=reader)
    except DeployRefused as exc:
        print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors; nothing was deployed") from exc
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    action = "rolled back to" if rollback else ("deployed" if result.changed else "unchanged,")
    click.echo(
        f"{site.name}: {action} version {result.version} (previous {result.previous}) "
        f"in {result.seconds:.2f}s: reload {result.reload_seconds:.2f}s, "
        f"verify {result.verify_seconds:.2f}s"
    )


@click.command("diff")
@click.argument("site_spec", metavar="SITE")
@_etc_option
@_sandbox_option
def diff_cmd(site_spec: str, etc: Path | None, use_sandbox: bool) -> None:
    """Show what deploying SITE would change; exit 1 if it would change anything."""
    from callflow.deploy import DeployRefused, diff

    site = load(site_spec)
    etc_dir, _control, _reader = _target(etc, use_sandbox, "asterisk", None)
    try:
        text = diff(site, etc_dir)
    except DeployRefused as exc:
        print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors") from exc
    if text:
        click.echo(text, nl=False)
        sys.exit(1)
    click.echo(f"{site.name}: no changes")
