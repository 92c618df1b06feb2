"""Prompts: the recordings a caller hears.

A prompt names a sound file (without extension, relative to Asterisk's sounds directory,
as Playback() wants it). ``text`` is what the recording says: free text, used in
generated comments, diagrams and analysis, never executed.

    >>> Prompt("custom/welcome", text="Welcome to Star Motors", seconds=3.5)
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterable, Iterator, Mapping
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
#: what a user may write for a prompt field: one prompt, several, or (where optional) none
PromptInput = PromptLike | tuple[PromptLike, ...] | list[PromptLike] | None


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


class Prompts:
    """A prompt field of a model class: written as :data:`PromptInput` (``"welcome"``,
    ``Prompt(...)``, a list of them), held as ``tuple[Prompt, ...]``::

        @dataclass(frozen=True, kw_only=True)
        class Play(Node):
            prompts: Prompts = Prompts(required=True)

    A data descriptor (the dataclass "descriptor-typed field"): the generated
    ``__init__`` takes ``__set__``'s type and normalises with :func:`as_prompts`, reads
    get ``tuple[Prompt, ...]`` (mypy sees both), so no reader needs a cast. The value is
    kept in the instance's ``__dict__`` under the field's own name, so ``vars()``,
    ``replace()``, equality and pickling see the normalised tuple.

    ``required``: the field has no default (the constructor demands it; mypy cannot
    tell, since any descriptor reads as a default to it); otherwise it defaults to
    ``default`` (``Prompts(default="vm-goodbye")``), normalised, else ``()``.
    Validation checks the value as :attr:`accepted` (what a user may write), so a
    mistyped value is reported in the user's terms.
    """

    def __init__(self, *, required: bool = False, default: PromptInput = None) -> None:
        self.required = required
        self.default = as_prompts(default)
        self.name = ""
        self.accepted: object = (
            tuple[Prompt, ...] | PromptLike if required else tuple[Prompt, ...] | PromptLike | None
        )

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object | None, owner: type | None = None) -> tuple[Prompt, ...]:
        if obj is None:  # the class's access: the default, or none (a required field)
            if self.required:
                raise AttributeError(f"{self.name} has no default")
            return self.default
        value: tuple[Prompt, ...] = obj.__dict__[self.name]
        return value

    def __set__(self, obj: object, value: PromptInput) -> None:
        obj.__dict__[self.name] = as_prompts(value)


def prompt_fields(obj: object) -> Iterator[tuple[str, tuple[Prompt, ...]]]:
    """``(field name, prompts)`` for every :class:`Prompts` field of a node or campaign,
    in field order: the one way every walk over prompts (validation, lint's sound check,
    the test sandbox's placeholder files) finds them."""
    for name in prompt_field_names(type(obj)):
        yield name, getattr(obj, name)


def prompt_field_names(cls: type) -> tuple[str, ...]:
    """The names of the :class:`Prompts` fields of the dataclass ``cls``."""
    names = _prompt_field_names.get(cls)
    if names is None:
        names = _prompt_field_names[cls] = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if isinstance(inspect.getattr_static(cls, f.name, None), Prompts)
        )
    return names


_prompt_field_names: dict[type, tuple[str, ...]] = {}
