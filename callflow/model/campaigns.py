"""Outbound campaigns: after-sales follow-ups, satisfaction surveys, recorded messages.

Declared with the site so they are validated with it; running them is the dialer's job::

    Campaign("service_followup", kind="followup", audience=Audience(tags=("serviced",)),
             window=CallingWindow(hours=(Hours("mon-sat", "10:00", "19:00"),)),
             connect_to="customer_care")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from callflow.model.prompts import Prompt, PromptLike, as_prompts
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
    timeout: float = 6


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
    max_attempts: int = 3
    retry_after_minutes: int = 60
    concurrency: int = 2
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", as_prompts(self.message))
        object.__setattr__(self, "questions", tuple(self.questions))
