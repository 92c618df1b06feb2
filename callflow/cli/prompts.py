"""prompts: the recordings a site plays: which, where, in which languages and how long
(``prompts list``), which are missing (``prompts check``), and a person's own recording
converted for Asterisk (``prompts import``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from callflow.audio import PromptImportError, PromptStatus, import_prompt
from callflow.cli.common import load_valid

#: where Debian's Asterisk reads its sounds (``astdatadir``/sounds)
DEFAULT_SOUNDS = "/usr/share/asterisk/sounds"


@click.group("prompts")
def prompts_group() -> None:
    """Recordings the flows and campaigns play."""


_sounds_option = click.option(
    "--sounds",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=lambda: os.environ.get("CALLFLOW_SOUNDS", DEFAULT_SOUNDS),
    show_default="$CALLFLOW_SOUNDS or " + DEFAULT_SOUNDS,
    help="Asterisk's sounds directory (DIR/<lang>/<file>.<ext>, DIR/<file>.<ext>).",
)


_language_option = click.option(
    "--language",
    "languages",
    multiple=True,
    metavar="LANG",
    help="Also check this language (e.g. one the CRM sets for customers); repeatable.",
)


def _report(site_spec: str, sounds: Path, languages: tuple[str, ...]) -> list[PromptStatus]:
    from callflow.audio import prompt_report

    site = load_valid(site_spec)
    try:
        return prompt_report(site, sounds, languages)
    except OSError as exc:
        raise click.ClickException(f"{sounds}: {exc.strerror or exc}") from exc


def _as_dict(status: PromptStatus) -> dict[str, Any]:
    return {
        "file": status.file,
        "seconds": status.seconds,
        "declared_seconds": status.declared,
        "languages": sorted(status.found),
        "files": {lang: str(path) for lang, path in sorted(status.found.items())},
        "missing": list(status.missing),
        "problem": status.problem,
        "used": list(status.used),
    }


def _languages(status: PromptStatus) -> str:
    shown = [lang or "(no language folder)" for lang in sorted(status.found)]
    return ", ".join(shown) or "-"


@prompts_group.command("list")
@click.argument("site_spec", metavar="SITE_FILE")
@_sounds_option
@_language_option
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def list_cmd(site_spec: str, sounds: Path, languages: tuple[str, ...], as_json: bool) -> None:
    """Every prompt SITE_FILE plays (menus, plays, campaigns, survey questions): in which
    languages it exists under --sounds, how long it lasts and where the site uses it."""
    statuses = _report(site_spec, sounds, languages)
    if as_json:
        click.echo(json.dumps([_as_dict(s) for s in statuses], indent=2))
        return
    for status in statuses:
        if status.seconds is not None:
            length = f"{status.seconds:.2f}s"
        else:
            length = "unreadable" if status.problem else "no file"
        missing = f"; missing in {', '.join(status.missing)}" if status.missing else ""
        click.echo(f"{status.file}: {length}; languages: {_languages(status)}{missing}")
        for use in status.used:
            click.echo(f"  used by {use}")
    click.echo(f"{len(statuses)} prompt(s) under {sounds}")


@prompts_group.command("check")
@click.argument("site_spec", metavar="SITE_FILE")
@_sounds_option
@_language_option
def check_cmd(site_spec: str, sounds: Path, languages: tuple[str, ...]) -> None:
    """Exit 1 listing every prompt SITE_FILE plays that has no sound file under --sounds
    in a language its callers hear (the site's, its language menus'), or whose file
    cannot be read."""
    statuses = _report(site_spec, sounds, languages)
    problems = 0
    for status in statuses:
        uses = ", ".join(status.used)
        for language in status.missing:
            problems += 1
            click.echo(f"missing: {status.file} ({language}) used by {uses}", err=True)
        if status.problem:
            problems += 1
            click.echo(f"unreadable: {status.problem} (used by {uses})", err=True)
    if problems:
        raise click.ClickException(
            f"{problems} prompt problem(s) under {sounds}; record or `callflow prompts import` "
            "them, then check again"
        )
    click.echo(f"all {len(statuses)} prompt(s) found under {sounds}")


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
