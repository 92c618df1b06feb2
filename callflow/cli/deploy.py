"""deploy and diff: put a site on an Asterisk, or show what that would change."""

from __future__ import annotations

import re
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from callflow.cli.common import load, print_diagnostics
from callflow.errors import CallflowError

if TYPE_CHECKING:
    from callflow.deploy import CliControl, ProblemLog

#: what a site name looks like (``callflow.validate``'s identifiers)
_SITE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _argv(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    """--asterisk-cmd as an argv list, split the way a shell would."""
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}") from exc
    if not argv:
        raise click.BadParameter("must name a command, e.g. 'asterisk' or 'sudo asterisk'")
    return argv


def _target(
    etc: Path | None,
    use_sandbox: bool,
    state_dir: Path | None,
    asterisk_argv: list[str],
    log_file: Path | None,
) -> tuple[Path, CliControl, ProblemLog | None]:
    """Where to deploy: the running sandbox, or an Asterisk config dir and its CLI."""
    from callflow.deploy import CliControl, LogReader

    if state_dir is not None and not use_sandbox:
        raise click.UsageError("--state-dir goes with --sandbox")
    if use_sandbox:
        if etc is not None:
            raise click.UsageError("give --asterisk-etc or --sandbox, not both")
        from callflow import sandbox as sb

        try:
            pbx = sb.attach(state_dir)
        except sb.SandboxError as exc:
            raise click.ClickException(f"{exc} (start it with `callflow sandbox up`)") from exc
        reader: ProblemLog = LogReader(log_file) if log_file is not None else pbx
        return pbx.etc_dir, CliControl(pbx.asterisk_command()), reader
    if etc is None:
        raise click.UsageError("give --asterisk-etc DIR (or --sandbox)")
    return etc, CliControl(asterisk_argv), LogReader(log_file) if log_file is not None else None


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends a deploy the way Ctrl-C does: a pending switch is undone first."""
    raise KeyboardInterrupt(f"signal {signum}")


_etc_option = click.option(
    "--asterisk-etc",
    "etc",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The running Asterisk's configuration directory (e.g. /etc/asterisk).",
)
_sandbox_option = click.option(
    "--sandbox", "use_sandbox", is_flag=True, help="Use the running `callflow sandbox up`."
)
_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="With --sandbox: the sandbox's state directory (as given to `sandbox up`).",
)


@click.command("deploy")
@click.argument("site_spec", metavar="SITE")
@_etc_option
@_sandbox_option
@_state_dir_option
@click.option(
    "--asterisk-cmd",
    "asterisk_argv",
    default="asterisk",
    show_default=True,
    callback=_argv,
    help="How to reach Asterisk's CLI; run as `CMD -rx ...`.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Asterisk's messages log: warnings or errors the reload logs fail the deploy.",
)
@click.option(
    "--keep", type=click.IntRange(min=1), default=5, show_default=True, help="Versions to keep."
)
@click.option(
    "--rollback",
    is_flag=True,
    help="Restore the version before the current one (SITE may be the site's name).",
)
@click.option(
    "--sounds",
    type=click.Path(path_type=Path, exists=True, file_okay=False, readable=True),
    default=None,
    help="The target's sounds directory [default: the one its Asterisk reports].",
)
@click.option(
    "--allow-missing-prompts",
    is_flag=True,
    help="Deploy even when a prompt has no sound file on the target (warns).",
)
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Passwords of staff phones and trunks (mode 0600, outside the repo); "
    "default $CALLFLOW_SECRETS. $CALLFLOW_SECRET_<NAME> variables override it.",
)
def deploy_cmd(
    site_spec: str,
    etc: Path | None,
    use_sandbox: bool,
    state_dir: Path | None,
    asterisk_argv: list[str],
    log_file: Path | None,
    keep: int,
    rollback: bool,
    sounds: Path | None,
    allow_missing_prompts: bool,
    secrets_file: Path | None,
) -> None:
    """Validate, compile and deploy SITE: a new version, reloaded, verified, or rolled back.

    Every prompt the site plays must have a sound file on the target (--sounds, else the
    sounds directory its Asterisk reports), in each language the site serves: a missing
    one refuses the deploy before anything is written (--allow-missing-prompts: warns).
    With --rollback, SITE is a site file or just the site's name (e.g. `star_motors`).
    """
    from callflow.deploy import DeployRefused, PromptsMissing, deploy
    from callflow.deploy import rollback as do_rollback

    if rollback and _SITE_NAME.fullmatch(site_spec) and not Path(site_spec).exists():
        site_name, site = site_spec, None
    else:
        site = load(site_spec)
        site_name = site.name
    etc_dir, control, reader = _target(etc, use_sandbox, state_dir, asterisk_argv, log_file)
    previous_handler = signal.signal(signal.SIGTERM, _interrupted)
    try:
        if site is None or rollback:
            result = do_rollback(site_name, etc_dir, asterisk=control, log_reader=reader)
        else:
            result = deploy(
                site,
                etc_dir,
                asterisk=control,
                keep=keep,
                log_reader=reader,
                secrets_file=secrets_file,
                prompts="warn" if allow_missing_prompts else "refuse",
                sounds=sounds,
            )
    except DeployRefused as exc:
        print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors; nothing was deployed") from exc
    except PromptsMissing as exc:
        print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException(
            f"{exc}; nothing was deployed (record them or `callflow prompts import`; "
            "--allow-missing-prompts deploys anyway)"
        ) from exc
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo(
            f"Error: {site_name}: interrupted; {_after_interrupt(etc_dir, site_name)}", err=True
        )
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if result.recovered:
        click.echo(f"{site_name}: first {result.recovered}")
    for problem in result.missing_prompts:
        click.echo(f"warning: {problem}", err=True)
    if result.missing_prompts:
        click.echo(
            f"{site_name}: warning: deployed with {len(result.missing_prompts)} missing "
            "prompt use(s) (--allow-missing-prompts): callers hear silence there",
            err=True,
        )
    if result.prompts_unchecked:
        click.echo(
            f"{site_name}: warning: prompts not checked: {result.prompts_unchecked} "
            "(give --sounds DIR)",
            err=True,
        )
    if result.edited:
        click.echo(
            f"{site_name}: warning: {', '.join(result.edited)} of version {result.previous} "
            "had been edited by hand; the edits are replaced (still in that version's directory)"
        )
    if rollback:
        action = "rolled back to"
    elif result.changed:
        action = "deployed"
    elif result.reloaded:
        action = "unchanged (Asterisk did not run it: reloaded and verified),"
    else:
        action = "unchanged (verified running),"
    click.echo(
        f"{site_name}: {action} version {result.version} (previous {result.previous}) "
        f"in {result.seconds:.2f}s: reload {result.reload_seconds:.2f}s, "
        f"verify {result.verify_seconds:.2f}s"
    )


def _after_interrupt(etc_dir: Path, site_name: str) -> str:
    """What an interrupted deploy left: read from the journal, not assumed."""
    from callflow.deploy import SiteTree

    try:
        journal = SiteTree(etc_dir, site_name).journal()
    except CallflowError:
        journal = None
    if journal is None or journal.pending:
        return "the unfinished change is still pending: the next deploy or rollback undoes it"
    if not journal.exists:
        return "nothing was changed"
    return f"Asterisk runs the verified version {journal.verified or '(none)'}"


@click.command("diff")
@click.argument("site_spec", metavar="SITE")
@_etc_option
@_sandbox_option
@_state_dir_option
def diff_cmd(site_spec: str, etc: Path | None, use_sandbox: bool, state_dir: Path | None) -> None:
    """Show what deploying SITE would change (against the version Asterisk was last
    verified to run); exit 1 if it would change anything."""
    from callflow.deploy import DeployRefused, SiteTree, diff

    site = load(site_spec)
    etc_dir, _control, _reader = _target(etc, use_sandbox, state_dir, ["asterisk"], None)
    try:
        text = diff(site, etc_dir)
        pending = SiteTree(etc_dir, site.name).journal().pending
    except DeployRefused as exc:
        print_diagnostics(list(exc.diagnostics), False)
        raise click.ClickException("site has errors") from exc
    except CallflowError as exc:
        raise click.ClickException(str(exc)) from exc
    if pending:
        click.echo(
            f"note: an interrupted {pending.action} to {pending.target} is pending; "
            "the next deploy or rollback undoes it first",
            err=True,
        )
    if text:
        click.echo(text, nl=False)
        sys.exit(1)
    click.echo(f"{site.name}: no changes")
