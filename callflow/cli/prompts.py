"""prompts: a person's own recording, converted for Asterisk (``prompts import``)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from callflow.audio import PromptImportError, import_prompt

#: where Debian's Asterisk reads its sounds (``astdatadir``/sounds)
DEFAULT_SOUNDS = "/usr/share/asterisk/sounds"


@click.group("prompts")
def prompts_group() -> None:
    """Recordings the flows and campaigns play."""


@prompts_group.command("import")
@click.argument("source", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("name", metavar="NAME")
@click.option("--site", default=None, help="Keep the prompt in the site's own folder.")
@click.option(
    "--sounds",
    type=click.Path(path_type=Path, file_okay=False),
    default=lambda: os.environ.get("CALLFLOW_SOUNDS", DEFAULT_SOUNDS),
    show_default="$CALLFLOW_SOUNDS or " + DEFAULT_SOUNDS,
    help="Asterisk's sounds directory.",
)
@click.option("--force", is_flag=True, help="Replace a prompt of that name.")
def import_cmd(source: Path, name: str, site: str | None, sounds: Path, force: bool) -> None:
    """Convert FILE (WAV, MP3 or M4A, e.g. recorded on a phone) to 8 kHz mono 16-bit WAV
    and store it as prompt NAME (custom/NAME, or custom/SITE/NAME with --site)."""
    try:
        stored = import_prompt(source, name, sounds=sounds, site=site, force=force)
    except PromptImportError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise click.ClickException(f"{where}{exc.strerror or exc}") from exc
    click.echo(f"{stored.path}: {stored.seconds:.1f}s, 8 kHz mono")
    click.echo(f'use it as Prompt("{stored.prompt}")')
