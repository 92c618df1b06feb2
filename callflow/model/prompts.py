"""Prompts: the recordings a caller hears.

A prompt names a sound file (without extension, relative to Asterisk's sounds directory,
as Playback() wants it). ``text`` is what the recording says: free text, used in
generated comments, diagrams and analysis, never executed.

    >>> Prompt("custom/welcome", text="Welcome to Star Motors", seconds=3.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from callflow.model.limits import PromptText, Range


@dataclass(frozen=True)
class Prompt:
    """A sound file to play, with what it says and (optionally) how long it lasts."""

    file: str
    text: PromptText = ""
    seconds: Annotated[float, Range(0, 3600)] | None = None

    def __str__(self) -> str:
        return self.file


PromptLike = Prompt | str


def as_prompts(
    value: PromptLike | tuple[PromptLike, ...] | list[PromptLike] | None,
) -> tuple[Prompt, ...]:
    """Normalise the ways a user may write prompts into a tuple of :class:`Prompt`.

    Anything else (a number, a dict) is returned as it is, for validation to report; a
    list item that is not a prompt becomes ``Prompt(item)``, whose file validation refuses.
    """
    if value is None:
        return ()
    if isinstance(value, (Prompt, str)):
        value = (value,)
    if not isinstance(value, (list, tuple)):
        return value
    return tuple(p if isinstance(p, Prompt) else Prompt(p) for p in value)


def as_tuple(value: Any) -> Any:
    """A list as a tuple; anything else unchanged (a wrong type is validation's to report,
    not a constructor's to crash on)."""
    return tuple(value) if isinstance(value, list) else value
