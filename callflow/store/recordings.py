"""Recording files and the call records that link them: listing and retention.

A call's recording is one or more files MixMonitor wrote under Asterisk's monitor
directory, named only from the site, the date and the call's ids
(:data:`callflow.contract.RECORDING_NAME`); the call record's ``recording_file`` holds
their paths relative to that directory, space-separated::

    found = list_recordings(session, Path("/var/spool/asterisk/monitor"), since=None)
    gone = prune(session, Path("/var/spool/asterisk/monitor"), older_than_days=90)

:func:`prune` deletes only regular files whose name is one callflow gives and whose last
write is older than the cut-off, never anything else in the folder (other files, links,
folders), and removes the deleted names from the records that linked them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.contract import RECORDING_NAME
from callflow.store.call_records import CallRecord
from callflow.store.errors import StoreError

#: Asterisk's monitor directory on a Debian/Ubuntu install: where MixMonitor writes
#: relative file names
DEFAULT_MONITOR_DIR = "/var/spool/asterisk/monitor"
DAY_SECONDS = 86400


class RecordingsError(StoreError, ValueError):
    """A recordings command was given something it cannot work with."""


@dataclass(frozen=True)
class RecordingEntry:
    """One recording file: linked by a call record (``linkedid``), on disk or not."""

    file: str  # relative to the monitor directory
    linkedid: str | None
    site: str | None
    started_at: datetime | None
    exists: bool
    size: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "linkedid": self.linkedid,
            "site": self.site,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "exists": self.exists,
            "size": self.size,
        }


def check_dir(root: Path) -> Path:
    """``root`` when it is a directory, else :class:`RecordingsError` saying what it is."""
    if not root.exists():
        raise RecordingsError(f"recordings directory {root} does not exist")
    if not root.is_dir():
        raise RecordingsError(f"recordings directory {root} is not a directory")
    return root


def own_files(root: Path) -> Iterator[Path]:
    """The regular files under ``root`` whose name callflow gives its recordings (links
    are not followed, nor listed)."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if RECORDING_NAME.fullmatch(name) and path.is_file() and not path.is_symlink():
                yield path


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_recordings(
    session: Session, root: Path, since: datetime | None = None
) -> list[RecordingEntry]:
    """Every file the records of calls since ``since`` link (missing ones flagged
    ``exists=False``), then callflow's files on disk that no record links, oldest first."""
    check_dir(root)
    query = select(CallRecord).where(CallRecord.recording_file.is_not(None))
    if since is not None:
        query = query.where(CallRecord.started_at >= since)
    out: list[RecordingEntry] = []
    linked: set[str] = set()
    for record in session.scalars(query.order_by(CallRecord.started_at, CallRecord.id)):
        for name in (record.recording_file or "").split():
            linked.add(Path(name).name)
            path = _inside(root, name)
            found = path is not None and path.is_file()
            out.append(
                RecordingEntry(
                    name,
                    record.linkedid,
                    record.site,
                    _utc(record.started_at),
                    found,
                    path.stat().st_size if found and path is not None else None,
                )
            )
    cutoff = since.timestamp() if since is not None else None
    for path in sorted(own_files(root)):
        if path.name in linked:
            continue
        stat = path.stat()
        if cutoff is not None and stat.st_mtime < cutoff:
            continue
        out.append(
            RecordingEntry(str(path.relative_to(root)), None, None, None, True, stat.st_size)
        )
    return out


def _inside(root: Path, name: str) -> Path | None:
    """``root/name`` when it stays inside ``root`` (a record's name is callflow's own,
    but a store is not a place to trust with paths)."""
    path = (root / name).resolve()
    return path if path.is_relative_to(root.resolve()) else None


def prune(
    session: Session,
    root: Path,
    older_than_days: float,
    *,
    dry_run: bool = False,
    now: float | None = None,
) -> list[Path]:
    """Delete callflow's recordings under ``root`` last written more than
    ``older_than_days`` days ago and unlink them from their records; returns the files
    (that would be) deleted. Nothing else under ``root`` is touched."""
    if older_than_days < 0 or older_than_days != older_than_days:
        raise RecordingsError(f"--older-than {older_than_days}: give a number of days >= 0")
    check_dir(root)
    cutoff = (time.time() if now is None else now) - older_than_days * DAY_SECONDS
    old = sorted(p for p in own_files(root) if p.stat().st_mtime < cutoff)
    if dry_run:
        return old
    for path in old:
        path.unlink()
        _unlink_from_records(session, path.name)
    return old


def _unlink_from_records(session: Session, name: str) -> None:
    query = select(CallRecord).where(CallRecord.recording_file.contains(name, autoescape=True))
    for record in session.scalars(query):
        kept = [f for f in (record.recording_file or "").split() if Path(f).name != name]
        record.recording_file = " ".join(kept) or None
