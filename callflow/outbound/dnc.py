"""The do-not-call list: numbers no campaign of any site may dial.

Read again at every claim, so a number added mid-campaign (by hand, an import or a
callee's opt-out digit) is never dialled again::

    add(session, "+8613800138000", source="optout", campaign="survey")
    remove(session, "+8613800138000")      # True if it was listed
    entries(session)                       # [DncNumber(...), ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.store.base import utcnow
from callflow.store.campaigns import DNC_SOURCES, DncNumber
from callflow.store.csv_import import RowError, csv_rows
from callflow.store.errors import InvalidValue
from callflow.store.phones import normalize_phone

DNC_COLUMNS = ("phone", "reason")
REASON_MAX = 200


@dataclass
class DncReport:
    """What a DNC import did."""

    path: str
    added: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def messages(self) -> list[str]:
        name = Path(self.path).name
        return [f"{name}:{e.line}: {e.reason}" for e in self.errors]

    def __str__(self) -> str:
        return f"{Path(self.path).name}: {self.added} added, {self.unchanged} already listed" + (
            f", {len(self.errors)} rows rejected" if self.errors else ""
        )


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    # one line, and no control characters (an escape sequence would reach a terminal)
    text = " ".join("".join(c for c in reason if c.isprintable() or c.isspace()).split())
    if len(text) > REASON_MAX:
        raise InvalidValue(f"reason is longer than {REASON_MAX} characters")
    return text or None


def add(
    session: Session,
    number: str,
    *,
    source: str = "manual",
    campaign: str | None = None,
    reason: str | None = None,
    region: str = "CN",
) -> bool:
    """Put *number* (any form `normalize_phone` reads) on the list; False if it already
    was. Raises `InvalidValue` for a number or source that is not valid."""
    if source not in DNC_SOURCES:
        raise InvalidValue(f"DNC source {source!r} must be one of {', '.join(DNC_SOURCES)}")
    e164 = normalize_phone(number, region)
    if session.get(DncNumber, e164) is not None:
        return False
    session.add(
        DncNumber(
            number=e164,
            source=source,
            campaign=campaign,
            reason=_reason(reason),
            created_at=utcnow(),
        )
    )
    session.flush()
    return True


def remove(session: Session, number: str, *, region: str = "CN") -> bool:
    """Take *number* off the list; False if it was not on it."""
    row = session.get(DncNumber, normalize_phone(number, region))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def entries(session: Session) -> list[DncNumber]:
    """Every listed number, in E.164 order."""
    return list(session.scalars(select(DncNumber).order_by(DncNumber.number)))


def listed(session: Session, numbers: list[str]) -> set[str]:
    """Which of the E.164 *numbers* are on the list."""
    if not numbers:
        return set()
    found = session.scalars(select(DncNumber.number).where(DncNumber.number.in_(numbers)))
    return set(found)


def import_csv(
    session: Session, path: Path, *, region: str = "CN", encoding: str | None = None
) -> DncReport:
    """Add every number of the CSV *path* (columns ``phone``, optional ``reason``);
    bad rows are reported as ``file:line: reason`` and skipped. The caller commits."""
    report = DncReport(str(path))
    have = set(session.scalars(select(DncNumber.number)))
    now = utcnow()
    for line, cells in csv_rows(path, DNC_COLUMNS, {"phone"}, encoding):
        if "" in cells:
            report.errors.append(RowError(line, cells[""]))
            continue
        try:
            e164 = normalize_phone(cells["phone"].strip(), region)
            reason = _reason(cells.get("reason"))
        except InvalidValue as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        if e164 in have:
            report.unchanged += 1
            continue
        have.add(e164)
        session.add(DncNumber(number=e164, source="import", reason=reason, created_at=now))
        report.added += 1
    session.flush()
    return report
