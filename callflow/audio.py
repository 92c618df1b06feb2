"""A person's own recording, made playable by Asterisk (``callflow prompts import``).

A consultant records a message on a phone (WAV, MP3 or the M4A/AAC a phone's voice-memo
app writes); Asterisk plays 8 kHz mono 16-bit PCM without transcoding (``.wav``, the
format its ``format_wav`` module reads). The conversion is ffmpeg's (Debian's ``ffmpeg``
package): sox reads WAV and, with an extra package, MP3, but not the AAC inside an M4A,
so one tool for the three formats is ffmpeg. The result is checked with Python's own
``wave`` reader before it replaces anything::

    stored = import_prompt(Path("wang.m4a"), "new-model-wang", sounds=Path("/srv/sounds"))
    stored.prompt      # 'custom/new-model-wang': what Prompt()/Campaign.message name
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from callflow.errors import CallflowError

#: what a recording may be: the formats phones write (ffmpeg reads each)
INPUT_FORMATS: Final = (".wav", ".mp3", ".m4a")
#: what Asterisk plays without transcoding: 8 kHz, mono, signed 16-bit little-endian
RATE: Final = 8000
#: the folder under the sounds directory imported prompts go to
FOLDER: Final = "custom"
#: longest recording accepted (a campaign message, not an audio book)
MAX_SECONDS: Final = 600
#: a prompt name: what Playback() takes after ``custom/``; no separators, no dots
NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
SITE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: where ffmpeg is looked for (PATH, then Debian's place)
FFMPEG: Final = "ffmpeg"


class PromptImportError(CallflowError, ValueError):
    """A recording that cannot be imported: the one clear reason."""


@dataclass(frozen=True)
class StoredPrompt:
    """An imported prompt: the file written and the name a site uses for it."""

    path: Path
    prompt: str
    seconds: float


def check_name(name: str) -> str:
    """``name`` if it is a safe prompt name, else :class:`PromptImportError`."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        shown = name.encode("unicode_escape").decode("ascii") if isinstance(name, str) else name
        raise PromptImportError(
            f"prompt name {shown!r} is not a safe name: 1-64 letters, digits, _ and -, "
            "no folders, dots or extension (e.g. 'new-model-wang')"
        )
    return name


def find_ffmpeg() -> str:
    found = shutil.which(FFMPEG) or shutil.which(FFMPEG, path="/usr/bin")
    if found is None:
        raise PromptImportError(
            "ffmpeg is not installed: `apt-get install ffmpeg` (or `make ffmpeg`) converts "
            "WAV/MP3/M4A recordings for Asterisk"
        )
    return found


def import_prompt(
    source: Path, name: str, *, sounds: Path, site: str | None = None, force: bool = False
) -> StoredPrompt:
    """Convert ``source`` to ``<sounds>/custom[/<site>]/<name>.wav`` (8 kHz mono 16-bit)
    and return it with its prompt name (``custom[/<site>]/<name>``). An existing prompt
    is only replaced with ``force``; the new file appears whole or not at all."""
    check_name(name)
    if site is not None and not SITE.fullmatch(site):
        raise PromptImportError(f"site {site!r} is not a site name (a-z, 0-9, _)")
    if source.suffix.lower() not in INPUT_FORMATS:
        raise PromptImportError(
            f"{source}: not a recording callflow imports (use {', '.join(INPUT_FORMATS)})"
        )
    if not source.is_file():
        raise PromptImportError(f"{source}: no such file")
    if not sounds.is_dir():
        raise PromptImportError(f"sounds directory {sounds} does not exist")
    folder = sounds / FOLDER / site if site else sounds / FOLDER
    target = folder / f"{name}.wav"
    if target.exists() and not force:
        raise PromptImportError(f"{target} exists; pass --force to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".wav", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        seconds = _convert(source, tmp)
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    prompt = "/".join(p for p in (FOLDER, site, name) if p)
    return StoredPrompt(target, prompt, seconds)


def _convert(source: Path, target: Path) -> float:
    cmd = [
        find_ffmpeg(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(source),
        "-vn",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        "-ac",
        "1",
        "-ar",
        str(RATE),
        "-c:a",
        "pcm_s16le",
        "-t",
        str(MAX_SECONDS + 1),
        "-f",
        "wav",
        str(target),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PromptImportError(f"{source}: conversion took over 120 s") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        why = lines[-1].strip() if lines else f"ffmpeg exited with {done.returncode}"
        raise PromptImportError(f"{source}: not a readable WAV/MP3/M4A recording ({why})")
    try:
        with wave.open(str(target), "rb") as w:
            ok = (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
            frames = w.getnframes()
    except (wave.Error, EOFError, OSError) as exc:
        raise PromptImportError(f"{source}: conversion gave no playable file ({exc})") from exc
    if not ok:
        raise PromptImportError(f"{source}: conversion gave the wrong format")
    if frames == 0:
        raise PromptImportError(f"{source}: the recording has no sound in it")
    seconds = frames / RATE
    if seconds > MAX_SECONDS:
        raise PromptImportError(f"{source}: longer than {MAX_SECONDS} s; shorten it")
    return seconds
