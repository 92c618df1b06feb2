"""A site's prompts as sound files: a person's own recording made playable by Asterisk
(``callflow prompts import``), and every prompt a site plays found under a sounds
directory the way Asterisk finds it, in each language, with its length
(``callflow prompts list|check``, ``deploy``'s prompt check, lint's prompt times).

A consultant records a message on a phone (WAV, MP3 or the M4A/AAC a phone's voice-memo
app writes); Asterisk plays 8 kHz mono 16-bit PCM without transcoding (``.wav``, the
format its ``format_wav`` module reads). The conversion is ffmpeg's (Debian's ``ffmpeg``
package): sox reads WAV and, with an extra package, MP3, but not the AAC inside an M4A,
so one tool for the three formats is ffmpeg. The result is checked with Python's own
``wave`` reader before it replaces anything::

    stored = import_prompt(Path("wang.m4a"), "new-model-wang", sounds=Path("/srv/sounds"))
    stored.prompt      # 'custom/new-model-wang': what Prompt()/Campaign.message name
    for p in prompt_report(site, Path("/usr/share/asterisk/sounds")):
        print(p.file, p.seconds, sorted(p.found), p.missing, p.used)

Lengths: the WAV header (Python's ``wave``) for 8/16 kHz PCM ``.wav``; the byte rate of
Asterisk's raw formats (``.gsm``: 33 bytes per 20 ms, ``.ulaw``/``.alaw``/``.g722``: 8000
bytes/s, ``.sln*``: 2 bytes per sample); ffprobe (Debian's ``ffmpeg``) for containers
Python cannot read (GSM-in-WAV ``.WAV``, ``.ogg``, ``.au``, a WAV of another codec).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from callflow.errors import CallflowError
from callflow.model.campaigns import MANAGER_PREFIX
from callflow.model.nodes import Ask, LanguageSelect
from callflow.model.prompts import Prompt, prompt_fields
from callflow.model.recording import recording_prompts
from callflow.model.site import Site

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


# -- sound files as Asterisk finds them ------------------------------------------------------

#: bytes per second of Asterisk's headerless formats (format_pcm, format_gsm, format_sln,
#: format_g729, format_g722), by file extension
RAW_RATES: Final = {
    "gsm": 1650,  # 33-byte frames of 20 ms
    "ulaw": 8000, "ul": 8000, "mu": 8000, "ulw": 8000, "pcm": 8000,
    "alaw": 8000, "al": 8000, "alw": 8000,
    "g722": 8000,  # 64 kbit/s
    "g729": 1000,  # 10-byte frames of 10 ms
    "sln": 16000, "raw": 16000, "sln12": 24000, "sln16": 32000, "sln24": 48000,
    "sln32": 64000, "sln44": 88200, "sln48": 96000, "sln96": 192000, "sln192": 384000,
}  # fmt: skip
#: containers whose length comes from their header (``wav``: Python's wave, else ffprobe)
HEADER_FORMATS: Final = ("wav", "WAV", "wav49", "ogg", "au")
#: every extension a prompt's file may have, in the order they are looked for
EXTENSIONS: Final = ("wav", *RAW_RATES, *HEADER_FORMATS[1:])
#: Asterisk's default language: tried last for every prompt (main/file.c)
DEFAULT_LANGUAGE: Final = "en"
FFPROBE: Final = "ffprobe"


class SoundFileError(CallflowError, ValueError):
    """A sound file whose length cannot be read (not a sound, truncated, unreadable)."""


def sound_seconds(path: Path) -> float:
    """The length of the sound file ``path`` in seconds (see the module for how), or
    :class:`SoundFileError` naming the file::

        sound_seconds(Path("/usr/share/asterisk/sounds/en/vm-goodbye.gsm"))   # 0.96
    """
    ext = path.suffix.lstrip(".")
    try:
        if ext.lower() in RAW_RATES:
            return path.stat().st_size / RAW_RATES[ext.lower()]
        if ext == "wav":
            try:
                with wave.open(str(path), "rb") as w:
                    return w.getnframes() / float(w.getframerate())
            except wave.Error:
                pass  # a WAV of another codec (GSM, A-law): its header, read by ffprobe
    except (EOFError, OSError) as exc:
        raise SoundFileError(f"{path}: cannot read its length: {exc}") from exc
    return _probe_seconds(path)


def _probe_seconds(path: Path) -> float:
    tool = shutil.which(FFPROBE) or shutil.which(FFPROBE, path="/usr/bin")
    if tool is None:
        raise SoundFileError(
            f"{path}: its length needs ffprobe (`apt-get install ffmpeg`, or `make ffmpeg`)"
        )
    cmd = [tool, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        return float(done.stdout.strip())
    except (subprocess.TimeoutExpired, ValueError, OSError):
        lines = [line for line in getattr(done, "stderr", "").splitlines() if line.strip()]
        why = lines[-1].strip() if lines else "not a sound file ffprobe reads"
        raise SoundFileError(f"{path}: cannot read its length: {why}") from None


def lookup_order(language: str) -> tuple[str, ...]:
    """The language folders Asterisk tries for a prompt, in order (main/file.c,
    ``fileexists_core``): the language, the language without its dialect (``zh`` for
    ``zh_CN``), no language folder (``""``), then the default ``en``."""
    order = [language]
    if "_" in language:
        order.append(language.split("_", 1)[0])
    order += ["", DEFAULT_LANGUAGE]
    return tuple(dict.fromkeys(order))


def sound_file(sounds: Path, file: str, language: str | None = None) -> Path | None:
    """The file Asterisk plays for prompt ``file`` in ``language`` (every folder of
    :func:`lookup_order`); with ``language=None``, only a language-neutral file
    (``<sounds>/<file>.<ext>``). None: there is none."""
    folders = lookup_order(language) if language is not None else ("",)
    for folder in folders:
        base = sounds / folder if folder else sounds
        for ext in EXTENSIONS:
            path = base / f"{file}.{ext}"
            if path.is_file():
                return path
    return None


def _own_file(sounds: Path, file: str, folder: str) -> Path | None:
    """The file of ``file`` in exactly one language folder (no fallback)."""
    base = sounds / folder if folder else sounds
    for ext in EXTENSIONS:
        path = base / f"{file}.{ext}"
        if path.is_file():
            return path
    return None


def language_folders(sounds: Path) -> list[str]:
    """The language folders under a sounds directory: its subdirectories that are not
    the first folder of a prompt path (``custom``, ``digits``' parents aside, Asterisk
    does not tell languages from folders, so neither can we: every subdirectory counts)."""
    try:
        return sorted(p.name for p in sounds.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


# -- the prompts a site plays ----------------------------------------------------------------


@dataclass(frozen=True)
class PromptUse:
    """One sound file a site plays and where the site uses it (model paths)."""

    file: str  # as Playback() names it: no extension, relative to the sounds directory
    used: tuple[str, ...]
    declared: float | None = None  # Prompt.seconds, when the site says


_SURVEY_ONLY: Final = ("goodbye", "opt_out_message")


def site_prompts(site: Site) -> list[PromptUse]:
    """Every prompt of ``site``'s nodes and campaigns (``prompt_fields``, the one walk;
    a survey's questions through its answered flow's ``Ask`` nodes), by file. A
    ``manager:<file>`` message is ``<file>``, the fallback of every manager's own."""
    uses: dict[str, list[str]] = {}
    declared: dict[str, float] = {}

    def add(path: str, prompts: tuple[Prompt, ...]) -> None:
        for prompt in prompts:
            if not isinstance(prompt, Prompt) or not isinstance(prompt.file, str):
                continue  # validation reports it
            file = prompt.file.removeprefix(MANAGER_PREFIX)
            uses.setdefault(file, []).append(path)
            if prompt.seconds is not None:
                declared.setdefault(file, prompt.seconds)

    for node in site.nodes:
        for name, prompts in prompt_fields(node):
            add(f"site.nodes[{node.id!r}].{name}", prompts)
    for campaign in site.campaigns:
        where = f"site.campaigns[{campaign.id!r}]"
        flow = campaign.answered_flow(site.node_map).nodes
        played = {p.file for node in flow for _name, ps in prompt_fields(node) for p in ps}
        for name, prompts in prompt_fields(campaign):
            # the goodbye and opt-out message close a survey's questions: a campaign
            # without questions has them (defaults) but never plays them
            if name in _SURVEY_ONLY and not any(p.file in played for p in prompts):
                continue
            add(f"{where}.{name}", prompts)
        for node in flow:
            if isinstance(node, Ask):  # the questions: the campaign's fields have the rest
                for name, prompts in prompt_fields(node):
                    add(f"{where}.questions[{node.question!r}].{name}", prompts)
    for path, prompt in recording_prompts(site):  # "this call may be recorded"
        add(path, (prompt,))
    return [
        PromptUse(file, tuple(dict.fromkeys(paths)), declared.get(file))
        for file, paths in sorted(uses.items())
    ]


