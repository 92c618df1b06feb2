"""What a field may hold beyond its type, declared next to the field.

Fields carry these markers in ``Annotated`` so that validation checks every field the
same way, from the model's own annotations, instead of one hand-written check each::

    timeout: Annotated[float, Range(0.01, 300)] = 5
    label: Label = ""

The bounds are documented in ``docs/errors.md`` (CF116, CF133-CF135); the byte limits are
Asterisk's own (see :data:`CONFIG_LINE_BYTES` and :class:`Text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

#: The longest line Asterisk's config parser reads (main/config.c reads lines with
#: ``fgets()`` into ``char buf[8192]`` and skips longer ones with "Line N too long"): 8191
#: bytes including the line feed.
CONFIG_LINE_BYTES = 8190

#: Asterisk copies an application's arguments into ``char passdata[EXT_DATA_SIZE]``
#: (8192, main/pbx.c) and cuts what does not fit.
APP_ARGS_BYTES = 8191


@dataclass(frozen=True)
class Range:
    """A number from ``lo`` to ``hi`` (both included); ``integer`` if it must be an int.
    Non-finite numbers (``inf``, ``nan``) never pass. ``code`` is the diagnostic's code."""

    lo: float
    hi: float
    integer: bool = False
    code: str = "CF116"

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        return f"{kind} {self.lo:g}-{self.hi:g}"


@dataclass(frozen=True)
class Text:
    """Free text for people (a label, a name, what a prompt says).

    - ``single_line``: no control characters and nothing ``str.splitlines()`` breaks on
      (the text reaches a channel, an AMI event or a one-line config value).
    - ``max_chars``: a bound in characters (comments have no Asterisk limit of their own
      but share a config line, see :data:`CONFIG_LINE_BYTES`).
    - ``max_bytes``: a bound in UTF-8 bytes, where Asterisk keeps the text in a fixed
      buffer and would cut it in the middle of a character; ``why`` names that buffer.
    """

    max_chars: int
    single_line: bool = True
    max_bytes: int | None = None
    why: str = ""


#: a label: a name for people, shown in generated comments and diagrams
Label = Annotated[str, Text(max_chars=200)]
#: what a prompt says: a transcript, may run over several lines (escaped in comments)
PromptText = Annotated[str, Text(max_chars=1000, single_line=False)]
#: a staff member's name: app_queue keeps a member name in ``char membername[80]``
StaffName = Annotated[
    str,
    Text(max_chars=79, max_bytes=79, why="app_queue keeps 79 bytes of a member name"),
]
#: put in front of the caller's name: Asterisk's caller-ID helpers keep ``char name[80]``
CallerIdPrefix = Annotated[
    str,
    Text(max_chars=79, max_bytes=79, why="Asterisk's caller-ID helpers keep 79 bytes of a name"),
]

Seconds = Annotated[float, Range(0.01, 300)]
RingSeconds = Annotated[int, Range(1, 600, integer=True)]
Priority = Annotated[int, Range(0, 1000, integer=True, code="CF124")]
Penalty = Annotated[int, Range(0, 100, integer=True, code="CF127")]
#: how long a campaign call rings: at least 15 s (US TSR 16 CFR 310.4, Ofcom)
CampaignRingSeconds = Annotated[int, Range(15, 300, integer=True, code="CF151")]
