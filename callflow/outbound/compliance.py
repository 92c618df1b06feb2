"""Compliance as code: may this number be dialled by this campaign at this instant?

Checked when a campaign launches (`launch_problems`) and again for every contact at the
moment it is claimed for dialling (`check_contact`); the verdict is recorded on the
attempt (allowed) or on the contact (blocked, with the next instant it may be called)::

    rules = Rules.for_campaign(site, campaign)
    verdict = check_contact(session, rules, contact, now)
    verdict.allowed, verdict.rule, verdict.not_before

The calling window is read on the **callee's** wall clock: the customer's stored zone,
else every zone phonenumbers gives for the number (all must be inside the window). A
number phonenumbers cannot place (``Etc/Unknown``, e.g. +800 freephone) is judged in the
campaign's own zone (``window.timezone``, else the site's). Local times are compared at
the dial instant (``now.astimezone(zone)``), never built into UTC instants, so DST gaps
and repeated hours need no special case.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package
import phonenumbers
from phonenumbers import timezone as phone_zones
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callflow.model.campaigns import Campaign
from callflow.model.schedule import Hours, as_date, week_key
from callflow.model.site import Site
from callflow.outbound.dispositions import NOT_DIALLED
from callflow.store.campaigns import CampaignAttempt, CampaignContact, DncNumber

UNKNOWN_ZONE = "Etc/Unknown"
#: How far ahead the next opening of a window is searched for.
HORIZON = dt.timedelta(days=21)
#: Largest jump of a wall clock at a DST change (a few zones moved by 2 h historically).
_MAX_SHIFT = dt.timedelta(hours=2)

# Rule names as recorded in verdicts and counted by `campaign check`.
OK = "ok"
CALLER_ID = "caller_id"
DNC = "dnc"
WINDOW = "window"
HOLIDAY = "holiday"
CAP_CAMPAIGN = "cap_campaign"
CAP_DAY = "cap_day"
CAP_24H = "cap_24h"
RULES = (CALLER_ID, DNC, CAP_CAMPAIGN, HOLIDAY, WINDOW, CAP_DAY, CAP_24H)


class ComplianceError(ValueError):
    """A campaign cannot be checked or launched as declared; the message says why."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one contact at one instant.

    ``rule`` is "ok" when allowed, else the first rule that blocked; ``not_before`` is the
    earliest instant the contact may be tried again (None: never, e.g. on the DNC list);
    ``zones`` the callee zones the window was read in.
    """

    allowed: bool
    rule: str
    reason: str
    not_before: dt.datetime | None = None
    zones: tuple[str, ...] = ()

    def as_json(self) -> str:
        """The verdict as stored on an attempt or a contact."""
        data: dict[str, Any] = {"rule": self.rule, "reason": self.reason, "zones": self.zones}
        if self.not_before is not None:
            data["not_before"] = self.not_before.astimezone(dt.UTC).isoformat()
        return json.dumps(data, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Rules:
    """What the compliance checks need from a site and one of its campaigns."""

    site: str
    campaign: str
    caller_id: str | None
    hours: tuple[Hours, ...] | None  # None: no calling window declared
    home_zone: str  # the campaign's/site's zone: decides for numbers with no known zone
    country: str | None
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    max_attempts: int = 3
    retry_after_minutes: int = 60
    max_per_day: int | None = None
    max_per_24h: int | None = None
    region: str = "CN"  # how numbers without a country prefix are read
    _calendar: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)
    _opens: dict[Any, dt.datetime | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_campaign(cls, site: Site, campaign: Campaign, region: str | None = None) -> Rules:
        """Rules of *campaign* on *site*; raises `ComplianceError` for an unusable country
        or zone."""
        window = campaign.window
        home = (window.timezone if window else None) or site.timezone
        if not _zone_ok(home):
            raise ComplianceError(f"campaign {campaign.id!r}: unknown time zone {home!r}")
        country = campaign.country.upper() if campaign.country else None
        if country is not None and country not in holidays_package.list_supported_countries():
            raise ComplianceError(
                f"campaign {campaign.id!r}: country {campaign.country!r} is not an ISO 3166 "
                "code the holidays package knows (e.g. CN, US, GB)"
            )
        return cls(
            site=site.name,
            campaign=campaign.id,
            caller_id=campaign.caller_id,
            hours=window.hours if window else None,
            home_zone=home,
            country=country,
            holidays=frozenset(_dates(campaign.holidays)),
            workdays=frozenset(_dates(campaign.workdays)),
            max_attempts=campaign.max_attempts,
            retry_after_minutes=campaign.retry_after_minutes,
            max_per_day=campaign.max_per_day,
            max_per_24h=campaign.max_per_24h,
            region=region or country or "CN",
        )

    # -- calendar -------------------------------------------------------------------
    def _country_calendar(self, year: int) -> Any:
        if self.country is None:
            return None
        if year not in self._calendar:
            self._calendar[year] = holidays_package.country_holidays(self.country, years=year)
        return self._calendar[year]

    def holiday_name(self, day: dt.date) -> str | None:
        """Why *day* is not a calling day (a public or site holiday), or None."""
        if day in self.workdays:
            return None
        if day in self.holidays:
            return "site holiday"
        calendar = self._country_calendar(day.year)
        if calendar is not None and day in calendar:
            return str(calendar.get(day))
        return None

    def is_workday(self, day: dt.date) -> bool:
        """A make-up working day (site-declared, or the package's weekend workdays)."""
        if day in self.workdays:
            return True
        calendar = self._country_calendar(day.year)
        return bool(calendar is not None and day in getattr(calendar, "weekend_workdays", ()))

    def open_at(self, local: dt.datetime) -> bool:
        """Whether the window is open at the local wall time *local* (naive or aware)."""
        if self.holiday_name(local.date()) is not None:
            return False
        if self.hours is None:
            return True
        key = week_key(local)
        if self.is_workday(local.date()):
            key = 10000 + key % 10000  # a make-up working day keeps Monday's hours
        return any(lo <= key < hi for h in self.hours for lo, hi in h.ranges())


def _dates(values: Iterable[object]) -> Iterable[dt.date]:
    for v in values:
        d = as_date(v)
        if isinstance(d, dt.date):
            yield d


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _zone_ok(name: str) -> bool:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=4096)
def number_zones(number: str) -> tuple[str, ...]:
    """The zones phonenumbers gives for the E.164 *number* (``Etc/Unknown`` if none).

    number_zones("+8613800138000")   # ('Asia/Shanghai',)
    number_zones("+80012345678")     # ('Etc/Unknown',)
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return (UNKNOWN_ZONE,)
    zones = tuple(phone_zones.time_zones_for_number(parsed))
    return zones or (UNKNOWN_ZONE,)


def callee_zones(rules: Rules, number: str, stored: str | None) -> tuple[str, ...]:
    """Where the callee may be: the stored zone, else every zone of the number; an
    unplaceable number (``Etc/Unknown``) is read in the campaign's own zone."""
    if stored and _zone_ok(stored):
        return (stored,)
    zones = tuple(
        rules.home_zone if z == UNKNOWN_ZONE or not _zone_ok(z) else z for z in number_zones(number)
    )
    return tuple(dict.fromkeys(zones))


