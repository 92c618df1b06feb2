"""Weekly opening hours and holidays, as used by time conditions and calling windows.

    >>> Hours("mon-fri", "08:30", "18:00")
    >>> Hours("sat", "09:00", "12:00")

Times are wall-clock times in the time zone of whatever uses them (a time condition or a
campaign's calling window), so a site in Asia/Shanghai and a campaign calling customers
in Europe/Berlin each say what they mean.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScheduleError(ValueError):
    """A day or time in a schedule could not be understood."""


def parse_days(spec: str) -> tuple[int, ...]:
    """``"mon-fri,sun"`` -> ``(1, 2, 3, 4, 5, 7)`` (ISO weekdays, Monday is 1)."""
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ScheduleError(f"unknown day in {spec!r}; use mon, tue, ... sun and ranges")
        a = DAY_NAMES.index(first) + 1
        b = DAY_NAMES.index(last) + 1 if last else a
        if b < a:  # wraps over the weekend: fri-mon
            days.update(range(a, 8))
            days.update(range(1, b + 1))
        else:
            days.update(range(a, b + 1))
    if not days:
        raise ScheduleError(f"no days in {spec!r}")
    return tuple(sorted(days))


def parse_hhmm(value: str) -> int:
    """``"08:30"`` -> ``830``; ``"24:00"`` is allowed as the end of a day."""
    hh, sep, mm = value.partition(":")
    if not sep or not (hh.isdigit() and mm.isdigit()) or len(mm) != 2:
        raise ScheduleError(f"time {value!r} is not HH:MM")
    h, m = int(hh), int(mm)
    if not (0 <= h <= 24 and 0 <= m <= 59) or (h == 24 and m):
        raise ScheduleError(f"time {value!r} is out of range")
    return h * 100 + m


@dataclass(frozen=True)
class Hours:
    """Open from ``start`` to ``end`` (end excluded) on ``days``; ``end`` before ``start``
    means the range runs past midnight into the next day."""

    days: str
    start: str
    end: str

    def ranges(self) -> tuple[tuple[int, int], ...]:
        """The opening as half-open ranges of ``weekday*10000 + HHMM`` keys.

        This integer key is what the compiled dialplan, the simulator and the live
        runtime all compare against, so the three agree by construction.
        """
        start, end = parse_hhmm(self.start), parse_hhmm(self.end)
        out: list[tuple[int, int]] = []
        for day in parse_days(self.days):
            if end > start:
                out.append((day * 10000 + start, day * 10000 + end))
            elif end < start:  # past midnight: split into two ranges
                out.append((day * 10000 + start, day * 10000 + 2400))
                nxt = day % 7 + 1
                if end > 0:
                    out.append((nxt * 10000, nxt * 10000 + end))
            else:
                raise ScheduleError(f"empty opening {self.start}-{self.end}")
        return tuple(out)


def as_date(value: object) -> object:
    """A holiday as a date: ``"2026-10-01"`` and ``datetime`` become ``date``; anything
    else is returned unchanged for validation to report."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value) if len(value) == 10 else value
        except ValueError:
            return value
    return value


def week_key(moment: dt.datetime) -> int:
    """The ``weekday*10000 + HHMM`` key of a local time (see :meth:`Hours.ranges`)."""
    return moment.isoweekday() * 10000 + moment.hour * 100 + moment.minute


def is_open(hours: tuple[Hours, ...], moment: dt.datetime) -> bool:
    """Whether any of ``hours`` covers the local time ``moment``."""
    key = week_key(moment)
    return any(lo <= key < hi for h in hours for lo, hi in h.ranges())
