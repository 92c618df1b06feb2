"""deploy, rollback and diff, run as a journal: a switch is pending until Asterisk is
verified to run it, and every run first undoes a switch an earlier run left pending.

    deploy(site, Path("/etc/asterisk"), asterisk=CliControl())
    rollback("star_motors", Path("/etc/asterisk"), asterisk=CliControl())
    print(diff(site, Path("/etc/asterisk")) or "up to date")
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from callflow.compiler import FILES, SECRET_FILES, CompiledSite, compile_site, with_secrets
from callflow.compiler.secrets import SecretsError, env_name, load_secrets
from callflow.deploy.control import RELOAD_COMMANDS, AsteriskControl, ProblemLog, reload_lines
from callflow.deploy.prompts import PromptsMissing, missing_prompts, target_sounds
from callflow.deploy.verify import check_etc_dir, foreign_contexts, verify
from callflow.deploy.versions import (
    Journal,
    Manifest,
    Pending,
    SiteTree,
    content_hash,
    ensure_includes,
    marker_context,
    without_marker,
)
from callflow.errors import DeployError, Diagnostic, ValidationError
from callflow.model.site import Site


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
    changed: bool = True  # False: the site was already current (nothing written)
    rolled_back: bool = False  # True: this result comes from rollback()
    #: True on an unchanged deploy: Asterisk did not run the current version, so it was
    #: reloaded (and then verified)
    reloaded: bool = False
    #: files of the version that ran before that had been edited by hand (now replaced)
    edited: tuple[str, ...] = ()
    #: what this run had to do first: an interrupted deploy or rollback it undid
    recovered: str | None = None
    #: prompts="warn": the prompts deployed with no sound file on the target (CF154)
    missing_prompts: tuple[Diagnostic, ...] = ()
    #: why the prompts could not be checked (the target's sounds directory unknown)
    prompts_unchecked: str | None = None


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
    secrets: Mapping[str, str] | None = None,
    secrets_file: Path | None = None,
    prompts: Literal["refuse", "warn"] | None = None,
    sounds: Path | None = None,
) -> DeployResult:
    """Compile ``site``, install it as a new version, reload Asterisk and verify it took.

    A site with validation errors raises :class:`DeployRefused` before anything is
    written, and so does an ``etc_dir`` that is not the running Asterisk's configuration
    directory (:class:`DeployError`). If Asterisk does not report what was compiled, the
    version that ran before is restored and reloaded, and :class:`DeployError` says what
    failed. "Unchanged" is said only after Asterisk is read back running this version.
    The passwords of staff phones and trunks come from ``secrets`` (name -> value) or
    else from the environment and ``secrets_file`` (:mod:`callflow.compiler.secrets`);
    a missing one refuses the deploy before anything is written::

        deploy(site, sandbox.etc_dir, asterisk=CliControl(sandbox.asterisk_command()))

    ``prompts`` checks, before anything is written, that every prompt the site plays has
    a sound file on the target (``sounds``, else the sounds directory the target's
    Asterisk reports: :mod:`callflow.deploy.prompts`): ``"refuse"`` raises
    :class:`~callflow.deploy.prompts.PromptsMissing`, ``"warn"`` deploys and lists them
    in ``result.missing_prompts``; None (the default) does not look.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    started = time.monotonic()
    try:
        compiled = compile_site(site)
    except ValidationError as exc:
        raise DeployRefused(site.name, exc.diagnostics) from exc
    compiled = _with_secrets(compiled, secrets, secrets_file)
    problems, unchecked = _check_prompts(site, asterisk, prompts, sounds)
    result = _install(compiled, etc_dir, asterisk, keep, log_reader, started)
    return dataclasses.replace(result, missing_prompts=problems, prompts_unchecked=unchecked)


def _check_prompts(
    site: Site,
    asterisk: AsteriskControl,
    policy: Literal["refuse", "warn"] | None,
    sounds: Path | None,
) -> tuple[tuple[Diagnostic, ...], str | None]:
    """(missing prompts, why unchecked) for ``deploy(prompts=...)``; refuses by raising."""
    if policy is None:
        return (), None
    if sounds is None:
        sounds, why = target_sounds(asterisk)
        if sounds is None:
            return (), why
    problems = tuple(missing_prompts(site, sounds))
    if problems and policy == "refuse":
        raise PromptsMissing(site.name, sounds, problems)
    return problems, None


