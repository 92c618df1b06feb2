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
from callflow.outbound.dispositions import (
    DISPOSITIONS,
    MACHINE_STATUSES,
    NOT_DIALLED,
    contact_status,
)
from callflow.store.campaigns import (
    CAMPAIGN_STATUSES,
    LIVE_STATES,
    CampaignAttempt,
    CampaignContact,
    CampaignState,
    Dialer,
)
from callflow.store.customers import Customer
from callflow.store.engine import begin_write, insert_ignoring_duplicate

#: which customers a claim takes: (True, tiers) only those tiers, (False, tiers) all others
TierFilter = tuple[bool, tuple[str, ...]] | None

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
    #: the customer's tier when claimed (None: not a known customer)
    tier: str | None = None
    verdict: str = ""
    variables: dict[str, str] = field(default_factory=dict)


def _rules(site: Site | Rules, campaign: Campaign | None) -> Rules:
    if isinstance(site, Rules):
        return site
    if campaign is None:
        raise AttemptError("claim needs the Campaign when given a Site")
    return Rules.for_campaign(site, campaign)


def _due(
    site: str,
    campaign: str,
    now: dt.datetime,
    limit: int,
    postgres: bool,
    tiers: TierFilter = None,
) -> Any:
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
    if tiers is not None:
        wanted, named = tiers
        of_tiers = CampaignContact.customer_id.in_(
            select(Customer.id).where(Customer.tier.in_(named))
        )
        query = query.where(
            of_tiers if wanted else or_(CampaignContact.customer_id.is_(None), ~of_tiers)
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
    tiers: TierFilter = None,
) -> list[Claim]:
    """Reserve up to *limit* due contacts for *dialer_id* and commit the attempt rows.

    *tiers* narrows the claim by the customer's tier: ``(True, ("vip",))`` claims only
    customers of those tiers, ``(False, ("vip",))`` everyone else (bare numbers too);
    the agent modes claim protected customers only with an agent reserved for each.

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
        begin_write(session)  # one transaction on SQLite too: _reserve uses a savepoint
        postgres = session.get_bind().dialect.name == "postgresql"
        seen: set[int] = set()
        while len(out) < limit:
            batch = [
                c
                for c in session.scalars(
                    _due(rules.site, rules.campaign, now, (limit - len(out)) * 2, postgres, tiers)
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


def has_due(
    session_factory: sessionmaker[Session],
    rules: Rules,
    now: dt.datetime,
    *,
    tiers: TierFilter = None,
) -> bool:
    """Whether a contact (of *tiers*) is due now (compliance is checked at claim)."""
    with session_factory() as session:
        query = _due(rules.site, rules.campaign, now, 1, False, tiers)
        return session.scalars(query).first() is not None


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
    tier = contact.customer.tier if contact.customer is not None else None
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
        tier=tier,
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
        tier=tier,
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


def mark_connected(
    session: Session, attempt_id: str, *, agent: str | None, waited_ms: int | None, at: dt.datetime
) -> bool:
    """An agent took the answered customer (the campaign context said so: CF_CONNECTED,
    CF_AGENT, CF_WAITED_MS on the customer's channel); False if the attempt ended."""
    row = _attempt(session, attempt_id)
    if row.state == "ended" and row.connected_at is not None:
        return False
    row.agent = agent
    row.waited_ms = waited_ms
    row.connected_at = at
    return True


def mark_abandoned(
    session: Session, attempt_id: str, *, waited_ms: int | None, at: dt.datetime
) -> bool:
    """No agent within the campaign's limit: the customer heard the safe-harbour message
    (CF_ABANDONED); the attempt ends as ``abandoned`` when the channel does."""
    row = _attempt(session, attempt_id)
    if row.connected_at is not None:
        return False
    row.abandoned = True
    row.waited_ms = waited_ms
    return True


def answer_counts(session: Session, site: str, campaign: str) -> tuple[int, int]:
    """``(finished dials, live answers)`` of a campaign: what the predictive pacer's
    answer probability is measured over (a machine answer is not a live one)."""
    of_campaign = and_(
        CampaignAttempt.site == site,
        CampaignAttempt.campaign == campaign,
        CampaignAttempt.state == "ended",
        CampaignAttempt.dialled_at.is_not(None),
    )
    dials = session.scalar(select(func.count()).select_from(CampaignAttempt).where(of_campaign))
    live = session.scalar(
        select(func.count())
        .select_from(CampaignAttempt)
        .where(
            of_campaign,
            CampaignAttempt.answered_at.is_not(None),
            or_(
                CampaignAttempt.amd_status.is_(None),
                CampaignAttempt.amd_status.not_in(tuple(MACHINE_STATUSES)),
            ),
        )
    )
    return int(dials or 0), int(live or 0)


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
    if disposition in NOT_DIALLED:
        raise AttemptError(
            f"{disposition!r} ends an offer that was never dialled: use "
            "callflow.outbound.preview.skip/expire, which give the attempt back"
        )
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
    live attempts, attempts made (preview offers skipped or expired are not: they are
    ``skipped``), open preview offers, answered, and contacts remaining (pending)."""
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
    # preview offers: skipped or expired ones were never dialled (not attempts made);
    # open ones are live but not dialled yet
    skipped = sum(int(dispositions.get(d, 0)) for d in NOT_DIALLED)
    offered = session.scalar(
        select(func.count())
        .select_from(CampaignAttempt)
        .where(
            of_campaign,
            CampaignAttempt.state == "reserved",
            CampaignAttempt.offered_to.is_not(None),
            CampaignAttempt.accepted_at.is_(None),
        )
    )
    connected = session.scalar(
        select(func.count())
        .select_from(CampaignAttempt)
        .where(of_campaign, CampaignAttempt.connected_at.is_not(None))
    )
    return {
        "contacts": sum(statuses.values()),
        "connected": int(connected or 0),
        "statuses": {k: int(v) for k, v in sorted(statuses.items())},
        "dispositions": {str(k): int(v) for k, v in sorted(dispositions.items(), key=str)},
        "attempts": sum(states.values()) - skipped,
        "skipped": skipped,
        "offered": int(offered or 0),
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
            begin_write(session)  # so two starting dialers cannot both pass
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


def heartbeat(
    session: Session, dialer_id: str, at: dt.datetime, *, pacing: str | None = None
) -> None:
    """Say *dialer_id* is alive at *at* (with the pacer's last decision, JSON)."""
    values: dict[str, Any] = {"heartbeat_at": at}
    if pacing is not None:
        values["pacing"] = pacing
    session.execute(
        update(Dialer)
        .where(Dialer.dialer_id == dialer_id)
        .values(**values)
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
        # Two dialers starting the same campaign both find no row: the one whose insert
        # loses the race locks the winner's row instead of failing on the primary key.
        values = {"site": site, "campaign": campaign, "status": status, "updated_at": at}
        insert = insert_ignoring_duplicate(session, CampaignState, values, ["site", "campaign"])
        if session.execute(insert.returning(CampaignState.site)).first() is not None:
            return "idle"
        row = session.get(
            CampaignState, (site, campaign), with_for_update=True, populate_existing=True
        )
        assert row is not None
    previous = row.status
    row.status, row.updated_at = status, at
    return previous
