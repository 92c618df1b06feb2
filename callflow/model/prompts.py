"""Prompts: the recordings a caller hears.

A prompt names a sound file (without extension, relative to Asterisk's sounds directory,
as Playback() wants it). ``text`` is what the recording says: free text, used in
generated comments, diagrams and analysis, never executed.

    >>> Prompt("custom/welcome", text="Welcome to Star Motors", seconds=3.5)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    """A sound file to play, with what it says and (optionally) how long it lasts."""

    file: str
    text: str = ""
    seconds: float | None = None

    def __str__(self) -> str:
        return self.file


PromptLike = Prompt | str


def as_prompts(
    value: PromptLike | tuple[PromptLike, ...] | list[PromptLike] | None,
) -> tuple[Prompt, ...]:
    """Normalise the ways a user may write prompts into a tuple of :class:`Prompt`."""
    if value is None:
        return ()
    if isinstance(value, (Prompt, str)):
        value = (value,)
    return tuple(p if isinstance(p, Prompt) else Prompt(p) for p in value)
