"""Call recording: when a call is recorded, what the caller is told, and how it is kept.

A :class:`Recording` policy is set for the whole site (``Site.recording``, off unless
set) and overridden per queue (``Queue.recording``) and per campaign
(``Campaign.recording``)::

    Site(..., recording=Recording(announcement="custom/may-be-recorded"))
    Queue("complaints", members=["care"], recording=Recording(mode="entry", legs="split"))
    Queue("private", members=["hr"], recording=Recording.off())

- ``mode``: ``off``; ``agent`` (the default once a policy is given): from the moment a
  person answers (a queue member, a dialled colleague, a campaign's callee); ``entry``:
  from the moment the call enters the site (or, set on a queue, reaches that queue).
- ``announcement``: played to the caller before recording starts ("this call may be
  recorded"); DOMAIN.md §5 and docs/recording.md say why most sites need one.
- ``format``: ``wav`` (8 kHz 16-bit PCM), ``gsm`` or ``wav49`` (GSM in a WAV container).
- ``legs``: ``mixed`` (one file, both parties) or ``split`` (one file per party).
- ``directory``: where files go, relative to Asterisk's monitor directory
  (``/var/spool/asterisk/monitor``): then ``<site>/<YYYYMMDD>/`` and a name made only of
  the site, the date and the call's Asterisk ids (see
  :func:`callflow.contract.recording_stem`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from callflow.model.prompts import Prompt, Prompts

if TYPE_CHECKING:
    from callflow.model.site import Site

RecordingMode = Literal["off", "agent", "entry"]
RecordingFormat = Literal["wav", "gsm", "wav49"]
RecordingLegs = Literal["mixed", "split"]


@dataclass(frozen=True, kw_only=True)
class Recording:
    """A recording policy (see the module docstring)."""

    mode: RecordingMode = "agent"
    announcement: Prompts = Prompts()
    format: RecordingFormat = "wav"
    legs: RecordingLegs = "mixed"
    directory: str = "callflow"

    @classmethod
    def off(cls) -> Recording:
        """No recording (the site's default; a queue or campaign can say so too)."""
        return cls(mode="off")

    @property
    def on(self) -> bool:
        return self.mode != "off"


def effective(site_policy: Recording, own: Recording | None) -> Recording:
    """The policy a queue or campaign records with: its own when set, else the site's."""
    return own if own is not None else site_policy


def recording_prompts(site: Site) -> Iterator[tuple[str, Prompt]]:
    """Every announcement a site's recording policies play, with its path in the model
    (for the checks that every prompt has a sound file, and the test placeholders)."""
    owners: list[tuple[str, Recording | None]] = [("site.recording", site.recording)]
    owners += [(f"site.nodes[{q.id!r}].recording", q.recording) for q in site.queues()]
    owners += [(f"site.campaigns[{c.id!r}].recording", c.recording) for c in site.campaigns]
    for path, policy in owners:
        if isinstance(policy, Recording) and policy.on:
            for p in policy.announcement:
                if isinstance(p, Prompt):
                    yield f"{path}.announcement", p
