"""Phone numbers as the store keeps them: E.164 strings such as ``+8613800138000``.

Numbers arrive from Asterisk in every shape (national ``013800138000``, international
``0086 138 0013 8000``, a SIP URI, ``"Alice" <13800138000>``); both the CSV import and the
caller lookup go through `normalize_phone`, so the same caller always finds the same row::

    normalize_phone("138 0013 8000")            # '+8613800138000'
    normalize_phone("sip:+8613800138000@pbx")   # '+8613800138000'
    normalize_phone("\uff11\uff13\uff18...")       # full-width digits read as 0-9
    normalize_phone("12ab")                     # raises InvalidPhone
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from callflow.store.errors import InvalidPhone

# Separators people and switches put between digits. Anything else (letters, '*', '#')
# means the input is not a dialable public number, e.g. 'anonymous' or an extension code.
_SEPARATORS = re.compile(r"[\s\-.()/\u00a0]+")
_DIGITS = re.compile(r"\+?[0-9]+")
_ANGLE = re.compile(r"<([^<>]*)>")
_MAX_INPUT = 64  # a CallerID field longer than this is junk, not a number


def _strip_transport(raw: str) -> str:
    """Reduce a CallerID/URI form to the part that should hold digits."""
    text = raw.strip()
    match = _ANGLE.search(text)  # '"Alice" <+86138...>' -> '+86138...'
    if match:
        text = match.group(1).strip()
    lowered = text.lower()
    for scheme in ("sips:", "sip:", "tel:"):
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            break
    # 'user@host;params' -> 'user'
    text = text.split("@", 1)[0].split(";", 1)[0]
    return _SEPARATORS.sub("", text)


def normalize_phone(raw: str, default_region: str = "CN") -> str:
    """Return *raw* as an E.164 string, or raise `InvalidPhone` naming the input.

    *default_region* (ISO 3166 code) is how national numbers without a country prefix are
    read; international prefixes of that region (``00`` for CN) are understood.

        normalize_phone("13800138000")                  # '+8613800138000'
        normalize_phone("(202) 555-0143", "US")         # '+12025550143'
        normalize_phone("+8613800138000", "US")         # unchanged: already E.164
    """
    if not isinstance(raw, str):
        raise InvalidPhone(raw, default_region, "is not text")
    if len(raw) > _MAX_INPUT:
        raise InvalidPhone(raw, default_region, f"is longer than {_MAX_INPUT} characters")
    # Chinese input methods and spreadsheets type full-width digits, plus and minus
    # (U+FF10-FF19, U+FF0B, U+FF0D); NFKC turns them, and the ideographic space, into ASCII.
    text = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    candidate = _strip_transport(text)
    if not candidate or not _DIGITS.fullmatch(candidate):
        raise InvalidPhone(raw, default_region)
    try:
        parsed = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(raw, default_region) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(raw, default_region)
    e164: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164


def try_normalize_phone(raw: str | None, default_region: str = "CN") -> str | None:
    """Like `normalize_phone` but returns None for anything that is not a valid number.

    For the call path, where an unknown or withheld caller is normal, not an error:

        try_normalize_phone("anonymous")     # None
        try_normalize_phone("13800138000")   # '+8613800138000'
    """
    if raw is None:
        return None
    try:
        return normalize_phone(raw, default_region)
    except InvalidPhone:
        return None
