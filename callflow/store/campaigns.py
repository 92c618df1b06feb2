"""Outbound campaign tables: call lists, attempts, the do-not-call list, dialer state.

Every attempt is a row committed *before* the call exists; its ``live_number`` column
holds the number while the attempt is live and NULL once it ended, and is UNIQUE, so the
database itself allows at most one live attempt per number (NULLs never collide, on
SQLite and PostgreSQL alike)::

    contact = CampaignContact(site="star", campaign="survey", number="+8613800138000")
    attempt = CampaignAttempt(id=uuid4().hex, contact=contact, site="star",
                              campaign="survey", number=contact.number, attempt_no=1,
                              live_number=contact.number, state="reserved")

The rules (who is due, compliance, retries) live in :mod:`callflow.outbound`; these are
the rows only. Timestamps are timezone-aware UTC on both backends (`UtcDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callflow.store.base import Base, Timestamped, utcnow
from callflow.store.customers import Customer

CONTACT_STATUSES = ("pending", "done", "failed", "optout", "dnc")
ATTEMPT_STATES = ("reserved", "dialling", "answered", "ended")
LIVE_STATES = ("reserved", "dialling", "answered")
CAMPAIGN_STATUSES = ("idle", "running", "paused", "stopped", "done")
CONTACT_SOURCES = ("audience", "csv")
DNC_SOURCES = ("manual", "import", "optout")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite keeps no offset (values come back naive), PostgreSQL keeps one; this makes
    both read the same and refuses naive datetimes on the way in, so a local wall time
    can never be stored by mistake.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store times must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CampaignContact(Timestamped, Base):
    """One number on one campaign's call list (a customer's, or a bare number)."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("site", "campaign", "number"),
        CheckConstraint(_in("status", CONTACT_STATUSES), name="status"),
        CheckConstraint(_in("source", CONTACT_SOURCES), name="source"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_campaign_contacts_due", "site", "campaign", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))  # E.164
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(35))
    manager: Mapped[str | None] = mapped_column(String(32))  # account manager's staff id
    timezone: Mapped[str | None] = mapped_column(String(64))  # the customer's stored zone
    source: Mapped[str] = mapped_column(String(16), default="audience")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # NULL: due now
    last_disposition: Mapped[str | None] = mapped_column(String(32))
    # Why the contact was last held back (a compliance verdict), NULL when it was not.
    verdict: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer | None] = relationship()
    attempt_rows: Mapped[list[CampaignAttempt]] = relationship(
        back_populates="contact", order_by="CampaignAttempt.attempt_no", viewonly=True
    )

    def __repr__(self) -> str:
        return (
            f"CampaignContact(id={self.id!r}, campaign={self.campaign!r}, "
            f"number={self.number!r}, status={self.status!r})"
        )


class CampaignAttempt(Base):
    """One dial of one contact; ``id`` is the ARI channelId (``uuid4().hex``)."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (
        CheckConstraint(_in("state", ATTEMPT_STATES), name="state"),
        # live_number is set exactly while the attempt is live.
        CheckConstraint(
            "(state = 'ended' AND live_number IS NULL) OR "
            "(state <> 'ended' AND live_number = number)",
            name="live_number",
        ),
        CheckConstraint("attempt_no >= 1", name="attempt_no"),
        Index("ix_campaign_attempts_number_created_at", "number", "created_at"),
        Index("ix_campaign_attempts_site_campaign_state", "site", "campaign", "state"),
        Index("ix_campaign_attempts_abandoned_number", "abandoned", "number", "ended_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_contacts.id", ondelete="CASCADE"), index=True
    )
    site: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    attempt_no: Mapped[int] = mapped_column(Integer)
    live_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="reserved")
    disposition: Mapped[str | None] = mapped_column(String(32))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    amd_status: Mapped[str | None] = mapped_column(String(32))
    verdict: Mapped[str | None] = mapped_column(Text)  # "ok" or the rules checked, JSON
    # The campaign's retry policy when the attempt was made: finish() needs no campaign.
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    retry_after_minutes: Mapped[int] = mapped_column(Integer, default=60)
    dialer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, server_default=func.now()
    )
    dialled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Agent modes (preview/progressive/predictive): the customer's tier when dialled,
    # the agent it was offered to (preview) and who took it, how long the answered
    # customer waited for that agent, and whether nobody came within the limit.
    tier: Mapped[str | None] = mapped_column(String(32))
    offered_to: Mapped[str | None] = mapped_column(String(32))
    offered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    agent: Mapped[str | None] = mapped_column(String(32))
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    waited_ms: Mapped[int | None] = mapped_column(Integer)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    contact: Mapped[CampaignContact] = relationship(back_populates="attempt_rows")

    def __repr__(self) -> str:
        return (
            f"CampaignAttempt(id={self.id!r}, number={self.number!r}, state={self.state!r}, "
            f"disposition={self.disposition!r})"
        )


class DncNumber(Base):
    """A number that must never be called (by any campaign of any site)."""

    __tablename__ = "dnc_numbers"
    __table_args__ = (CheckConstraint(_in("source", DNC_SOURCES), name="source"),)

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    campaign: Mapped[str | None] = mapped_column(String(64))  # the campaign of an opt-out
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"DncNumber(number={self.number!r}, source={self.source!r})"


class CampaignState(Base):
    """Whether a campaign is running, paused or stopped (set by the CLI, read by dialers)."""

    __tablename__ = "campaign_states"
    __table_args__ = (CheckConstraint(_in("status", CAMPAIGN_STATUSES), name="status"),)

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="idle")
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Dialer(Base):
    """A running dialer process; its heartbeat says it is alive."""

    __tablename__ = "dialers"

    dialer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, server_default=func.now()
    )
    heartbeat_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, server_default=func.now()
    )
    #: what the pacer last decided, JSON (mode, free agents, in flight, dial-ahead level,
    #: answer probability, measured abandon rate): ``campaign status`` shows it
    pacing: Mapped[str | None] = mapped_column(Text)
