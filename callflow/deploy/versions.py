"""What deploy keeps on disk: immutable versions, the ``current`` link and the journal.

::

    <etc_dir>/callflow/<site>/
        versions/0001-3f2a9c0d1e4b/{extensions,queues,voicemail,pjsip,musiconhold}.conf,
                                  manifest.json (pjsip.conf holds passwords: 0600, or
                                  0640 to the group Asterisk reads its configuration as)
        current -> versions/0001-3f2a9c0d1e4b
        journal.json      {"verified": "0001-...", "pending": null}
        failed/<version>/ the last version Asterisk rejected (or an interrupted one)

Every file is written whole to a temporary name, flushed, and renamed into place, with
modes 0644 (files) and 0755 (directories) whatever the umask: Asterisk may run as
another user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callflow.compiler import FILES, SECRET_FILES, CompiledSite
from callflow.compiler.secrets import secret_mode as secret_file_mode
from callflow.errors import DeployError

_VERSION = re.compile(r"(\d{4,})-([0-9a-f]{12})")
_HEADER = "; Created by callflow deploy; each deployed site adds one #include line below."
#: Temporary files deploy leaves only when it is killed; removed by the next run.
TEMP_PREFIX = ".callflow-tmp."
FILE_MODE = 0o644
DIR_MODE = 0o755
_MARKER_COMMENT = "; callflow deploy: the version marker (read back from Asterisk by deploy)"


def marker_context(site: str) -> str:
    """The dialplan context whose one priority names the version that is loaded."""
    return f"callflow-version-{site}"


def marker_text(site: str, version: str, content: str) -> str:
    """The block deploy appends to a version's extensions.conf, after the compiled
    dialplan: Asterisk parsed the whole file only if it knows this context."""
    return (
        f"\n{_MARKER_COMMENT}\n[{marker_context(site)}]\n"
        f"exten => s,1,NoOp(callflow {version} {content})\n"
    )


def without_marker(text: str) -> str:
    """A deployed extensions.conf as the compiler wrote it (the marker block taken off)."""
    cut = text.rfind(f"\n{_MARKER_COMMENT}\n")
    return text[:cut] if cut >= 0 else text


@dataclass(frozen=True)
class Manifest:
    """What one version holds and what Asterisk must report once it is loaded."""

    site: str
    version: str
    hash: str  # of the compiled files; the version id carries its first 12 digits
    created: str
    previous: str | None  # the version that was current when this one was deployed
    contexts: Mapping[str, int]  # context name -> priority count
    queues: tuple[str, ...]
    mailboxes: Mapping[str, tuple[str, ...]]  # voicemail context -> mailbox numbers
    #: sha256 of each file as written (marker included); empty for versions written
    #: before deploy kept them
    files: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: queue -> the interfaces of its static members (empty for older versions)
    members: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    #: pjsip endpoints, music-on-hold classes and the tone zone the endpoints use
    endpoints: tuple[str, ...] = ()
    moh_classes: tuple[str, ...] = ()
    tone_zone: str = ""

    @property
    def marker(self) -> str:
        """What the marker context's NoOp says once Asterisk loaded this version."""
        return f"callflow {self.version} {self.hash}"

    @classmethod
    def of(cls, compiled: CompiledSite, version: str, previous: str | None) -> Manifest:
        mailboxes: dict[str, list[str]] = {}
        for box in compiled.mailboxes:
            mailboxes.setdefault(box.context, []).append(box.number)
        return cls(
            site=compiled.site,
            version=version,
            hash=content_hash(compiled.files),
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            previous=previous,
            contexts={c.name: c.priority_count for c in compiled.contexts},
            queues=tuple(q.name for q in compiled.queues),
            mailboxes={k: tuple(v) for k, v in sorted(mailboxes.items())},
            members={q.name: tuple(m.interface for m in q.members) for q in compiled.queues},
            endpoints=compiled.endpoints,
            moh_classes=tuple(c.name for c in compiled.moh),
            tone_zone=compiled.tone_zone,
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data: dict[str, Any] = json.loads(text)
        return cls(
            site=data["site"],
            version=data["version"],
            hash=data["hash"],
            created=data["created"],
            previous=data["previous"],
            contexts={str(k): int(v) for k, v in data["contexts"].items()},
            queues=tuple(data["queues"]),
            mailboxes={str(k): tuple(v) for k, v in data["mailboxes"].items()},
            files={str(k): str(v) for k, v in data.get("files", {}).items()},
            members={str(k): tuple(v) for k, v in data.get("members", {}).items()},
            endpoints=tuple(data.get("endpoints", ())),
            moh_classes=tuple(data.get("moh_classes", ())),
            tone_zone=str(data.get("tone_zone", "")),
        )


def content_hash(files: Mapping[str, str]) -> str:
    """sha256 over the generated files, names included: equal hash, equal deploy."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name].encode()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def include_line(site: str, name: str) -> str:
    """The line a main config file carries for a site (relative to Asterisk's etc dir)."""
    return f'#include "callflow/{site}/current/{name}"'


@dataclass(frozen=True)
class Pending:
    """A switch of ``current`` that is not verified yet: undone by the next run."""

    action: str  # "deploy" or "rollback"
    source: str | None  # the verified version before the switch (None: not deployed)
    target: str


@dataclass(frozen=True)
class Journal:
    """The last version Asterisk was verified to run, and a switch in progress, if any."""

    verified: str | None = None
    pending: Pending | None = None
    exists: bool = True  # False: a site deployed before deploy kept a journal


@dataclass(frozen=True)
class SiteTree:
    """One site's directory, ``<etc_dir>/callflow/<site>/``: its versions and ``current``."""

    etc_dir: Path
    site: str

    @property
    def root(self) -> Path:
        return self.etc_dir / "callflow" / self.site

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    @property
    def journal_path(self) -> Path:
        return self.root / "journal.json"

    def path(self, version: str) -> Path:
        return self.root / "versions" / version

    def versions(self) -> list[str]:
        """Version ids, oldest first."""
        found = self.root / "versions"
        names = [p.name for p in found.iterdir()] if found.is_dir() else []
        return sorted((n for n in names if _VERSION.fullmatch(n)), key=_number)

    def current(self) -> str | None:
        """The version ``current`` points at, or None before the first deploy."""
        try:
            return Path(os.readlink(self.current_link)).name
        except FileNotFoundError:
            return None

    def manifest(self, version: str) -> Manifest:
        try:
            return Manifest.from_json((self.path(version) / "manifest.json").read_text())
        except (OSError, ValueError, KeyError) as exc:
            raise DeployError(
                f"site {self.site!r}: version {version} is unreadable: {exc}"
            ) from exc

    def files(self, version: str) -> dict[str, Path]:
        return {name: self.path(version) / name for name in FILES}

    def edited(self, manifest: Manifest) -> list[str]:
        """The files of a version that differ from what deploy wrote (hand edits)."""
        paths = self.files(manifest.version)
        try:
            data = {name: path.read_bytes() for name, path in paths.items()}
        except OSError:
            return [name for name, path in paths.items() if not path.is_file()] or list(FILES)
        if manifest.files:
            return [
                name
                for name in FILES
                if hashlib.sha256(data[name]).hexdigest() != manifest.files.get(name)
            ]
        texts = {name: raw.decode("utf-8", "replace") for name, raw in data.items()}
        return [] if content_hash(texts) == manifest.hash else list(FILES)

    # ---- the journal

    def journal(self) -> Journal:
        try:
            data = json.loads(self.journal_path.read_text())
        except FileNotFoundError:
            return Journal(verified=None, pending=None, exists=False)
        except (OSError, ValueError) as exc:
            raise DeployError(
                f"site {self.site!r}: {self.journal_path} is unreadable: {exc}"
            ) from exc
        pending = data.get("pending")
        return Journal(
            verified=data.get("verified"),
            pending=Pending(pending["action"], pending["source"], pending["target"])
            if pending
            else None,
        )

    def write_journal(self, journal: Journal) -> None:
        pending = dataclasses.asdict(journal.pending) if journal.pending else None
        text = json.dumps({"verified": journal.verified, "pending": pending}, indent=2) + "\n"
        write_file(self.journal_path, text)

    # ---- changing the tree

    def add(self, compiled: CompiledSite, previous: str | None) -> Manifest:
        """Write a new version (complete before it becomes visible) and return its manifest.
        A failure (full disk, read-only directory) leaves nothing behind."""
        taken = [*self.versions(), *_listdir(self.root / "failed")]
        number = max((_number(v) for v in taken if _VERSION.fullmatch(v)), default=0) + 1
        version = f"{number:04d}-{content_hash(compiled.files)[:12]}"
        manifest = Manifest.of(compiled, version, previous)
        files = dict(compiled.files)
        files["extensions.conf"] += marker_text(compiled.site, version, manifest.hash)
        manifest = dataclasses.replace(
            manifest,
            files={n: hashlib.sha256(t.encode()).hexdigest() for n, t in sorted(files.items())},
        )
        make_dirs(self.root / "versions")
        staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.root / "versions"))
        try:
            secret_mode, secret_group = secret_file_mode(self.etc_dir)
            for name, text in [*files.items(), ("manifest.json", manifest.to_json())]:
                with open(staging / name, "w", encoding="utf-8", newline="\n") as out:
                    if name in SECRET_FILES:  # passwords: never readable by others
                        os.fchmod(out.fileno(), secret_mode)
                        if secret_group >= 0:
                            os.fchown(out.fileno(), -1, secret_group)
                    else:
                        os.fchmod(out.fileno(), FILE_MODE)
                    out.write(text)
                    out.flush()
                    os.fsync(out.fileno())
            staging.chmod(DIR_MODE)
            _fsync_dir(staging)
            staging.rename(self.path(version))
            _fsync_dir(staging.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return manifest

    def switch(self, version: str | None) -> None:
        """Point ``current`` at ``version`` atomically (temp link + rename); None removes it."""
        if version is None:
            self.current_link.unlink(missing_ok=True)
        else:
            temp = self.root / f"{TEMP_PREFIX}current.{os.getpid()}"
            temp.unlink(missing_ok=True)
            os.symlink(f"versions/{version}", temp)
            os.replace(temp, self.current_link)
        _fsync_dir(self.root)

    def set_aside(self, version: str) -> Path | None:
        """Move a rejected version to ``failed/`` (only the last one is kept there)."""
        failed = self.root / "failed"
        source = self.path(version)
        if not source.is_dir():
            return None
        shutil.rmtree(failed, ignore_errors=True)
        make_dirs(failed)
        return source.rename(failed / version)

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions, never ``current``, the version
        before it, or one the journal names."""
        current = self.current()
        journal = self.journal()
        protected = {current, journal.verified}
        if current:
            protected.add(self.manifest(current).previous)
        if journal.pending:
            protected |= {journal.pending.source, journal.pending.target}
        versions = self.versions()
        doomed = [v for v in versions[: max(0, len(versions) - keep)] if v not in protected]
        for version in doomed:
            shutil.rmtree(self.path(version))
        return doomed

    def clean_leftovers(self) -> None:
        """Remove what a killed deploy left half-made: staging dirs, temp links and files."""
        for directory in (self.etc_dir, self.root, self.root / "versions"):
            for leftover in directory.glob(f"{TEMP_PREFIX}*") if directory.is_dir() else []:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One deploy at a time per etc dir: they share the main config files."""
        make_dirs(self.etc_dir / "callflow")
        lock = self.etc_dir / "callflow" / ".lock"
        with lock.open("a") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _number(version: str) -> int:
    return int(version.split("-", 1)[0])


def _listdir(path: Path) -> list[str]:
    return [p.name for p in path.iterdir()] if path.is_dir() else []


def make_dirs(path: Path) -> None:
    """``mkdir -p`` whose new directories are 0755 whatever the umask."""
    missing = []
    walk = path
    while not walk.exists():
        missing.append(walk)
        walk = walk.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
            directory.chmod(DIR_MODE)


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole: temp file in the same directory, flushed, renamed.

    A symlink stays a symlink: its target is what gets replaced. New files are 0644;
    an existing file keeps its mode."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = FILE_MODE
    fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` survive a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_includes(etc_dir: Path, site: str, *, present: bool = True) -> list[Path]:
    """Make each main config file hold the site's include line exactly once (or not at all
    with ``present=False``); returns the files that changed. Rewrites are atomic, and a
    main file that is a symlink stays one (its target is rewritten)."""
    changed = []
    for name in FILES:
        main = etc_dir / name
        line = include_line(site, name)
        text = main.read_text() if main.exists() else ""
        if not present and not text:
            continue
        lines = text.splitlines()
        if lines.count(line) == (1 if present else 0):
            continue
        kept = [existing for existing in lines if existing != line]
        if present:
            kept = [*(kept or [_HEADER]), line]
        if kept == [_HEADER] and not main.is_symlink():  # only what deploy itself put there
            main.unlink()
        else:
            write_file(main, "\n".join(kept) + "\n")
        changed.append(main)
    return changed
