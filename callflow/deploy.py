"""Put a site into a running Asterisk: write a new version, switch, reload, verify, roll back.

Every deploy of a site is a numbered, immutable version under the Asterisk config dir;
a ``current`` symlink says which one runs, and the main ``extensions.conf``,
``queues.conf`` and ``voicemail.conf`` each ``#include`` the site through it::

    <etc_dir>/callflow/star_motors/
        versions/0001-3f2a9c0d1e4b/{extensions,queues,voicemail}.conf, manifest.json
        versions/0002-9b1c44e07a21/...
        current -> versions/0002-9b1c44e07a21
        failed/<version>/...          the last version Asterisk rejected, for reading

A deploy counts as done only once Asterisk reports what the compiler predicted: every
context with exactly its number of priorities, every queue and mailbox present, the
contexts the site dropped gone, and (given a log reader) no new warning or error. If not,
``current`` goes back to the version that ran before, Asterisk reloads that, and
:class:`~callflow.errors.DeployError` says what failed::

    result = deploy(site, Path("/etc/asterisk"), asterisk=CliControl())
    print(result.version, result.reload_seconds, result.verify_seconds)
    rollback("star_motors", Path("/etc/asterisk"), asterisk=CliControl())
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from callflow.compiler import FILES, CompiledSite, compile_site
from callflow.errors import DeployError, Diagnostic, ValidationError
from callflow.model.site import Site

__all__ = [
    "RELOAD_COMMANDS",
    "AsteriskControl",
    "CliControl",
    "DeployRefused",
    "DeployResult",
    "LogReader",
    "Manifest",
    "ProblemLog",
    "SiteTree",
    "deploy",
    "diff",
    "ensure_includes",
    "include_line",
    "rollback",
    "verify",
]

#: What makes Asterisk re-read the three files a site is made of, in this order.
RELOAD_COMMANDS = ("dialplan reload", "module reload app_queue.so", "voicemail reload")

_VERSION = re.compile(r"(\d{4,})-([0-9a-f]{12})")
_COUNTS = re.compile(r"-= (\d+) extensions? \((\d+) priorit(?:y|ies)\) in (\d+) contexts?\. =-")
_CONTEXT = re.compile(r"\[ Context '(.+)' created by '.*' \]$")
# "  '100' =>          1. Answer()", "     [label]        2. ...", "  '100' => hint: PJSIP/100"
_PRIORITY = re.compile(r"\s+(?:'.*' =>|\[[^\]]*\])?\s*(?:\d+\.|hint:) ")
_QUEUE = re.compile(r"^(\S+) has \d+ calls? ", re.MULTILINE)
# Load, not configuration: loading ~1000 queues at once backs up the device-state
# taskprocessor and Asterisk says so; the queues themselves load fine.
_NOT_A_CONFIG_PROBLEM = re.compile(r"taskprocessor\.c: Taskprocessor '.*' queue reached \d+")
_HEADER = "; Created by callflow deploy; each deployed site adds one #include line below.\n"


# --------------------------------------------------------------------------- talking to Asterisk


class AsteriskControl(Protocol):
    """Runs one Asterisk CLI command and returns its output (a Sandbox is one too)."""

    def cli(self, command: str) -> str: ...


class ProblemLog(Protocol):
    """Tells the WARNING and ERROR lines Asterisk logged after a mark: a :class:`LogReader`,
    or a :class:`~callflow.sandbox.Sandbox`."""

    def log_mark(self) -> int: ...

    def problems_since(self, mark: int) -> list[str]: ...


@dataclass(frozen=True)
class CliControl:
    """Talks to Asterisk through its remote console, ``<argv_prefix> -rx <command>``::

    CliControl()                                   # the system's `asterisk`
    CliControl(sandbox.asterisk_command())         # a sandbox
    """

    argv_prefix: Sequence[str] = ("asterisk",)
    timeout: float = 10.0

    def cli(self, command: str) -> str:
        argv = [*self.argv_prefix, "-rx", command]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployError(f"asterisk -rx {command!r}: {exc}") from exc
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise DeployError(f"asterisk -rx {command!r} exited {done.returncode}: {output}")
        return done.stdout


@dataclass(frozen=True)
class LogReader:
    """Reads an Asterisk log file that logs warnings and errors (a :class:`ProblemLog`)::

    log = LogReader("/var/log/asterisk/messages")
    deploy(site, Path("/etc/asterisk"), asterisk=CliControl(), log_reader=log)

    ``settle`` gives Asterisk's logger thread time to write what a reload just caused.
    """

    path: Path | str
    settle: float = 0.3

    def log_mark(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def problems_since(self, mark: int) -> list[str]:
        time.sleep(self.settle)
        try:
            with open(self.path, "rb") as log:
                log.seek(mark)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if "] WARNING[" in line or "] ERROR[" in line]


# --------------------------------------------------------------------------- what is on disk


@dataclass(frozen=True)
class Manifest:
    """What one version holds and what Asterisk must report once it is loaded."""

    site: str
    version: str
    hash: str
    created: str
    previous: str | None  # the version that was current when this one was deployed
    contexts: Mapping[str, int]  # context name -> priority count
    queues: tuple[str, ...]
    mailboxes: Mapping[str, tuple[str, ...]]  # voicemail context -> mailbox numbers

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

    def add(self, compiled: CompiledSite, previous: str | None) -> Manifest:
        """Write a new version (complete before it becomes visible) and return its manifest."""
        taken = [*self.versions(), *_listdir(self.root / "failed")]
        number = max((_number(v) for v in taken if _VERSION.fullmatch(v)), default=0) + 1
        version = f"{number:04d}-{content_hash(compiled.files)[:12]}"
        manifest = Manifest.of(compiled, version, previous)
        (self.root / "versions").mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=self.root / "versions"))
        for name, text in compiled.files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        (staging / "manifest.json").write_text(manifest.to_json())
        staging.chmod(0o755)  # mkdtemp makes it 0700; Asterisk may run as another user
        staging.rename(self.path(version))
        return manifest

    def switch(self, version: str | None) -> None:
        """Point ``current`` at ``version`` atomically (temp link + rename); None removes it."""
        if version is None:
            self.current_link.unlink(missing_ok=True)
            return
        temp = self.root / f".current.{os.getpid()}.{time.monotonic_ns()}"
        os.symlink(f"versions/{version}", temp)
        os.replace(temp, self.current_link)

    def set_aside(self, version: str) -> Path:
        """Move a rejected version to ``failed/`` (only the last one is kept there)."""
        failed = self.root / "failed"
        shutil.rmtree(failed, ignore_errors=True)
        failed.mkdir()
        return self.path(version).rename(failed / version)

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions, never ``current`` or its previous."""
        current = self.current()
        protected = {current, self.manifest(current).previous} if current else set()
        versions = self.versions()
        doomed = [v for v in versions[: max(0, len(versions) - keep)] if v not in protected]
        for version in doomed:
            shutil.rmtree(self.path(version))
        return doomed


