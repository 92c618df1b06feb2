"""Report periods and intervals on the site's local clock, DST-correct.

A report covers ``[start, end)`` (aware instants) cut into local intervals: quarter
hours, hours, days or ISO weeks of the site's zone. The database groups calls by UTC
*buckets* of 15 or 60 minutes (every zone's offset is a whole number of quarter hours,
and of hours for most); each bucket lies wholly inside one local interval, so rolling
buckets up into intervals in Python is exact on days of 23 or 25 hours::

    period = Period.parse("2026-11-01", "2026-11-02", ZoneInfo("America/Chicago"), "hour")
    [period.label(k) for k in period.intervals()][:2]   # 00:00-05:00, 01:00-05:00
    # 2026-11-01 has 25 hours: 01:00 comes twice, once at -05:00 and once at -06:00
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cached_property
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callflow.reports.errors import ReportError

Interval = Literal["15m", "30m", "hour", "day", "week"]
INTERVALS: tuple[str, ...] = get_args(Interval)
_MINUTES = {"15m": 15, "30m": 30, "hour": 60}

#: an interval key: its local start (naive wall time) and UTC offset in seconds; two
#: intervals with the same wall time (the repeated hour in autumn) differ by the offset
IntervalKey = tuple[datetime, int]


def zone(name: str) -> ZoneInfo:
    """The IANA zone *name*, or a :class:`ReportError` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(
            f"unknown time zone {name!r}; use an IANA name like Asia/Shanghai"
        ) from None


def parse_when(text: str, tz: tzinfo, what: str) -> datetime:
    """``YYYY-MM-DD`` (local midnight) or ``YYYY-MM-DDTHH:MM[:SS]`` on *tz*'s clock, or an
    ISO instant with an offset; anything else is a :class:`ReportError` naming *what*."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(
            f"{what} {text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, the zone whose clock cuts it, and the interval length."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    interval: Interval = "hour"

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ReportError(
                f"unknown interval {self.interval!r}; use one of {', '.join(INTERVALS)}"
            )
        if self.end <= self.start:
            raise ReportError(
                f"--until {self.end.isoformat()} is not after --from {self.start.isoformat()}"
            )
        if self.end - self.start > timedelta(days=3700):
            raise ReportError("a report covers at most ten years; narrow --from/--until")

    @classmethod
    def parse(cls, start: str, end: str, tz: ZoneInfo, interval: str = "hour") -> Period:
        """A period from the CLI's ``--from``/``--until`` texts on *tz*'s clock."""
        if interval not in INTERVALS:
            raise ReportError(f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}")
        return cls(
            parse_when(start, tz, "--from"),
            parse_when(end, tz, "--until"),
            tz,
            interval,  # type: ignore[arg-type]
        )

    # -- buckets ---------------------------------------------------------------------------
    @cached_property
    def bucket_seconds(self) -> int:
        """3600 when every UTC offset of the zone within the period is whole hours and the
        interval is at least an hour, else 900 (computed once: each KPI query asks)."""
        if self.interval in ("15m", "30m"):
            return 900
        t = self.start
        while t <= self.end:
            offset = self.tz.utcoffset(t.astimezone(self.tz).replace(tzinfo=None))
            if offset is None or offset.total_seconds() % 3600:
                return 900
            t += timedelta(hours=6)
        return 3600

    def key_of(self, instant: datetime, interval: Interval | None = None) -> IntervalKey:
        """The local interval *instant* (aware) falls into."""
        local = instant.astimezone(self.tz)
        offset = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
        wall = local.replace(tzinfo=None)
        kind = interval or self.interval
        if kind in _MINUTES:
            step = _MINUTES[kind]
            minute = wall.hour * 60 + wall.minute
            minute -= minute % step
            return wall.replace(
                hour=minute // 60, minute=minute % 60, second=0, microsecond=0
            ), offset
        day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
        if kind == "week":
            day -= timedelta(days=day.weekday())
        # a day's key carries no offset: a day spans the DST change
        return day, 0

    def intervals(self, interval: Interval | None = None) -> list[IntervalKey]:
        """Every interval of the period in order, with or without calls."""
        keys: dict[IntervalKey, None] = {}
        t = self.start
        step = timedelta(minutes=15)
        while t < self.end:
            keys.setdefault(self.key_of(t, interval))
            t += step
        return list(keys)

    def label(self, key: IntervalKey, interval: Interval | None = None) -> str:
        """An interval as text: ``2026-11-01`` for days and weeks, else the local start
        with its offset (``2026-11-01T01:00-05:00``)."""
        wall, offset = key
        if (interval or self.interval) in ("day", "week"):
            return wall.date().isoformat()
        sign = "-" if offset < 0 else "+"
        hours, rest = divmod(abs(offset), 3600)
        return f"{wall.isoformat(timespec='minutes')}{sign}{hours:02d}:{rest // 60:02d}"
