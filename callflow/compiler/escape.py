"""Putting untrusted text into Asterisk configuration without it ever being executed.

The compiler only writes three kinds of untrusted text (names, labels, prompt texts,
caller-ID prefixes; never caller input):

- :func:`comment`: after a ``;``, where only a line break could escape.
- :func:`base64_literal`: as a dialplan value, ``${BASE64_DECODE(...)}``. The base64
  alphabet has no character Asterisk treats specially, and a function's result is never
  substituted again, so ``${SHELL(...)}`` or ``$[...]`` in the text stays text.
- :func:`conf_arg`: as one comma-separated argument in a config value (a queue member's
  name), escaped the way Asterisk's argument splitter and config parser undo it.

Identifiers, devices, sound files and digits are validated, not escaped (see
:mod:`callflow.validate`).
"""

from __future__ import annotations

import base64
import re

#: Everything that could end or corrupt a config line: the C0 and C1 control characters
#: and DEL, every other character ``str.splitlines()`` breaks on (U+2028, U+2029; U+0085
#: and U+001C-U+001E are C1/C0), and lone surrogates, which are not text at all and cannot
#: be written as UTF-8. Validation refuses these in one-line text (CF133, CF134); the
#: escapers neutralise them anyway, so no text ever splits or breaks a generated line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def comment(text: str) -> str:
    """Text safe after ``;`` on one config line: control characters, line separators and
    lone surrogates shown as ``\\xNN`` / ``\\uNNNN``.

    >>> comment("a\u2028b")
    'a\\\\u2028b'
    """
    return _CONTROL.sub(_shown, text)


def base64_literal(text: str) -> str:
    """A dialplan expression whose value is exactly ``text``.

    >>> base64_literal("VIP: ")
    '${BASE64_DECODE(VklQOiA=)}'
    """
    if not text:
        return ""
    return "${BASE64_DECODE(" + base64.b64encode(text.encode()).decode("ascii") + ")}"


def conf_arg(text: str) -> str:
    """One argument of a comma-separated config value (``member => iface,0,NAME``).

    Asterisk reads such values in two passes: the config parser turns ``\\;`` into ``;``
    (a bare ``;`` starts a comment), then the argument splitter drops a ``\\`` and keeps the
    character after it literally, so ``,`` ``"`` ``(`` ``)`` and ``\\`` are escaped with a
    backslash. Line breaks cannot be represented on one line and become spaces; leading
    and trailing spaces, which Asterisk strips (every byte below 33), are dropped.
    """
    flat = _CONTROL.sub(" ", text).strip(" ")
    out = []
    for ch in flat:
        if ch in '\\",()':
            out.append("\\" + ch)
        elif ch == ";":
            out.append("\\;")
        else:
            out.append(ch)
    return "".join(out)


def unescape_conf_arg(escaped: str) -> str:
    """What Asterisk reads back from :func:`conf_arg` (a model of its two passes, for tests)."""
    text = escaped.replace("\\;", ";")
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if text[i] != '"':
            out.append(text[i])
        i += 1
    return "".join(out)
