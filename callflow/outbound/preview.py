"""Preview dialling: a claimed contact is offered to one agent, who accepts it (then it is
dialled) or skips it (then it goes back to the list without using up an attempt).

The offer lives on the attempt row the dialer claimed (``state="reserved"``, so the number
is held): ``offered_to``/``offered_at`` when offered, ``accepted_at``/``agent`` when
accepted. A skipped offer, or one nobody accepted within the campaign's
``preview_seconds``, ends the row with disposition ``skipped`` / ``offer_expired``
(:data:`~callflow.outbound.dispositions.NOT_DIALLED`: not counted as dialled, nor against
a number's caps) and gives the contact its attempt back::

    with Session.begin() as s:
        made = offer(s, claim.attempt_id, "ann", now)
    await ami.send_action(offer_event(made, expires=now + timedelta(seconds=60)))
    ...
    with Session.begin() as s:
        if accept(s, attempt_id, "ann", now):
            ...originate...
    with Session.begin() as s:
        expire(s, now, campaign.preview_seconds, site="acme", campaign="recall")

Agents' tools hear offers as the AMI ``UserEvent`` :data:`~callflow.contract.OFFER_EVENT`
(:func:`offer_event`) and answer with ``callflow campaign accept|skip`` (docs/outbound.md).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.contract import OFFER_EVENT, OFFER_FIELDS
from callflow.outbound.dispositions import OFFER_EXPIRED, SKIPPED
from callflow.store.campaigns import CampaignAttempt, CampaignContact

#: the longest AMI header value an offer sends, in UTF-8 bytes (Asterisk drops a line of
#: more than 1,024 bytes whole; the header's name comes on the same line)
HEADER_BYTES: Final = 512
#: what cannot travel inside an AMI header value: ASCII and C1 control characters and the
#: Unicode line breaks (a CR or LF would end the header and start another)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class PreviewError(RuntimeError):
    """An offer cannot be accepted, skipped or made; the message says which and why."""


@dataclass(frozen=True)
class Offer:
    """A contact offered to ``agent`` (what ``campaign offers`` lists and the event says)."""

    attempt_id: str
    site: str
    campaign: str
    agent: str
    number: str
    name: str | None
    customer_id: int | None
    attempt_no: int
    offered_at: dt.datetime


def header_value(value: str, limit: int = HEADER_BYTES) -> str:
    """``value`` made safe as one AMI header value: control characters and line breaks
    become one space, the ends are trimmed, and it is cut to ``limit`` UTF-8 bytes on a
    character boundary::

        header_value("Li\\r\\nAction: Originate")   # 'Li Action: Originate'
    """
    text = _UNSAFE.sub(" ", value).strip()
    raw = text.encode()
    if len(raw) > limit:
        text = raw[:limit].decode(errors="ignore").rstrip()
    return text


def _row(session: Session, attempt_id: str) -> CampaignAttempt:
    row = session.get(CampaignAttempt, attempt_id, with_for_update=True)
    if row is None:
        raise PreviewError(f"no attempt {attempt_id!r}")
    return row


def _of(row: CampaignAttempt, session: Session) -> Offer:
    contact = session.get(CampaignContact, row.contact_id)
    name = contact.name if contact is not None else None
    if name is None and contact is not None and contact.customer is not None:
        name = contact.customer.name
    assert row.offered_to is not None and row.offered_at is not None
    return Offer(
        attempt_id=row.id,
        site=row.site,
        campaign=row.campaign,
        agent=row.offered_to,
        number=row.number,
        name=name,
        customer_id=contact.customer_id if contact is not None else None,
        attempt_no=row.attempt_no,
        offered_at=row.offered_at,
    )


def _why_closed(row: CampaignAttempt) -> str:
    if row.state == "ended":
        if row.disposition == OFFER_EXPIRED:
            return "its offer expired (nobody accepted it in time)"
        if row.disposition == SKIPPED:
            return f"it was skipped by {row.offered_to}"
        return f"it has ended ({row.disposition})"
    if row.accepted_at is not None:
        return f"it was already accepted by {row.agent}"
    return f"it is {row.state}, past its offer"


def offer(session: Session, attempt_id: str, agent: str, now: dt.datetime) -> Offer:
    """Offer the reserved attempt to ``agent``; offering it again to the same agent
    changes nothing. ``PreviewError`` when it is not a reserved, unaccepted attempt or is
    already offered to someone else."""
    row = _row(session, attempt_id)
    if row.state != "reserved" or row.accepted_at is not None:
        raise PreviewError(f"attempt {attempt_id} cannot be offered: {_why_closed(row)}")
    if row.offered_to not in (None, agent):
        raise PreviewError(f"attempt {attempt_id} is already offered to {row.offered_to}")
    if row.offered_to is None:
        row.offered_to, row.offered_at = agent, now
    return _of(row, session)


def _open_for(row: CampaignAttempt, agent: str, verb: str) -> None:
    if row.offered_to is None:
        raise PreviewError(f"attempt {row.id} was not offered to anyone; nothing to {verb}")
    if row.offered_to != agent:
        raise PreviewError(
            f"attempt {row.id} is offered to {row.offered_to}, not to {agent}; only "
            f"{row.offered_to} can {verb} it"
        )


def accept(
    session: Session,
    attempt_id: str,
    agent: str,
    now: dt.datetime,
    *,
    seconds: float | None = None,
) -> bool:
    """``agent`` takes the offer: the dialer may dial it now. True when accepted now,
    False when ``agent`` had already accepted it; ``PreviewError`` for anyone else, an
    unknown attempt, or an offer skipped, expired (also: older than ``seconds``, when
    given; :func:`expire` then ends it) or ended."""
    row = _row(session, attempt_id)
    _open_for(row, agent, "accept")
    if row.accepted_at is not None and row.agent == agent:
        return False
    if row.state != "reserved" or row.accepted_at is not None:
        raise PreviewError(f"attempt {attempt_id} cannot be accepted: {_why_closed(row)}")
    assert row.offered_at is not None
    if seconds is not None and now > row.offered_at + dt.timedelta(seconds=seconds):
        raise PreviewError(
            f"attempt {attempt_id} cannot be accepted: its offer expired "
            f"(offered {int((now - row.offered_at).total_seconds())} s ago, "
            f"{seconds:g} s allowed)"
        )
    row.accepted_at, row.agent = now, agent
    return True


def skip(session: Session, attempt_id: str, agent: str, now: dt.datetime) -> bool:
    """``agent`` passes on the offer: the attempt ends as ``skipped`` (never dialled) and
    the contact is pending again with the attempt given back. False when it was already
    skipped; ``PreviewError`` for anyone else, an unknown attempt, or one accepted,
    expired or ended."""
    row = _row(session, attempt_id)
    _open_for(row, agent, "skip")
    if row.state == "ended" and row.disposition == SKIPPED:
        return False
    if row.state != "reserved" or row.accepted_at is not None:
        raise PreviewError(f"attempt {attempt_id} cannot be skipped: {_why_closed(row)}")
    _give_back(session, row, SKIPPED, now)
    return True


def expire(
    session: Session,
    now: dt.datetime,
    seconds: float,
    *,
    site: str | None = None,
    campaign: str | None = None,
) -> list[str]:
    """End the open offers older than ``seconds`` (a campaign's ``preview_seconds``) as
    ``offer_expired``, giving their contacts the attempt back; their attempt ids."""
    query = select(CampaignAttempt).where(
        CampaignAttempt.state == "reserved",
        CampaignAttempt.offered_to.is_not(None),
        CampaignAttempt.accepted_at.is_(None),
        CampaignAttempt.offered_at < now - dt.timedelta(seconds=seconds),
    )
    if site is not None:
        query = query.where(CampaignAttempt.site == site)
    if campaign is not None:
        query = query.where(CampaignAttempt.campaign == campaign)
    rows = list(session.scalars(query.order_by(CampaignAttempt.offered_at).with_for_update()))
    for row in rows:
        _give_back(session, row, OFFER_EXPIRED, now)
    return [row.id for row in rows]


def withdraw(session: Session, attempt_id: str, now: dt.datetime) -> bool:
    """End an open offer that can no longer be answered (its dialer stopped or crashed:
    reconcile calls this for a live attempt offered but never accepted, so never dialled)
    as ``offer_expired``, giving its contact the attempt back. False when the attempt is
    not an open offer (accepted ones may have been dialled: reconcile them as calls)."""
    row = _row(session, attempt_id)
    if row.state != "reserved" or row.offered_to is None or row.accepted_at is not None:
        return False
    _give_back(session, row, OFFER_EXPIRED, now)
    return True


def give_back(session: Session, attempt_id: str, now: dt.datetime) -> None:
    """End a claimed attempt that was never offered nor dialled (its agent could not be
    reserved) as ``offer_expired``, giving the contact its attempt back."""
    _give_back(session, _row(session, attempt_id), OFFER_EXPIRED, now)


def _give_back(session: Session, row: CampaignAttempt, disposition: str, now: dt.datetime) -> None:
    """End a never-dialled attempt and return its contact to the list as it was before
    the claim (the attempt it used is given back; its retry time is left alone)."""
    row.state = "ended"
    row.live_number = None
    row.disposition = disposition
    row.ended_at = now
    row.lease_until = None
    contact = session.get(CampaignContact, row.contact_id, with_for_update=True)
    if contact is not None:
        contact.attempts = max(0, contact.attempts - 1)
        contact.updated_at = now
    session.flush()


def open_offers(
    session: Session, site: str, campaign: str, agent: str | None = None
) -> list[Offer]:
    """The offers waiting for an answer (oldest first), of ``agent`` only if given."""
    query = select(CampaignAttempt).where(
        CampaignAttempt.site == site,
        CampaignAttempt.campaign == campaign,
        CampaignAttempt.state == "reserved",
        CampaignAttempt.offered_to.is_not(None),
        CampaignAttempt.accepted_at.is_(None),
    )
    if agent is not None:
        query = query.where(CampaignAttempt.offered_to == agent)
    rows = session.scalars(query.order_by(CampaignAttempt.offered_at, CampaignAttempt.id))
    return [_of(row, session) for row in rows]


def declined_by(session: Session, contact_id: int) -> set[str]:
    """The agents who skipped (or let expire) an offer of this contact: offer it to
    someone else first."""
    rows = session.scalars(
        select(CampaignAttempt.offered_to).where(
            CampaignAttempt.contact_id == contact_id,
            CampaignAttempt.disposition.in_((SKIPPED, OFFER_EXPIRED)),
            CampaignAttempt.offered_to.is_not(None),
        )
    )
    return {agent for agent in rows if agent is not None}


def offer_event(made: Offer, *, expires: dt.datetime | None = None) -> dict[str, str]:
    """The AMI ``UserEvent`` action announcing ``made`` to the agent's tools
    (:data:`~callflow.contract.OFFER_EVENT`, headers :data:`~callflow.contract.OFFER_FIELDS`).
    Every value goes through :func:`header_value`, so a customer name cannot end the
    header or the action, nor add headers of its own."""
    values = (
        made.attempt_id,
        made.site,
        made.campaign,
        made.agent,
        made.number,
        made.name or "",
        made.offered_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        expires.astimezone(dt.UTC).isoformat(timespec="seconds") if expires else "",
    )
    action = {"Action": "UserEvent", "UserEvent": OFFER_EVENT}
    for field, value in zip(OFFER_FIELDS, values, strict=True):
        action[field] = header_value(value)
    return action
