"""The attempts API the dialer drives: claim due contacts, follow each call, finish it.

Every attempt is a row committed **before** the originate, with ``live_number`` set: the
UNIQUE column lets the database, not only this code, refuse a second live attempt for a
number. On PostgreSQL many dialers share a campaign (contacts are claimed with
``FOR UPDATE SKIP LOCKED`` and attempts carry a lease); on SQLite one dialer runs
(`register_dialer` refuses a second)::

    claims = claim(Session, site, campaign, now=now, dialer_id="d1", limit=5,
                   lease_seconds=60)
    for c in claims:
        ...originate with channelId=c.attempt_id...
        with Session.begin() as s: mark_dialling(s, c.attempt_id, at=now)
    with Session.begin() as s: finish(s, attempt_id, disposition="busy", cause=17, at=now)
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import uuid4

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callflow.contract import CF_ATTEMPT
from callflow.model.campaigns import AbandonControl, Campaign
from callflow.model.site import Site
from callflow.outbound.abandon import lockout
from callflow.outbound.compliance import Rules, Verdict, check_contact, launch_problems
from callflow.outbound.dispositions import DISPOSITIONS, contact_status
from callflow.store.campaigns import (
    CAMPAIGN_STATUSES,
    LIVE_STATES,
    CampaignAttempt,
    CampaignContact,
    CampaignState,
    Dialer,
)

#: A dialer whose heartbeat is older than this is considered dead (SQLite registration).
DIALER_STALE = dt.timedelta(seconds=30)


class AttemptError(RuntimeError):
    """The attempts API was asked something it cannot do; the message says why."""


class DialerRefused(AttemptError):
    """Another dialer is live on this SQLite database."""


@dataclass(frozen=True)
class Claim:
    """A contact reserved for one dial: originate with ``channelId=attempt_id``."""

    attempt_id: str
    contact_id: int
    number: str
    attempt_no: int
    caller_id: str | None
    customer_id: int | None = None
    name: str | None = None
    language: str | None = None
    manager: str | None = None
    verdict: str = ""
    variables: dict[str, str] = field(default_factory=dict)


def _rules(site: Site | Rules, campaign: Campaign | None) -> Rules:
    if isinstance(site, Rules):
        return site
    if campaign is None:
        raise AttemptError("claim needs the Campaign when given a Site")
    return Rules.for_campaign(site, campaign)


def _due(site: str, campaign: str, now: dt.datetime, limit: int, postgres: bool) -> Any:
    live = select(CampaignAttempt.id).where(CampaignAttempt.live_number == CampaignContact.number)
    query = (
        select(CampaignContact)
        .where(
            CampaignContact.site == site,
            CampaignContact.campaign == campaign,
            CampaignContact.status == "pending",
            or_(CampaignContact.next_attempt_at.is_(None), CampaignContact.next_attempt_at <= now),
            ~live.exists(),
        )
        .order_by(CampaignContact.next_attempt_at.asc().nulls_first(), CampaignContact.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=CampaignContact)
    return query


def claim(
    session_factory: sessionmaker[Session],
    site: Site | Rules,
    campaign: Campaign | None = None,
    *,
    now: dt.datetime,
    dialer_id: str,
    limit: int,
    lease_seconds: float = 60,
) -> list[Claim]:
    """Reserve up to *limit* due contacts for *dialer_id* and commit the attempt rows.

    Each candidate is checked by every compliance rule at *now* (the do-not-call list
    re-read), and then by the abandon lockout (:func:`callflow.outbound.abandon.lockout`:
    a number whose call by any campaign of the site was abandoned is held for
    ``campaign.abandon.lockout_hours``, the default when only `Rules` are given, verdict
    rule "abandon_lockout"); a blocked one gets its verdict and next time recorded
    instead (or status "dnc"/"failed" when it may never be called). *site* may be the `Site` (with
    *campaign*) or prebuilt `Rules`. Raises `AttemptError` when the campaign may not
    launch at all (no caller ID).
    """
    rules = _rules(site, campaign)
    lockout_hours = (campaign.abandon if campaign is not None else AbandonControl()).lockout_hours
    problems = launch_problems(rules)
    if problems:
        raise AttemptError("; ".join(problems))
    if now.tzinfo is None:
        raise AttemptError("claim needs an aware datetime for now")
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    out: list[Claim] = []
    with session_factory() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        seen: set[int] = set()
        while len(out) < limit:
            batch = [
                c
                for c in session.scalars(
                    _due(rules.site, rules.campaign, now, (limit - len(out)) * 2, postgres)
                )
                if c.id not in seen
            ]
            if not batch:
                break
            for contact in batch:
                seen.add(contact.id)
                if len(out) >= limit:
                    break
                verdict = check_contact(session, rules, contact, now)
                if verdict.allowed:
                    held = lockout(session, rules.site, contact.number, lockout_hours, now)
                    verdict = verdict if held is None else replace(held, zones=verdict.zones)
                if not verdict.allowed:
                    _hold(contact, verdict, now)
                    continue
                made = _reserve(session, rules, contact, verdict, now, dialer_id, lease_until)
                if made is not None:
                    out.append(made)
        session.commit()
    return out


def _hold(contact: CampaignContact, verdict: Verdict, now: dt.datetime) -> None:
    contact.verdict = verdict.as_json()
    if verdict.rule == "dnc":
        contact.status = "dnc"
    elif verdict.not_before is None:
        contact.status = "failed"
    else:
        contact.next_attempt_at = verdict.not_before
    contact.updated_at = now


def _reserve(
    session: Session,
    rules: Rules,
    contact: CampaignContact,
    verdict: Verdict,
    now: dt.datetime,
    dialer_id: str,
    lease_until: dt.datetime,
) -> Claim | None:
    attempt_id = uuid4().hex
    attempt_no = contact.attempts + 1
    row = CampaignAttempt(
        id=attempt_id,
        contact_id=contact.id,
        site=rules.site,
        campaign=rules.campaign,
        number=contact.number,
        attempt_no=attempt_no,
        live_number=contact.number,
        state="reserved",
        verdict=verdict.as_json(),
        max_attempts=rules.max_attempts,
        retry_after_minutes=rules.retry_after_minutes,
        dialer_id=dialer_id,
        lease_until=lease_until,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another campaign (or dialer) holds a live attempt for this number right now.
        return None
    contact.attempts = attempt_no
    contact.verdict = None
    contact.updated_at = now
    return Claim(
        attempt_id=attempt_id,
        contact_id=contact.id,
        number=contact.number,
        attempt_no=attempt_no,
        caller_id=rules.caller_id,
        customer_id=contact.customer_id,
        name=contact.name,
        language=contact.language,
        manager=contact.manager,
        verdict=row.verdict or "",
        variables={CF_ATTEMPT: attempt_id},
    )


def _attempt(session: Session, attempt_id: str) -> CampaignAttempt:
    row = session.get(CampaignAttempt, attempt_id, with_for_update=True)
    if row is None:
        raise AttemptError(f"no attempt {attempt_id!r}")
    return row


def mark_dialling(session: Session, attempt_id: str, at: dt.datetime) -> bool:
    """Asterisk accepted the originate; False if the attempt is no longer reserved."""
    row = _attempt(session, attempt_id)
    if row.state != "reserved":
        return False
    row.state = "dialling"
    row.dialled_at = at
    return True


def mark_answered(
    session: Session, attempt_id: str, at: dt.datetime, amd: str | None = None
) -> bool:
    """The callee answered; False if the attempt already ended (or was answered)."""
    row = _attempt(session, attempt_id)
    if row.state not in ("reserved", "dialling"):
        if row.state == "answered" and amd is not None:
            row.amd_status = amd
        return False
    row.state = "answered"
    row.answered_at = at
    row.dialled_at = row.dialled_at or at
    if amd is not None:
        row.amd_status = amd
    return True


def finish(
    session: Session,
    attempt_id: str,
    *,
    disposition: str,
    cause: int | None,
    at: dt.datetime,
    amd: str | None = None,
) -> bool:
    """End the attempt and move its contact on (done / retry later / failed / optout).

    Idempotent: finishing an ended attempt changes nothing and returns False.
    """
    if disposition not in DISPOSITIONS:
        raise AttemptError(f"unknown disposition {disposition!r}; known: {', '.join(DISPOSITIONS)}")
    row = _attempt(session, attempt_id)
    if row.state == "ended":
        return False
    row.state = "ended"
    row.live_number = None
    row.disposition = disposition
    row.hangup_cause = cause
    row.ended_at = at
    row.lease_until = None
    if amd is not None:
        row.amd_status = amd
    contact = session.get(CampaignContact, row.contact_id, with_for_update=True)
    if contact is not None:
        contact.last_disposition = disposition
        contact.updated_at = at
        if contact.status == "pending":
            status = contact_status(disposition, contact.attempts, row.max_attempts)
            contact.status = status
            if status == "pending":
                contact.next_attempt_at = at + dt.timedelta(minutes=row.retry_after_minutes)
    return True


def live(session: Session, site: str, campaign: str | None = None) -> list[CampaignAttempt]:
    """Attempts not yet ended (reserved, dialling, answered), oldest first."""
    query = select(CampaignAttempt).where(
        CampaignAttempt.site == site, CampaignAttempt.state.in_(LIVE_STATES)
    )
    if campaign is not None:
        query = query.where(CampaignAttempt.campaign == campaign)
    return list(session.scalars(query.order_by(CampaignAttempt.created_at, CampaignAttempt.id)))


def renew_lease(session: Session, dialer_id: str, until: dt.datetime) -> int:
    """Extend the lease of every live attempt of *dialer_id*; returns how many were
    renewed. (Call `heartbeat` too, so the dialer row says it is alive.)"""
    result = session.execute(
        update(CampaignAttempt)
        .where(CampaignAttempt.dialer_id == dialer_id, CampaignAttempt.state.in_(LIVE_STATES))
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def expired(session: Session, now: dt.datetime, site: str | None = None) -> list[CampaignAttempt]:
    """Live attempts whose lease passed: their dialer died; reconcile takes them over."""
    query = select(CampaignAttempt).where(
        CampaignAttempt.state.in_(LIVE_STATES),
        or_(CampaignAttempt.lease_until.is_(None), CampaignAttempt.lease_until < now),
    )
    if site is not None:
        query = query.where(CampaignAttempt.site == site)
    return list(session.scalars(query.order_by(CampaignAttempt.created_at)))


def take_over(
    session: Session, attempt_id: str, dialer_id: str, now: dt.datetime, until: dt.datetime
) -> bool:
    """Move an expired live attempt to *dialer_id* (lease until *until*); False if its
    lease is still valid, it ended, or another dialer took it first (atomic)."""
    result = session.execute(
        update(CampaignAttempt)
        .where(
            CampaignAttempt.id == attempt_id,
            CampaignAttempt.state.in_(LIVE_STATES),
            or_(CampaignAttempt.lease_until.is_(None), CampaignAttempt.lease_until < now),
        )
        .values(dialer_id=dialer_id, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def progress(session: Session, site: str, campaign: str) -> dict[str, Any]:
    """Counts for `campaign status`: contacts per status, ended attempts per disposition,
    live attempts, attempts made, answered, and contacts remaining (pending)."""
    statuses = dict(
        session.execute(
            select(CampaignContact.status, func.count())
            .where(CampaignContact.site == site, CampaignContact.campaign == campaign)
            .group_by(CampaignContact.status)
        ).all()
    )
    of_campaign = and_(CampaignAttempt.site == site, CampaignAttempt.campaign == campaign)
    dispositions = dict(
        session.execute(
            select(CampaignAttempt.disposition, func.count())
            .where(of_campaign, CampaignAttempt.state == "ended")
            .group_by(CampaignAttempt.disposition)
        ).all()
    )
    states = Counter(
        dict(
            session.execute(
                select(CampaignAttempt.state, func.count())
                .where(of_campaign)
                .group_by(CampaignAttempt.state)
            ).all()
        )
    )
    answered = session.scalar(
        select(func.count())
        .select_from(CampaignAttempt)
        .where(of_campaign, CampaignAttempt.answered_at.is_not(None))
    )
    return {
        "contacts": sum(statuses.values()),
        "statuses": {k: int(v) for k, v in sorted(statuses.items())},
        "dispositions": {str(k): int(v) for k, v in sorted(dispositions.items(), key=str)},
        "attempts": sum(states.values()),
        "live": sum(states[s] for s in LIVE_STATES),
        "answered": int(answered or 0),
        "remaining": int(statuses.get("pending", 0)),
    }


def register_dialer(
    session_factory: sessionmaker[Session],
    dialer_id: str,
    site: str,
    campaign: str,
    *,
    host: str,
    pid: int,
    now: dt.datetime,
    stale_after: dt.timedelta = DIALER_STALE,
) -> None:
    """Record a starting dialer. On SQLite, refuse (`DialerRefused`) while another dialer
    has a heartbeat younger than *stale_after*: SQLite runs one dialer per database."""
    with session_factory.begin() as session:
        if session.get_bind().dialect.name == "sqlite":
            # Take SQLite's write lock first so two starting dialers cannot both pass.
            session.execute(update(Dialer).where(Dialer.dialer_id == "").values(pid=0))
            other = session.scalars(
                select(Dialer)
                .where(Dialer.dialer_id != dialer_id, Dialer.heartbeat_at > now - stale_after)
                .limit(1)
            ).first()
            if other is not None:
                raise DialerRefused(
                    f"dialer {other.dialer_id!r} (pid {other.pid} on {other.host}) is already "
                    f"dialling campaign {other.campaign!r} of site {other.site!r} on this "
                    "SQLite database; SQLite runs one dialer at a time: stop that one, wait "
                    f"{int(stale_after.total_seconds())} s after it died, or use PostgreSQL "
                    "for several dialers"
                )
        row = session.get(Dialer, dialer_id)
        if row is None:
            row = Dialer(dialer_id=dialer_id, site=site, campaign=campaign, host=host, pid=pid)
            session.add(row)
        row.site, row.campaign, row.host, row.pid = site, campaign, host, pid
        row.started_at = now
        row.heartbeat_at = now


def heartbeat(session: Session, dialer_id: str, at: dt.datetime) -> None:
    """Say *dialer_id* is alive at *at*."""
    session.execute(
        update(Dialer)
        .where(Dialer.dialer_id == dialer_id)
        .values(heartbeat_at=at)
        .execution_options(synchronize_session=False)
    )


def unregister_dialer(session: Session, dialer_id: str) -> None:
    """Remove a dialer that stops cleanly."""
    row = session.get(Dialer, dialer_id)
    if row is not None:
        session.delete(row)


def campaign_status(session: Session, site: str, campaign: str) -> str:
    """The campaign's status ("idle" when it was never started)."""
    row = session.get(CampaignState, (site, campaign), populate_existing=True)
    return row.status if row is not None else "idle"


def set_campaign_status(
    session: Session, site: str, campaign: str, status: str, at: dt.datetime
) -> str:
    """Set the campaign's status; returns the previous one."""
    if status not in CAMPAIGN_STATUSES:
        raise AttemptError(
            f"campaign status {status!r} must be one of {', '.join(CAMPAIGN_STATUSES)}"
        )
    row = session.get(CampaignState, (site, campaign), with_for_update=True)
    if row is None:
        session.add(CampaignState(site=site, campaign=campaign, status=status, updated_at=at))
        session.flush()
        return "idle"
    previous = row.status
    row.status, row.updated_at = status, at
    return previous
