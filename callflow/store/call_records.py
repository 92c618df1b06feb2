"""Call records: exactly one row per call, keyed by Asterisk's ``linkedid``.

A record is opened when the call enters the flow and completed when it ends; the row is
what KPI reports read (effective calls ≥ 3 minutes, per-region counts, DOMAIN §6)::

    rec = CallRecord(uniqueid="1712.7", linkedid="1712.7", site="dealer", direction="inbound",
                     caller="+8613800138000", started_at=utcnow())
    session.add(rec)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callflow.store.base import Base, Timestamped, utcnow
from callflow.store.customers import Customer

DIRECTIONS = ("inbound", "outbound")


class CallRecord(Timestamped, Base):
    """What happened on one call: route through the flow, wait, agent, outcome."""

    __tablename__ = "call_records"
    __table_args__ = (
        CheckConstraint("direction IN ('inbound', 'outbound')", name="direction"),
        CheckConstraint("wait_seconds >= 0", name="wait_seconds"),
        CheckConstraint("talk_seconds >= 0", name="talk_seconds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    site: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    # E.164 when the number could be parsed, otherwise what Asterisk sent, verbatim.
    caller: Mapped[str | None] = mapped_column(String(80))
    dialled: Mapped[str | None] = mapped_column(String(80))
    entry: Mapped[str | None] = mapped_column(String(64))
    node_trace: Mapped[str] = mapped_column(Text, default="")  # node ids, space-separated
    destination: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(64), index=True)
    priority: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    tier: Mapped[str | None] = mapped_column(String(32))  # the tier when the call came in
    path: Mapped[str | None] = mapped_column(String(32))  # manager | queue | manager-then-queue
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(32), index=True)  # staff id, not a FK
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(String(16))  # ANSWERED, NO ANSWER, BUSY...
    recording_file: Mapped[str | None] = mapped_column(String(255))

    customer: Mapped[Customer | None] = relationship()

    def __repr__(self) -> str:
        return f"CallRecord(linkedid={self.linkedid!r}, disposition={self.disposition!r})"