def site_languages(site: Site) -> tuple[str, ...]:
    """The languages callers of ``site`` hear: the site's, then those its
    ``LanguageSelect`` menus offer."""
    chosen: list[str] = [site.language]
    for node in site.nodes:
        if isinstance(node, LanguageSelect):
            chosen += [*node.languages.values(), *([node.default] if node.default else [])]
    return tuple(dict.fromkeys(lang for lang in chosen if isinstance(lang, str)))


@dataclass(frozen=True)
class PromptStatus:
    """A site prompt under a sounds directory."""

    file: str
    used: tuple[str, ...]
    #: language folder ("" = no language folder) -> the file there
    found: dict[str, Path]
    #: the site's languages in which Asterisk finds no file (the ``en`` fallback aside:
    #: a caller of another language would hear English)
    missing: tuple[str, ...]
    #: the length of the file the site's own language plays (None: none, or unreadable)
    seconds: float | None
    declared: float | None = None
    problem: str | None = None  # why the length is unknown, when a file exists


def prompt_report(
    site: Site, sounds: Path, languages: tuple[str, ...] = (), *, measure: bool = True
) -> list[PromptStatus]:
    """Every prompt of ``site`` (:func:`site_prompts`) under ``sounds``: where it exists,
    in which of the site's languages (:func:`site_languages` plus ``languages``) it is
    missing, and (``measure``) its length."""
    wanted = tuple(dict.fromkeys([*site_languages(site), *languages]))
    folders = language_folders(sounds)
    out = []
    for use in site_prompts(site):
        found = {
            folder: path
            for folder in ("", *folders)
            if (path := _own_file(sounds, use.file, folder)) is not None
        }
        missing = tuple(lang for lang in wanted if _plays(sounds, use.file, lang) is None)
        seconds, problem = None, None
        playing = sound_file(sounds, use.file, site.language) if measure else None
        if playing is not None:
            try:
                seconds = sound_seconds(playing)
            except SoundFileError as exc:
                problem = str(exc)
        out.append(PromptStatus(use.file, use.used, found, missing, seconds, use.declared, problem))
    return out


def _plays(sounds: Path, file: str, language: str) -> Path | None:
    """The file a caller of ``language`` hears, the default-language fallback aside."""
    for folder in lookup_order(language):
        if folder == DEFAULT_LANGUAGE and language.split("_", 1)[0] != DEFAULT_LANGUAGE:
            continue
        if (path := _own_file(sounds, file, folder)) is not None:
            return path
    return None


def iter_missing(statuses: list[PromptStatus]) -> Iterator[tuple[PromptStatus, str]]:
    """(prompt, language) for every prompt missing in a language."""
    for status in statuses:
        for language in status.missing:
            yield status, language
