"""Outbound campaigns: after-sales follow-ups, satisfaction surveys, recorded messages.

Declared with the site so they are validated with it; running them is the dialer's job::

    Campaign("service_followup", kind="followup", audience=Audience(tags=("serviced",)),
             window=CallingWindow(hours=(Hours("mon-sat", "10:00", "19:00"),)),
             connect_to="customer_care")
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Literal

from callflow.model.limits import Label, Range, Seconds
from callflow.model.prompts import Prompt, PromptLike, as_prompts, as_tuple
from callflow.model.schedule import Hours

CampaignKind = Literal["followup", "survey", "playback"]


@dataclass(frozen=True)
class Audience:
    """Which customers a campaign calls: all conditions must hold (empty = any)."""

    tiers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallingWindow:
    """When customers may be called, in *their* time zone (falling back to ``timezone``)."""

    hours: tuple[Hours, ...]
    timezone: str | None = None


@dataclass(frozen=True)
class SurveyQuestion:
    """One survey question: a prompt and the digits that are valid answers."""

    id: str
    prompt: Prompt | str
    answers: str = "12345"
    timeout: Seconds = 6


@dataclass(frozen=True, kw_only=True)
class Campaign:
    """An outbound campaign.

    - ``followup``: call the customer and connect them to ``connect_to`` (a group or queue).
    - ``survey``: ask ``questions``; answers are stored with the call record.
    - ``playback``: play ``message`` (e.g. a consultant's own recording, DOMAIN.md §4).
    """

    id: str
    kind: CampaignKind
    audience: Audience = field(default_factory=Audience)
    window: CallingWindow | None = None
    message: tuple[Prompt, ...] | PromptLike | None = None
    questions: tuple[SurveyQuestion, ...] = ()
    connect_to: str | None = None
    caller_id: str | None = None
    max_attempts: Annotated[int, Range(1, 20, integer=True)] = 3
    retry_after_minutes: Annotated[int, Range(1, 10080, integer=True)] = 60
    concurrency: Annotated[int, Range(1, 1000, integer=True)] = 2
    label: Label = ""
    # Compliance (callflow.outbound.compliance, docs/outbound.md): public holidays of
    # ``country`` (ISO 3166 code, via the holidays package) and the site's own
    # ``holidays`` are not called; ``workdays`` are make-up working days (called with
    # Monday's hours); caps per number over all campaigns: attempts per callee-local day
    # and per rolling 24 h (None: no cap; max_attempts is the per-campaign cap).
    country: str | None = None
    holidays: tuple[dt.date, ...] = ()
    workdays: tuple[dt.date, ...] = ()
    max_per_day: Annotated[int, Range(1, 100, integer=True)] | None = None
    max_per_24h: Annotated[int, Range(1, 100, integer=True)] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", as_prompts(self.message))
        object.__setattr__(self, "questions", as_tuple(self.questions))
