"""Survey responses: the digits a caller pressed after a call (DOMAIN §4, satisfaction).

r = SurveyResponse(call_record_id=rec.id, campaign="after-service",
                   question="q1-satisfaction", answer="5")
session.add(r)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from callflow.store.base import Base, utcnow
from callflow.store.call_records import CallRecord
from callflow.store.errors import InvalidValue


class SurveyResponse(Base):
    """One answer (DTMF digits) to one survey question, tied to the call it was given on."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_record_id: Mapped[int] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), index=True
    )
    campaign: Mapped[str] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )

    call_record: Mapped[CallRecord] = relationship()

    @validates("answer")
    def _check_answer(self, _key: str, value: str) -> str:
        if not isinstance(value, str) or not value.isascii() or not value.isdigit():
            raise InvalidValue(f"survey answer {value!r} must be DTMF digits 0-9")
        if len(value) > 16:
            raise InvalidValue(f"survey answer {value!r} is longer than 16 digits")
        return value
