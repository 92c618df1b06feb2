"""Prompts: the recordings a caller hears.

A prompt names a sound file (without extension, relative to Asterisk's sounds directory,
as Playback() wants it). ``text`` is what the recording says: free text, used in
generated comments, diagrams and analysis, never executed.

    >>> Prompt("custom/welcome", text="Welcome to Star Motors", seconds=3.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    if not _is_sequence(value):
        return value  # type: ignore[return-value]  # reported by validation
    return tuple(p if isinstance(p, Prompt) else Prompt(p) for p in value)


def as_tuple(value: Any) -> Any:
    """A list (or any other iterable of items: a generator, a tuple) as a tuple; anything
    else unchanged, a string included, since ``groups=("sales")`` is a mistake to report,
    not a constructor's to split into letters or crash on."""
    return tuple(value) if _is_sequence(value) else value


def _is_sequence(value: object) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))