def window_open(rules: Rules, zones: tuple[str, ...], now: dt.datetime) -> bool:
    """Whether every zone's local wall clock at instant *now* is inside the window."""
    return all(rules.open_at(now.astimezone(_zone(z))) for z in zones)


def _wall_distance(rules: Rules, local: dt.datetime) -> dt.timedelta | None:
    """Wall-clock time from *local* (naive) to the next open minute, or None."""
    if rules.open_at(local):
        return dt.timedelta(0)
    probe = local.replace(second=0, microsecond=0)
    end = local + HORIZON
    # Step to the next candidate minute: the next window start of today, else midnight.
    while probe < end:
        probe += dt.timedelta(minutes=1)
        if rules.open_at(probe):
            return probe - local
        if rules.holiday_name(probe.date()) is not None:
            probe = dt.datetime.combine(probe.date() + dt.timedelta(days=1), dt.time()) - (
                dt.timedelta(minutes=1)
            )
            continue
        starts = _starts_after(rules, probe)
        if starts is not None:
            probe = starts - dt.timedelta(minutes=1)
    return None


def _starts_after(rules: Rules, probe: dt.datetime) -> dt.datetime | None:
    """The next local minute after *probe*, same day, where a window range begins; else
    the end of that day."""
    if rules.hours is None:
        return None
    day = 1 if rules.is_workday(probe.date()) else probe.isoweekday()
    minute = probe.hour * 60 + probe.minute
    best = 24 * 60
    for h in rules.hours:
        for lo, _hi in h.ranges():
            if lo // 10000 != day:
                continue
            start = (lo % 10000) // 100 * 60 + lo % 100
            if start > minute:
                best = min(best, start)
    return dt.datetime.combine(probe.date(), dt.time()) + dt.timedelta(minutes=best)