def _install(
    compiled: CompiledSite,
    etc_dir: Path,
    asterisk: AsteriskControl,
    keep: int,
    log_reader: ProblemLog | None,
    started: float,
) -> DeployResult:
    etc = check_etc_dir(Path(etc_dir), asterisk)
    tree = SiteTree(etc, compiled.site)
    with _io_errors(tree), tree.locked():
        recovered = _recover(tree, asterisk, log_reader)
        before = tree.current()
        old = tree.manifest(before) if before else None
        edited = tuple(tree.edited(old)) if old else ()
        if old and old.hash == content_hash(compiled.files) and not edited:
            return _confirm(tree, old, asterisk, log_reader, started, recovered)

        ours = [*old.contexts, marker_context(tree.site)] if old else []
        _refuse_foreign(asterisk, tree, [*(c.name for c in compiled.contexts)], ours, "deploy")
        new = tree.add(compiled, previous=before)
        outcome = _switch(tree, Pending("deploy", before, new.version), asterisk, log_reader)
        if outcome.problems:
            went_back = (
                f"version {before}" if before else "no version (the include lines are removed)"
            )
            message = (
                f"deploy of site {tree.site!r} as {new.version} failed verification:\n"
                f"{_bullets(outcome.problems)}\n"
            )
            if outcome.undo_problems:
                raise DeployError(
                    f"{message}GOING BACK TO {went_back} FAILED VERIFICATION TOO:\n"
                    f"{_bullets(outcome.undo_problems)}\nthe journal keeps {new.version} "
                    "pending: the next deploy or rollback goes back first"
                )
            kept = tree.root / "failed" / new.version
            raise DeployError(
                f"{message}rolled back to {went_back}; the rejected files are in {kept}"
            )
        tree.prune(keep)
        return DeployResult(
            site=tree.site,
            version=new.version,
            previous=before,
            files=tree.files(new.version),
            seconds=time.monotonic() - started,
            reload_seconds=outcome.reload_seconds,
            verify_seconds=outcome.verify_seconds,
            edited=edited,
            recovered=recovered,
        )


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
    etc = check_etc_dir(Path(etc_dir), asterisk)
    tree = SiteTree(etc, site_name)
    if not tree.root.is_dir():
        raise DeployError(f"site {site_name!r} is not deployed in {etc}: nothing to roll back")
    with _io_errors(tree), tree.locked():
        recovered = _recover(tree, asterisk, log_reader)
        current = tree.current()
        if current is None:
            raise DeployError(f"site {site_name!r} is not deployed in {etc}: nothing to roll back")
        now = tree.manifest(current)
        if now.previous is None or not tree.path(now.previous).is_dir():
            raise DeployError(
                f"site {site_name!r}: version {current} has no previous version to roll back to"
            )
        target = tree.manifest(now.previous)
        if edited := tree.edited(target):
            raise DeployError(
                f"site {site_name!r}: version {target.version} was edited by hand since it "
                f"was deployed ({', '.join(edited)} in {tree.path(target.version)}); "
                "refusing to roll back to it, nothing was changed"
            )
        ours = [*now.contexts, marker_context(site_name)]
        _refuse_foreign(asterisk, tree, list(target.contexts), ours, "rollback")
        outcome = _switch(tree, Pending("rollback", current, target.version), asterisk, log_reader)
        if outcome.problems:
            message = (
                f"rollback of site {site_name!r} to {target.version} failed verification:\n"
                f"{_bullets(outcome.problems)}\n"
            )
            if outcome.undo_problems:
                raise DeployError(
                    f"{message}GOING BACK TO {current} FAILED VERIFICATION TOO:\n"
                    f"{_bullets(outcome.undo_problems)}\nthe journal keeps the rollback "
                    "pending: the next deploy or rollback goes back first"
                )
            raise DeployError(f"{message}{current} is current again")
        return DeployResult(
            site=site_name,
            version=target.version,
            previous=current,
            files=tree.files(target.version),
            seconds=time.monotonic() - started,
            reload_seconds=outcome.reload_seconds,
            verify_seconds=outcome.verify_seconds,
            rolled_back=True,
            recovered=recovered,
        )


def _with_secrets(
    compiled: CompiledSite, secrets: Mapping[str, str] | None, file: Path | None
) -> CompiledSite:
    """``compiled`` with its pjsip.conf passwords filled in (no placeholder is deployed)."""
    names = compiled.secrets
    if not names:
        return compiled
    try:
        if secrets is not None:
            values = load_secrets(names, environ={env_name(k): v for k, v in secrets.items()})
        else:
            values = load_secrets(names, file=file)
    except SecretsError as exc:
        lines = "\n".join(f"  {line}" for line in str(exc).splitlines())
        raise DeployError(
            f"deploy of site {compiled.site!r} refused, nothing was changed:\n{lines}"
        ) from exc
    return with_secrets(compiled, values)


def _masked(text: str) -> str:
    """A pjsip.conf with its passwords hidden (a diff must not print them)."""
    return re.sub(r"(?m)^password = .*$", "password = (hidden)", text)