def _number(version: str) -> int:
    return int(version.split("-", 1)[0])


def _listdir(path: Path) -> list[str]:
    return [p.name for p in path.iterdir()] if path.is_dir() else []


def ensure_includes(etc_dir: Path, site: str, *, present: bool = True) -> list[Path]:
    """Make each main config file hold the site's include line exactly once (or not at all
    with ``present=False``); returns the files that changed. Rewrites are atomic."""
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
            kept = [*(kept or [_HEADER.rstrip("\n")]), line]
        if kept == [_HEADER.rstrip("\n")]:  # only what deploy itself put there
            main.unlink()
        else:
            _replace_text(main, "\n".join(kept) + "\n")
        changed.append(main)
    return changed


def _replace_text(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
    os.chmod(temp, mode)
    os.replace(temp, path)


# --------------------------------------------------------------------------- verifying


def verify(
    asterisk: AsteriskControl,
    expected: Manifest | None,
    *,
    gone: Sequence[str] = (),
) -> list[str]:
    """What Asterisk reports differently from ``expected``, one sentence per problem::

    assert verify(CliControl(), tree.manifest(tree.current())) == []

    ``gone`` names contexts that must no longer exist (dropped by the site). Asterisk is
    asked once per kind of thing (``dialplan show``, ``queue show``, ``voicemail show
    users``), so a site with thousands of contexts verifies as fast as a small one.
    """
    contexts = dict(expected.contexts) if expected else {}
    loaded = _loaded_priorities(asterisk, [*contexts, *gone])
    problems = []
    for context, count in contexts.items():
        reported = loaded.get(context)
        if reported is None:
            problems.append(f"context {context} is not loaded")
        elif reported != count:
            problems.append(f"context {context} has {reported} priorities, expected {count}")
    problems += [f"context {c} was dropped but is still loaded" for c in gone if c in loaded]
    if expected and expected.queues:
        queues = set(_QUEUE.findall(asterisk.cli("queue show")))
        problems += [f"queue {q} is not loaded" for q in expected.queues if q not in queues]
    if expected and expected.mailboxes:
        rows = asterisk.cli("voicemail show users").splitlines()
        boxes = {tuple(fields[:2]) for fields in map(str.split, rows) if len(fields) >= 2}
        for context, numbers in expected.mailboxes.items():
            missing = [n for n in numbers if (context, n) not in boxes]
            problems += [f"mailbox {n}@{context} is not loaded" for n in missing]
    return problems


def _loaded_priorities(asterisk: AsteriskControl, names: Sequence[str]) -> dict[str, int]:
    """Priority count by context, for those of ``names`` that Asterisk has loaded.

    One ``dialplan show`` lists every context; its priority lines are counted per
    context and must add up to the total Asterisk prints at the end. If they do not
    (a format this parser does not know), each context is asked for on its own.
    """
    output = asterisk.cli("dialplan show")
    counts: dict[str, int] = {}
    context = None
    for line in output.splitlines():
        if header := _CONTEXT.match(line):
            context = header.group(1)
            counts[context] = 0
        elif context is not None and _PRIORITY.match(line):
            counts[context] += 1
    total = _COUNTS.search(output)
    if total and int(total.group(2)) == sum(counts.values()):
        return {name: counts[name] for name in names if name in counts}
    found = {name: _priorities(asterisk.cli(f"dialplan show {name}")) for name in names}
    return {name: count for name, count in found.items() if count is not None}


def _priorities(output: str) -> int | None:
    """The priority count of a ``dialplan show <context>`` answer; None if no such context."""
    found = _COUNTS.search(output)
    return int(found.group(2)) if found and int(found.group(3)) > 0 else None


@dataclass(frozen=True)
class _Outcome:
    problems: list[str]
    reload_seconds: float
    verify_seconds: float


def _reload_and_verify(
    asterisk: AsteriskControl,
    expected: Manifest | None,
    gone: Sequence[str],
    log_reader: ProblemLog | None,
) -> _Outcome:
    """Reload, then verify; a failing CLI command is a problem like any other."""
    started = time.monotonic()
    mark = log_reader.log_mark() if log_reader else 0
    problems: list[str] = []
    try:
        for command in RELOAD_COMMANDS:
            asterisk.cli(command)
    except (OSError, RuntimeError) as exc:
        problems.append(f"reload failed: {exc}")
    reloaded = time.monotonic()
    if not problems:
        try:
            problems += verify(asterisk, expected, gone=gone)
        except (OSError, RuntimeError) as exc:
            problems.append(f"verify failed: {exc}")
        if log_reader:
            logged = log_reader.problems_since(mark)
            problems += [
                f"Asterisk logged: {line}"
                for line in logged
                if not _NOT_A_CONFIG_PROBLEM.search(line)
            ]
    return _Outcome(problems, reloaded - started, time.monotonic() - reloaded)


# --------------------------------------------------------------------------- deploy, rollback, diff


@dataclass(frozen=True)
class DeployResult:
    """What a deploy or rollback did and how long Asterisk took to take it."""

    site: str
    version: str
    previous: str | None
    files: dict[str, Path]
    seconds: float
    reload_seconds: float
    verify_seconds: float
    changed: bool = True  # False: the site was already current (nothing written or reloaded)
    rolled_back: bool = False  # True: this result comes from rollback()


class DeployRefused(DeployError):
    """The site has validation errors; nothing was written. ``diagnostics`` lists them."""

    def __init__(self, site: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        lines = "\n".join(f"  {d}" for d in self.diagnostics)
        super().__init__(f"deploy of site {site!r} refused, nothing was changed:\n{lines}")


def deploy(
    site: Site,
    etc_dir: Path,
    *,
    asterisk: AsteriskControl,
    keep: int = 5,
    log_reader: ProblemLog | None = None,
) -> DeployResult:
    """Compile ``site``, install it as a new version, reload Asterisk and verify it took.

    A site with validation errors raises :class:`DeployRefused` before anything is
    written. If Asterisk does not report what was compiled, the version that ran before
    is restored and reloaded, and :class:`DeployError` says what failed::

        deploy(site, sandbox.etc_dir, asterisk=CliControl(sandbox.asterisk_command()))
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    started = time.monotonic()
    try:
        compiled = compile_site(site)
    except ValidationError as exc:
        raise DeployRefused(site.name, exc.diagnostics) from exc
    tree = SiteTree(Path(etc_dir), compiled.site)
    with _locked(tree):
        before = tree.current()
        old = tree.manifest(before) if before else None
        if old and old.hash == content_hash(compiled.files):
            return _confirm(tree, old, asterisk, log_reader, started)

        new = tree.add(compiled, previous=before)
        tree.switch(new.version)
        ensure_includes(tree.etc_dir, tree.site)
        dropped = sorted(set(old.contexts) - set(new.contexts)) if old else []
        outcome = _reload_and_verify(asterisk, new, dropped, log_reader)
        if outcome.problems:
            _restore(tree, old, new, asterisk, log_reader, outcome.problems)
        tree.prune(keep)
        return DeployResult(
            site=tree.site,
            version=new.version,
            previous=before,
            files=tree.files(new.version),
            seconds=time.monotonic() - started,
            reload_seconds=outcome.reload_seconds,
            verify_seconds=outcome.verify_seconds,
        )


def _confirm(
    tree: SiteTree,
    current: Manifest,
    asterisk: AsteriskControl,
    log_reader: ProblemLog | None,
    started: float,
) -> DeployResult:
    """The site is already current: write nothing, only check that Asterisk runs it."""
    reload_seconds = 0.0
    if ensure_includes(tree.etc_dir, tree.site):  # someone removed an include line
        outcome = _reload_and_verify(asterisk, current, (), log_reader)
        problems, reload_seconds, verify_seconds = (
            outcome.problems,
            outcome.reload_seconds,
            outcome.verify_seconds,
        )
    else:
        verify_started = time.monotonic()
        problems = verify(asterisk, current)
        verify_seconds = time.monotonic() - verify_started
    if problems:
        raise DeployError(
            f"site {tree.site!r}: version {current.version} is already current but Asterisk "
            f"does not run it as compiled:\n" + _bullets(problems)
        )
    return DeployResult(
        site=tree.site,
        version=current.version,
        previous=current.previous,
        files=tree.files(current.version),
        seconds=time.monotonic() - started,
        reload_seconds=reload_seconds,
        verify_seconds=verify_seconds,
        changed=False,
    )


def _restore(
    tree: SiteTree,
    old: Manifest | None,
    new: Manifest,
    asterisk: AsteriskControl,
    log_reader: ProblemLog | None,
    problems: list[str],
) -> None:
    """Put back what ran before ``new`` (or nothing, for a first deploy), then raise."""
    tree.switch(old.version if old else None)
    if old is None:
        ensure_includes(tree.etc_dir, tree.site, present=False)
    kept = tree.set_aside(new.version)
    dropped = sorted(set(new.contexts) - set(old.contexts if old else ()))
    again = _reload_and_verify(asterisk, old, dropped, log_reader)
    went_back = f"version {old.version}" if old else "no version (the include lines are removed)"
    message = (
        f"deploy of site {tree.site!r} as {new.version} failed verification:\n"
        f"{_bullets(problems)}\nrolled back to {went_back}; the rejected files are in {kept}"
    )
    if again.problems:
        message += "\nTHE ROLLBACK FAILED VERIFICATION TOO:\n" + _bullets(again.problems)
    raise DeployError(message)


def rollback(
    site_name: str,
    etc_dir: Path,
    *,
    asterisk: AsteriskControl,
    log_reader: ProblemLog | None = None,
) -> DeployResult:
    """Go back to the version that was current before the current one; reload and verify.

    Rolling back twice goes back two deploys. If the older version does not verify,
    the current one is restored and :class:`DeployError` is raised::

        rollback("star_motors", Path("/etc/asterisk"), asterisk=CliControl())
    """
    started = time.monotonic()
    tree = SiteTree(Path(etc_dir), site_name)
    with _locked(tree):
        current = tree.current()
        if current is None:
            raise DeployError(
                f"site {site_name!r} is not deployed in {etc_dir}: nothing to roll back"
            )
        now = tree.manifest(current)
        if now.previous is None or not tree.path(now.previous).is_dir():
            raise DeployError(
                f"site {site_name!r}: version {current} has no previous version to roll back to"
            )
        target = tree.manifest(now.previous)
        tree.switch(target.version)
        ensure_includes(tree.etc_dir, tree.site)
        dropped = sorted(set(now.contexts) - set(target.contexts))
        outcome = _reload_and_verify(asterisk, target, dropped, log_reader)
        if outcome.problems:
            tree.switch(current)
            back = _reload_and_verify(
                asterisk, now, sorted(set(target.contexts) - set(now.contexts)), log_reader
            )
            message = (
                f"rollback of site {site_name!r} to {target.version} failed verification:\n"
                f"{_bullets(outcome.problems)}\n{current} is current again"
            )
            if back.problems:
                message += "\nBUT IT DOES NOT VERIFY EITHER:\n" + _bullets(back.problems)
            raise DeployError(message)
        return DeployResult(
            site=site_name,
            version=target.version,
            previous=current,
            files=tree.files(target.version),
            seconds=time.monotonic() - started,
            reload_seconds=outcome.reload_seconds,
            verify_seconds=outcome.verify_seconds,
            rolled_back=True,
        )


def diff(site: Site, etc_dir: Path) -> str:
    """A unified diff, file by file, from what is deployed to what :func:`deploy` would
    write; empty when they are identical::

        print(diff(site, Path("/etc/asterisk")) or "up to date")
    """
    try:
        compiled = compile_site(site)
    except ValidationError as exc:
        raise DeployRefused(site.name, exc.diagnostics) from exc
    tree = SiteTree(Path(etc_dir), compiled.site)
    current = tree.current()
    chunks: list[str] = []
    for name in FILES:
        deployed = tree.files(current)[name] if current else None
        old = deployed.read_text() if deployed and deployed.exists() else ""
        where = f"callflow/{compiled.site}/current/{name}"
        chunks += difflib.unified_diff(
            old.splitlines(keepends=True),
            compiled.files[name].splitlines(keepends=True),
            fromfile=f"a/{where} ({current or 'not deployed'})",
            tofile=f"b/{where} (compiled)",
        )
    return "".join(chunks)


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _locked(tree: SiteTree) -> Iterator[None]:
    """One deploy at a time per etc dir: they share the main config files."""
    lock = tree.etc_dir / "callflow" / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"  - {line}" for line in lines)