def next_open(rules: Rules, zones: tuple[str, ...], now: dt.datetime) -> dt.datetime | None:
    """The first instant >= *now* (to the minute) when every zone is inside the window,
    or None within `HORIZON`.

    Each candidate is verified on the wall clocks; the jumps between candidates are
    lower bounds (a wall clock moves at most `_MAX_SHIFT` faster than real time at a DST
    change), so no opening is skipped.
    """
    key = (zones, now)
    if key in rules._opens:
        return rules._opens[key]
    found = _next_open(rules, zones, now)
    if len(rules._opens) > 10_000:
        rules._opens.clear()
    rules._opens[key] = found
    return found


def _next_open(rules: Rules, zones: tuple[str, ...], now: dt.datetime) -> dt.datetime | None:
    t = now
    end = now + HORIZON
    while t <= end:
        if window_open(rules, zones, t):
            return t
        step = dt.timedelta(minutes=1)
        for z in zones:
            zone = _zone(z)
            here = t.astimezone(zone)
            distance = _wall_distance(rules, here.replace(tzinfo=None))
            if distance is None:
                return None
            there = (t + distance).astimezone(zone)
            # Without an offset change in between, wall and real time advance together.
            if here.utcoffset() != there.utcoffset():
                distance -= _MAX_SHIFT
            step = max(step, distance)
        t = (t + step).replace(second=0, microsecond=0)
        if t <= now:
            t = now + dt.timedelta(minutes=1)
    return None


def _dialled() -> Any:
    """Attempts that count against a number's caps: not preview offers left undialled."""
    return or_(
        CampaignAttempt.disposition.is_(None), CampaignAttempt.disposition.not_in(NOT_DIALLED)
    )


def _attempt_count(session: Session, number: str, since: dt.datetime) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(CampaignAttempt)
        .where(CampaignAttempt.number == number, CampaignAttempt.created_at > since, _dialled())
    )
    return int(count or 0)


def _oldest_since(session: Session, number: str, since: dt.datetime) -> dt.datetime | None:
    oldest: dt.datetime | None = session.scalar(
        select(func.min(CampaignAttempt.created_at)).where(
            CampaignAttempt.number == number, CampaignAttempt.created_at > since, _dialled()
        )
    )
    return oldest


def is_dnc(session: Session, number: str) -> bool:
    """Whether *number* is on the do-not-call list (read now, not cached)."""
    return session.get(DncNumber, number, populate_existing=True) is not None


def launch_problems(rules: Rules) -> list[str]:
    """Why the campaign may not start at all (empty when it may)."""
    problems = []
    if not rules.caller_id:
        problems.append(
            f"campaign {rules.campaign!r} has no caller_id: a caller ID that can be called "
            "back is required to launch (US TSR, UK Ofcom)"
        )
    return problems


def check_contact(
    session: Session, rules: Rules, contact: CampaignContact, now: dt.datetime
) -> Verdict:
    """Every rule for *contact* at the instant *now* (aware); the first that blocks wins.

    Order: caller ID, do-not-call list (re-read from the database), the per-campaign
    attempt cap, holiday, calling window, per-day and rolling-24 h caps.
    """
    if now.tzinfo is None:
        raise ValueError("check_contact needs an aware datetime")
    zones = callee_zones(rules, contact.number, contact.timezone)
    problems = launch_problems(rules)
    if problems:
        return Verdict(False, CALLER_ID, problems[0], None, zones)
    if is_dnc(session, contact.number):
        return Verdict(False, DNC, f"{contact.number} is on the do-not-call list", None, zones)
    if contact.attempts >= rules.max_attempts:
        return Verdict(
            False,
            CAP_CAMPAIGN,
            f"{contact.attempts} of {rules.max_attempts} attempts made for this campaign",
            None,
            zones,
        )
    if not window_open(rules, zones, now):
        opens = next_open(rules, zones, now)
        holidays_hit = sorted(
            {
                name
                for z in zones
                if (name := rules.holiday_name(now.astimezone(_zone(z)).date())) is not None
            }
        )
        rule = HOLIDAY if holidays_hit else WINDOW
        local = ", ".join(f"{z} {now.astimezone(_zone(z)):%a %H:%M}" for z in zones[:3])
        more = f" (+{len(zones) - 3} more zones)" if len(zones) > 3 else ""
        reason = (
            f"holiday on the callee's date ({'; '.join(holidays_hit)})"
            if holidays_hit
            else f"outside the calling window: {local}{more}"
        )
        if opens is None:
            days = HORIZON.days
            reason += f"; no instant in the next {days} days has every zone inside the window"
        return Verdict(False, rule, reason, opens, zones)
    if rules.max_per_day is not None:
        # The callee's day: from the earliest local midnight of its candidate zones.
        since = min(
            now.astimezone(_zone(z)).replace(hour=0, minute=0, second=0, microsecond=0)
            for z in zones
        )
        done = _attempt_count(session, contact.number, since)
        if done >= rules.max_per_day:
            tomorrow = max(
                dt.datetime.combine(
                    now.astimezone(_zone(z)).date() + dt.timedelta(days=1),
                    dt.time(),
                    tzinfo=_zone(z),
                )
                for z in zones
            )
            opens = next_open(rules, zones, tomorrow.astimezone(dt.UTC))
            return Verdict(
                False, CAP_DAY, f"{done} attempts today (cap {rules.max_per_day})", opens, zones
            )
    if rules.max_per_24h is not None:
        since = now - dt.timedelta(hours=24)
        done = _attempt_count(session, contact.number, since)
        if done >= rules.max_per_24h:
            oldest = _oldest_since(session, contact.number, since) or now
            opens = next_open(rules, zones, oldest + dt.timedelta(hours=24, seconds=1))
            return Verdict(
                False,
                CAP_24H,
                f"{done} attempts in the last 24 h (cap {rules.max_per_24h})",
                opens,
                zones,
            )
    return Verdict(True, OK, "all rules pass", None, zones)