def diff(site: Site, etc_dir: Path) -> str:
    """A unified diff, file by file, from the version Asterisk was last verified to run
    to what :func:`deploy` would write; empty when they are identical (hand edits of the
    deployed files show up as differences)::

        print(diff(site, Path("/etc/asterisk")) or "up to date")
    """
    try:
        compiled = compile_site(site)
    except ValidationError as exc:
        raise DeployRefused(site.name, exc.diagnostics) from exc
    tree = SiteTree(Path(etc_dir), compiled.site)
    journal = tree.journal()
    running = journal.verified if journal.exists else tree.current()
    chunks: list[str] = []
    for name in FILES:
        deployed = tree.files(running)[name] if running else None
        try:
            old = deployed.read_text(errors="replace") if deployed else ""
        except FileNotFoundError:
            old = ""
        except OSError as exc:
            raise DeployError(f"cannot read {deployed}: {exc.strerror}") from exc
        old = without_marker(old) if name == "extensions.conf" else old
        new = compiled.files[name]
        if name in SECRET_FILES:
            old, new = _masked(old), _masked(new)
        where = f"callflow/{compiled.site}/current/{name}"
        chunks += difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{where} ({running or 'not deployed'})",
            tofile=f"b/{where} (compiled)",
        )
    return "".join(chunks)


# --------------------------------------------------------------------------- the journal


@dataclass(frozen=True)
class _Outcome:
    problems: list[str]
    reload_seconds: float
    verify_seconds: float
    undo_problems: tuple[str, ...] = ()  # going back after ``problems`` failed too


def _switch(
    tree: SiteTree, pending: Pending, asterisk: AsteriskControl, log_reader: ProblemLog | None
) -> _Outcome:
    """Journal ``pending``, point ``current`` at its target, reload and verify. Verified:
    the journal says so. Not verified, or interrupted by anything (an exception, Ctrl-C,
    SIGTERM): the switch is undone before this returns or raises; if even that is cut
    short, the journal still names it and the next run undoes it."""
    source = tree.manifest(pending.source) if pending.source else None
    target = tree.manifest(pending.target)
    tree.write_journal(Journal(verified=pending.source, pending=pending))
    try:
        ensure_includes(tree.etc_dir, tree.site)
        tree.switch(target.version)
        outcome = _reload_and_verify(tree.site, asterisk, target, source, log_reader)
    except BaseException:
        # if going back fails too, the journal keeps the switch pending for the next run
        with contextlib.suppress(Exception):
            _undo(tree, pending, asterisk, log_reader)
        raise
    if not outcome.problems:
        tree.write_journal(Journal(verified=target.version))
        return outcome
    again = _undo(tree, pending, asterisk, log_reader, raise_on_failure=False)
    return _Outcome(outcome.problems, outcome.reload_seconds, outcome.verify_seconds, tuple(again))


def _undo(
    tree: SiteTree,
    pending: Pending,
    asterisk: AsteriskControl,
    log_reader: ProblemLog | None,
    *,
    raise_on_failure: bool = True,
) -> list[str]:
    """Put back ``pending.source`` (or nothing, for a first deploy) and verify Asterisk
    runs it; only then is the journal cleared. Returns the problems if that fails (the
    switch stays pending), or raises them with ``raise_on_failure``."""
    source = tree.manifest(pending.source) if pending.source else None
    target_dir = tree.path(pending.target)
    target = tree.manifest(pending.target) if target_dir.is_dir() else None
    tree.switch(pending.source)
    if source is None:
        ensure_includes(tree.etc_dir, tree.site, present=False)
    else:
        ensure_includes(tree.etc_dir, tree.site)
    outcome = _reload_and_verify(tree.site, asterisk, source, target, log_reader)
    if outcome.problems:
        if raise_on_failure:
            raise DeployError(
                f"site {tree.site!r}: could not go back to "
                f"{pending.source or 'no version'} after an unfinished {pending.action} to "
                f"{pending.target}:\n{_bullets(outcome.problems)}\n"
                "the journal keeps it pending; run deploy or rollback again once "
                "Asterisk answers"
            )
        return outcome.problems
    tree.write_journal(Journal(verified=pending.source))
    if pending.action == "deploy":
        tree.set_aside(pending.target)
    return []


def _recover(
    tree: SiteTree, asterisk: AsteriskControl, log_reader: ProblemLog | None
) -> str | None:
    """Before anything else: undo a switch an interrupted run left pending, or make sure
    a ``current`` nobody verified runs (or go back to the last verified version)."""
    tree.clean_leftovers()
    journal = tree.journal()
    if journal.pending:
        pending = journal.pending
        _undo(tree, pending, asterisk, log_reader)
        return (
            f"undid an interrupted {pending.action} to {pending.target}; "
            f"back on {pending.source or 'no version'}"
        )
    current = tree.current()
    if current is None or current == journal.verified:
        return None
    manifest = tree.manifest(current)
    if not verify(asterisk, manifest):
        tree.write_journal(Journal(verified=current))
        return None
    if not journal.exists:  # deployed before the journal: reload what is current
        outcome = _reload_and_verify(tree.site, asterisk, manifest, None, log_reader)
        if outcome.problems:
            raise DeployError(
                f"site {tree.site!r}: Asterisk does not run version {current}, which is "
                f"current, even after a reload:\n{_bullets(outcome.problems)}"
            )
        tree.write_journal(Journal(verified=current))
        return f"reloaded version {current}, which Asterisk did not run"
    # moved by hand and not what Asterisk runs: back to the last verified version
    _undo(tree, Pending("rollback", journal.verified, current), asterisk, log_reader)
    return f"current pointed at {current}, which was never verified; back on {journal.verified}"


