"""Deploy's prompt check: every prompt the site plays must be on the target before
anything goes live (issue 13: a missing recording is silence at call time).

The target's sounds directory is the one its Asterisk reads: ``Data directory`` of
``core show settings``, plus ``/sounds`` (a sandbox's own, see
:attr:`callflow.sandbox.Sandbox.sounds_dir`), unless the caller names one::

    sounds, reason = target_sounds(CliControl())
    problems = missing_prompts(site, sounds)      # one CF154 per use and language
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from callflow.audio import prompt_report
from callflow.deploy.control import AsteriskControl
from callflow.errors import DeployError, Diagnostic
from callflow.model.site import Site

_DATA_DIR = re.compile(r"^\s*Data directory:\s*(.+?)\s*$", re.MULTILINE)


class PromptsMissing(DeployError):
    """Prompts of the site have no sound file on the target; nothing was changed.
    ``diagnostics`` has one CF154 per use of a missing prompt and language."""

    def __init__(self, site: str, sounds: Path, diagnostics: Sequence[Diagnostic]) -> None:
        self.sounds = sounds
        self.diagnostics = tuple(diagnostics)
        files = sorted({d.message.split("'")[1] for d in self.diagnostics})
        super().__init__(
            f"deploy of site {site!r} refused: {len(files)} prompt(s) have no sound file "
            f"under {sounds}: {', '.join(files)}; nothing was changed"
        )


def target_sounds(asterisk: AsteriskControl) -> tuple[Path | None, str]:
    """The sounds directory of the Asterisk ``asterisk`` reaches, from its own
    ``core show settings`` (``Data directory`` + ``/sounds``); ``(None, why)`` when it
    names none or the directory is not on this machine."""
    found = _DATA_DIR.search(asterisk.cli("core show settings"))
    if found is None:
        return None, "`core show settings` names no 'Data directory'"
    sounds = Path(found.group(1)) / "sounds"
    if not sounds.is_dir():
        return None, f"Asterisk's sounds directory {sounds} is not on this machine"
    return sounds, ""


def missing_prompts(site: Site, sounds: Path, languages: Sequence[str] = ()) -> list[Diagnostic]:
    """One CF154 error per use of a prompt with no file Asterisk would play to callers
    of a language the site serves (:func:`callflow.audio.prompt_report`)."""
    return [
        Diagnostic(
            path,
            "CF154",
            f"no sound file {status.file!r} for language {language!r} under {sounds}",
        )
        for status in prompt_report(site, sounds, tuple(languages), measure=False)
        for language in status.missing
        for path in status.used
    ]