@dataclass(frozen=True)
class PlanRow:
    """One contact in a `plan`: dialled "now", "later" (at ``when``) or "excluded"."""

    number: str
    outcome: str
    when: dt.datetime | None
    rule: str
    reason: str
    zones: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "outcome": self.outcome,
            "when": self.when.astimezone(dt.UTC).isoformat() if self.when else None,
            "rule": self.rule,
            "reason": self.reason,
            "zones": list(self.zones),
        }


@dataclass(frozen=True)
class Plan:
    """What `campaign check` prints: who would be dialled when, who not and why."""

    site: str
    campaign: str
    at: dt.datetime
    home_zone: str
    launch: tuple[str, ...]
    rows: tuple[PlanRow, ...]

    def counts(self) -> dict[str, int]:
        out = {"now": 0, "later": 0, "excluded": 0}
        for row in self.rows:
            out[row.outcome] += 1
        return out

    def reasons(self) -> dict[str, int]:
        """Contacts not dialled now, per rule (or contact status)."""
        out: dict[str, int] = {}
        for row in self.rows:
            if row.outcome != "now":
                out[row.rule] = out.get(row.rule, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "campaign": self.campaign,
            "at": self.at.astimezone(dt.UTC).isoformat(),
            "home_zone": self.home_zone,
            "launch": list(self.launch),
            "counts": self.counts(),
            "reasons": self.reasons(),
            "contacts": [r.as_dict() for r in self.rows],
        }


def plan(session: Session, rules: Rules, at: dt.datetime) -> Plan:
    """Check every contact of the campaign at *at* without writing anything.

    A pending contact whose retry is not due yet is judged at its retry time; a blocked
    one is "later" when a time it may be called is known, else "excluded".
    """
    contacts = session.scalars(
        select(CampaignContact)
        .where(CampaignContact.site == rules.site, CampaignContact.campaign == rules.campaign)
        .order_by(CampaignContact.number)
    )
    rows = []
    for contact in contacts:
        zones = callee_zones(rules, contact.number, contact.timezone)
        if contact.status != "pending":
            rows.append(
                PlanRow(
                    contact.number,
                    "excluded",
                    None,
                    contact.status,
                    f"contact is {contact.status} (last: {contact.last_disposition or '-'})",
                    zones,
                )
            )
            continue
        when = max(at, contact.next_attempt_at or at)
        verdict = check_contact(session, rules, contact, when)
        if verdict.allowed:
            outcome = "now" if when == at else "later"
            reason = "all rules pass" if when == at else "retry scheduled; all rules pass then"
            rows.append(PlanRow(contact.number, outcome, when, OK, reason, zones))
        elif verdict.not_before is not None:
            rows.append(
                PlanRow(
                    contact.number, "later", verdict.not_before, verdict.rule, verdict.reason, zones
                )
            )
        else:
            rows.append(
                PlanRow(contact.number, "excluded", None, verdict.rule, verdict.reason, zones)
            )
    return Plan(
        rules.site,
        rules.campaign,
        at,
        rules.home_zone,
        tuple(launch_problems(rules)),
        tuple(rows),
    )