def _confirm(
    tree: SiteTree,
    current: Manifest,
    asterisk: AsteriskControl,
    log_reader: ProblemLog | None,
    started: float,
    recovered: str | None,
) -> DeployResult:
    """The site is already current: write nothing, read back that Asterisk runs it, and
    reload it if Asterisk does not (someone reloaded other files, or removed an include)."""
    verify_started = time.monotonic()
    includes_changed = ensure_includes(tree.etc_dir, tree.site)
    problems = [] if includes_changed else verify(asterisk, current)
    reload_seconds, verify_seconds = 0.0, time.monotonic() - verify_started
    reloaded = bool(problems or includes_changed)
    if reloaded:
        outcome = _reload_and_verify(tree.site, asterisk, current, None, log_reader)
        problems, reload_seconds, verify_seconds = (
            outcome.problems,
            outcome.reload_seconds,
            outcome.verify_seconds,
        )
    if problems:
        raise DeployError(
            f"site {tree.site!r}: version {current.version} is already current but Asterisk "
            f"does not run it as compiled, even after a reload:\n" + _bullets(problems)
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
        reloaded=reloaded,
        recovered=recovered,
    )


def _reload_and_verify(
    site: str,
    asterisk: AsteriskControl,
    expected: Manifest | None,
    replaced: Manifest | None,
    log_reader: ProblemLog | None,
) -> _Outcome:
    """Reload, then verify ``expected`` (None: the site is gone) and that what only
    ``replaced`` had is gone. Any failure, an exception included, is a problem."""
    started = time.monotonic()
    mark = log_reader.log_mark() if log_reader else 0
    problems: list[str] = []
    try:
        for command in RELOAD_COMMANDS:
            asterisk.cli(command)
    except Exception as exc:
        problems.append(f"reload failed: {exc}")
    reloaded = time.monotonic()
    if not problems:
        kept_contexts = set(expected.contexts) if expected else set()
        kept_queues = set(expected.queues) if expected else set()
        gone = sorted(set(replaced.contexts) - kept_contexts) if replaced else []
        gone_queues = sorted(set(replaced.queues) - kept_queues) if replaced else []
        kept_endpoints = set(expected.endpoints) if expected else set()
        gone_endpoints = sorted(set(replaced.endpoints) - kept_endpoints) if replaced else []
        try:
            problems += verify(
                asterisk,
                expected,
                gone=gone,
                gone_queues=gone_queues,
                gone_endpoints=gone_endpoints,
                site=site,
            )
        except Exception as exc:
            problems.append(f"verify failed: {exc}")
        if log_reader:
            try:
                logged = reload_lines(log_reader.problems_since(mark), site)
            except Exception as exc:
                logged = [f"reading the log failed: {exc}"]
            problems += [f"Asterisk logged: {line}" for line in logged]
    return _Outcome(problems, reloaded - started, time.monotonic() - reloaded)


def _refuse_foreign(
    asterisk: AsteriskControl, tree: SiteTree, wanted: list[str], ours: list[str], action: str
) -> None:
    """Refuse, before writing, a version whose contexts exist in Asterisk outside the site."""
    try:
        foreign = foreign_contexts(asterisk, [*wanted, marker_context(tree.site)], ours)
    except DeployError as exc:
        raise DeployError(f"{action} of site {tree.site!r}: {exc}; nothing was changed") from exc
    if foreign:
        raise DeployError(
            f"{action} of site {tree.site!r} refused, nothing was changed: Asterisk already "
            f"runs context(s) {', '.join(foreign)} from outside this site's files (the PBX's "
            "own dialplan or another site); the two would merge. Rename one of them."
        )


class _io_errors:
    """Turn a failing write in the config dir (read-only, full, permissions) into one
    clear :class:`DeployError` naming the directory."""

    def __init__(self, tree: SiteTree) -> None:
        self.tree = tree

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OSError):
            where = exc.filename or self.tree.root
            raise DeployError(
                f"site {self.tree.site!r}: cannot write in {where}: "
                f"{exc.strerror or exc}; check that the directory is writable and has space"
            ) from exc


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"  - {line}" for line in lines)
