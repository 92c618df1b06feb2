"""Every field of a model object checked against its own annotation.

Validation runs this first: a value of the wrong type (``Dial(target=["a"])``,
``timeout="5"``, ``Hours(1, ...)``, a string among the nodes), a number out of its
declared :class:`~callflow.model.limits.Range` (``inf``, ``nan``, ``1e30``, ``-5``), a value
outside a ``Literal`` or free text that breaks a :class:`~callflow.model.limits.Text` rule
becomes one diagnostic with a path and a code, so the checks that follow only ever see
well-typed objects::

    problems = []
    ok = check_value(node, "site.nodes['main']", Node, problems)

One checker is built per annotation and cached, with a companion predicate that only says
"nothing to report"; paths and messages are built only for the values that fail it, so a
large, valid site costs one cheap call per field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import math
import operator
import reprlib
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from callflow.errors import Diagnostic
from callflow.model.limits import Range, Text
from callflow.model.prompts import Prompts

#: A checker appends diagnostics for ``value`` at ``path`` and says whether the value is
#: well typed: a number out of range or a text too long is reported but still well typed,
#: so the checks of its meaning can run on it.
Checker = Callable[[Any, str, list[Diagnostic]], bool]

WRONG_TYPE = "CF132"
CONTROL = "CF133"
NOT_UNICODE = "CF134"
TOO_LONG = "CF135"

#: codes kept for Literal fields that had their own before this checker existed
LITERAL_CODES = {"strategy": "CF129", "attribute": "CF121", "kind": "CF122"}

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def shown(value: object) -> str:
    """A short repr for messages (an 8 KB string is not repeated in full)."""
    return _repr.repr(value)


def check_value(
    value: object, path: str, annotation: object, out: list[Diagnostic], field: str = ""
) -> bool:
    """Check ``value`` against ``annotation``; append problems to ``out``; True if well
    typed (it may still have reported a value out of range)."""
    if _clean(annotation, field)(value):
        return True
    return _checker(annotation, field)(value, path, out)


def check_fields(obj: object, path: str, out: list[Diagnostic]) -> bool:
    """Check every field of the dataclass instance ``obj`` (its own class's annotations)."""
    if _dataclass_clean(type(obj))(obj):  # type: ignore[arg-type]
        return True
    return _dataclass_checker(type(obj))(obj, path, out)  # type: ignore[arg-type]


# -- building checkers ---------------------------------------------------------------------
def _wrong(path: str, expected: str, value: object, code: str = WRONG_TYPE) -> Diagnostic:
    got = "None" if value is None else f"{type(value).__name__} {shown(value)}"
    return Diagnostic(path, code, f"expected {expected}, not {got}")


def _field_hints(cls: type) -> dict[str, Any]:
    """The annotation each field of ``cls`` is checked against: a descriptor-typed field
    (:class:`~callflow.model.prompts.Prompts`) is checked as what it ``accepted``."""
    hints = typing.get_type_hints(cls, include_extras=True)
    for f in dataclasses.fields(cls):
        descriptor = inspect.getattr_static(cls, f.name, None)
        if isinstance(descriptor, Prompts):
            hints[f.name] = descriptor.accepted
    return hints


@cache
def _dataclass_checker(cls: type) -> Checker:
    hints = _field_hints(cls)
    fields = [
        (f.name, _clean(hints[f.name], f.name), _checker(hints[f.name], f.name))
        for f in dataclasses.fields(cls)
    ]

    def check(value: Any, path: str, out: list[Diagnostic]) -> bool:
        ok = True
        for name, clean, checker in fields:
            v = getattr(value, name)
            if not clean(v):
                ok = checker(v, f"{path}.{name}", out) and ok
        return ok

    return check


# -- "nothing to report": the fast path ------------------------------------------------------
Clean = Callable[[Any], bool]


@cache
def _dataclass_clean(cls: type) -> Clean:
    hints = _field_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    tests = [_clean(hints[name], name) for name in names]
    values = operator.attrgetter(*names)

    def clean(value: Any) -> bool:
        got = values(value)
        if len(names) == 1:
            got = (got,)
        for test, v in zip(tests, got, strict=True):  # noqa: SIM110 - a loop is faster here
            if not test(v):
                return False
        return True

    return clean


_SIMPLE = (str, bool, type(None), dt.date)


@cache
def _clean(annotation: Any, field: str) -> Clean:
    """True when checking ``value`` against ``annotation`` would report nothing."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        marks = [m for m in args[1:] if isinstance(m, (Range, Text))]
        if len(marks) == 1 and isinstance(marks[0], Range):
            return _range_clean(marks[0])
        if len(marks) == 1 and args[0] is str:
            return _text_clean(marks[0])  # type: ignore[arg-type]
        inner = _clean(_number_base(*args), field)
        tests = [_range_clean(m) if isinstance(m, Range) else _text_clean(m) for m in marks]

        def annotated(value: Any) -> bool:
            return inner(value) and all(test(value) for test in tests)

        return annotated
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        other = _clean(args[0] if args[1] is type(None) else args[1], field)
        return lambda v: v is None or other(v)
    if origin in (typing.Union, types.UnionType):
        if all(a in _SIMPLE for a in args):
            simple: tuple[type, ...] = args
            if bool in simple:
                return lambda v: isinstance(v, simple)
            return lambda v: isinstance(v, simple) and not isinstance(v, bool)
        alternatives = [(_accepts(a), _clean(a, field)) for a in args]

        def union(value: Any) -> bool:
            for accepts, clean in alternatives:
                if accepts(value):
                    return clean(value)
            return False

        return union
    if origin is typing.Literal:
        return lambda v: isinstance(v, str) and v in args
    if origin in (tuple, list, Sequence):
        item = _clean(args[0], field)
        return lambda v: isinstance(v, (tuple, list)) and all(map(item, v))
    if origin is Mapping or origin is dict:
        key_ok = _accepts(args[0])
        value_ok = _clean(args[1], field)

        if args == (str, str):
            return lambda v: (
                isinstance(v, Mapping)
                and all(type(k) is str and type(x) is str for k, x in v.items())
            )

        def mapping(value: Any) -> bool:
            if not isinstance(value, Mapping):
                return False
            return all(key_ok(k) and value_ok(v) for k, v in value.items())

        return mapping
    if dataclasses.is_dataclass(annotation):
        cls: type = annotation  # type: ignore[assignment]
        exact = _dataclass_clean(cls)
        # the model's classes are final except Node, whose subclasses have more fields
        return lambda v: exact(v) if type(v) is cls else isinstance(v, cls) and _subclass_clean(v)
    return _accepts(annotation)


def _subclass_clean(value: Any) -> bool:
    return _dataclass_clean(type(value))(value)  # type: ignore[arg-type]


def _range_clean(bounds: Range) -> Clean:
    """A number in range (``nan`` and ``inf`` fail the comparison; ``bool`` is not an int
    here, its type is ``bool``)."""
    lo, hi = bounds.lo, bounds.hi
    if bounds.integer:
        return lambda v: type(v) is int and lo <= v <= hi
    return lambda v: (type(v) is float or type(v) is int) and lo <= v <= hi


def _text_clean(rule: Text) -> Clean:
    short = min(rule.max_chars, rule.max_bytes or rule.max_chars)

    def clean(value: Any) -> bool:
        if type(value) is not str:
            return False
        if len(value) <= short and value.isascii() and value.isprintable():
            return True  # the common case: short plain ASCII
        if len(value) > rule.max_chars:
            return False
        size = len(value)
        if not value.isascii():
            try:
                size = len(value.encode("utf-8"))
            except UnicodeEncodeError:
                return False
        if rule.max_bytes is not None and size > rule.max_bytes:
            return False
        return not (rule.single_line and not value.isprintable() and _bad_char(value))

    return clean


def _accepts(annotation: object) -> Callable[[object], bool]:
    """A shallow test: could ``value`` be meant as this alternative of a union?"""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _accepts(_number_base(*typing.get_args(annotation)))
    if annotation is type(None):
        return lambda v: v is None
    if annotation is float:
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if annotation is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        return lambda v: isinstance(v, str) and v in allowed
    if origin in (tuple, list, Sequence):
        return lambda v: isinstance(v, (tuple, list))
    if origin is Mapping or origin is dict:
        return lambda v: isinstance(v, Mapping)
    if isinstance(annotation, type):
        return lambda v: isinstance(v, annotation)
    raise TypeError(f"no checker for annotation {annotation!r}")  # a model bug


def _describe(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        for meta in args[1:]:
            if isinstance(meta, Range):
                return meta.describe()
        return _describe(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_describe(a) for a in args))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list, Sequence):
        return "a list of " + _describe(args[0]).removeprefix("a ").removeprefix("an ")
    if origin is Mapping or origin is dict:
        return f"a dict of {_describe(args[0])} to {_describe(args[1])}"
    names = {
        str: "text",
        int: "an integer",
        float: "a number",
        bool: "True or False",
        type(None): "None",
        dt.date: "a date (datetime.date or 'YYYY-MM-DD')",
    }
    if annotation in names:
        return names[annotation]
    return f"a {getattr(annotation, '__name__', annotation)}"


@cache
def _checker(annotation: Any, field: str) -> Checker:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    expected = _describe(annotation)

    if origin is typing.Annotated:
        return _annotated(args[0], args[1:], field)

    if origin in (typing.Union, types.UnionType):
        alternatives = [(_accepts(a), _checker(a, field)) for a in args]

        def union(value: Any, path: str, out: list[Diagnostic]) -> bool:
            for accepts, checker in alternatives:
                if accepts(value):
                    return checker(value, path, out)
            out.append(_wrong(path, expected, value, _literal_code(args, field)))
            return False

        return union

    if origin is typing.Literal:
        code = _literal_code((annotation,), field)

        def literal(value: Any, path: str, out: list[Diagnostic]) -> bool:
            if isinstance(value, str) and value in args:
                return True
            out.append(_wrong(path, expected, value, code))
            return isinstance(value, str)  # an unknown word, but a word

        return literal

    if origin in (tuple, list, Sequence):
        item = _checker(args[0], field)

        item_clean = _clean(args[0], field)

        def sequence(value: Any, path: str, out: list[Diagnostic]) -> bool:
            if not isinstance(value, (tuple, list)):
                out.append(_wrong(path, expected, value))
                return False
            ok = True
            for i, v in enumerate(value):
                if not item_clean(v):
                    ok = item(v, f"{path}[{i}]", out) and ok
            return ok

        return sequence

    if origin is Mapping or origin is dict:
        key_ok = _accepts(args[0])
        key_expected = _describe(args[0])
        item = _checker(args[1], field)
        item_clean = _clean(args[1], field)

        def mapping(value: Any, path: str, out: list[Diagnostic]) -> bool:
            if not isinstance(value, Mapping):
                out.append(_wrong(path, expected, value))
                return False
            ok = True
            for k, v in value.items():
                if key_ok(k) and item_clean(v):
                    continue
                where = f"{path}[{shown(k)}]"
                if not key_ok(k):
                    out.append(_wrong(where, f"keys that are {key_expected}", k))
                    ok = False
                ok = item(v, where, out) and ok
            return ok

        return mapping

    if dataclasses.is_dataclass(annotation):
        cls: type = annotation  # type: ignore[assignment]

        def instance(value: Any, path: str, out: list[Diagnostic]) -> bool:
            if not isinstance(value, cls):
                out.append(_wrong(path, expected, value))
                return False
            return _dataclass_checker(type(value))(value, path, out)  # type: ignore[arg-type]

        return instance

    accepts = _accepts(annotation)

    def plain(value: Any, path: str, out: list[Diagnostic]) -> bool:
        if accepts(value):
            return True
        out.append(_wrong(path, expected, value))
        return False

    return plain


def _literal_code(args: tuple[Any, ...], field: str) -> str:
    literal = any(typing.get_origin(a) is typing.Literal for a in args)
    return LITERAL_CODES.get(field, WRONG_TYPE) if literal else WRONG_TYPE


def _number_base(base: Any, *metadata: Any) -> Any:
    """An int with a :class:`Range` takes any number at the type level, so that ``inf`` or
    ``2.5`` for a whole number of seconds is reported as a number out of its range."""
    if base is int and any(isinstance(m, Range) for m in metadata):
        return float
    return base


def _annotated(base: Any, metadata: tuple[Any, ...], field: str) -> Checker:
    inner = _checker(_number_base(base, *metadata), field)
    extra: list[Checker] = []
    for meta in metadata:
        if isinstance(meta, Range):
            extra.append(_range(meta, field))
        elif isinstance(meta, Text):
            extra.append(_text(meta, field))

    def annotated(value: Any, path: str, out: list[Diagnostic]) -> bool:
        if not inner(value, path, out):
            return False
        for check in extra:
            check(value, path, out)
        return True

    return annotated


def _range(bounds: Range, field: str) -> Checker:
    def in_range(value: Any, path: str, out: list[Diagnostic]) -> bool:
        whole = isinstance(value, int) or not bounds.integer
        if whole and math.isfinite(value) and bounds.lo <= value <= bounds.hi:
            return True
        out.append(
            Diagnostic(
                path, bounds.code, f"{field} must be {bounds.describe()}, not {shown(value)}"
            )
        )
        return False

    return in_range


#: what ``str.splitlines()`` breaks a line on, beyond the C0/C1 control characters
_LINE_BREAKS = frozenset("\u2028\u2029")


def _bad_char(text: str) -> str | None:
    """The first control character or line separator in ``text``, if any."""
    for ch in text:
        if ch in _LINE_BREAKS or unicodedata.category(ch) == "Cc":
            return ch
    return None


def _text(rule: Text, field: str) -> Checker:
    def text(value: str, path: str, out: list[Diagnostic]) -> bool:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            surrogate = value[exc.start]
            out.append(
                Diagnostic(
                    path,
                    NOT_UNICODE,
                    f"{field} holds a lone surrogate (U+{ord(surrogate):04X}) at character "
                    f"{exc.start}: not Unicode text, cannot be written as UTF-8",
                )
            )
            return False
        if rule.single_line and value.isprintable() is False:
            control = _bad_char(value)
            if control is not None:
                out.append(
                    Diagnostic(
                        path,
                        CONTROL,
                        f"{field} holds a control character or line break (U+{ord(control):04X}) "
                        f"at character {value.index(control)}; it must be one line of text",
                    )
                )
                return False
        if rule.max_bytes is not None and size > rule.max_bytes:
            out.append(
                Diagnostic(
                    path,
                    TOO_LONG,
                    f"{field} is {size} bytes in UTF-8; at most {rule.max_bytes} ({rule.why})",
                )
            )
            return False
        if len(value) > rule.max_chars:
            out.append(
                Diagnostic(
                    path,
                    TOO_LONG,
                    f"{field} is {len(value)} characters; at most {rule.max_chars}",
                )
            )
            return False
        return True

    return text
