"""Field validators shared by the ORM classes, the repositories and the CSV import.

Each returns the canonical form of a value or raises `InvalidValue` naming it::

    validate_staff_id("alice")            # 'alice'
    validate_device("PJSIP/1001")         # 'PJSIP/1001'
    validate_timezone("Asia/Shanghai")    # 'Asia/Shanghai'
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callflow.store.errors import InvalidValue

STAFF_ID = re.compile(r"[a-z][a-z0-9_]{0,31}")
# TECH/resource. The resource charset excludes what Asterisk treats as syntax in Dial()
# and in dialplan expressions: ',', '&', '$', '{', '(', ')', quotes, ';', '|', spaces.
DEVICE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9][A-Za-z0-9_.@+/-]{0,79}")
NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")  # tags, groups
# The dialplan compares the caller's tier with the site's tiers as identifiers (it keeps
# only a-z0-9_ of the stored tier), so a tier with any other character would never match.
TIER = re.compile(r"[a-z][a-z0-9_]{0,31}")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")  # BCP 47 subset: zh, zh-CN
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
VALUE_MAX = Decimal("9999999999.99")  # Numeric(12, 2)
REGION_MAX = 64  # String(64)


def validate_staff_id(value: str) -> str:
    """A staff id: lowercase letter then up to 31 of ``[a-z0-9_]`` (``alice``, ``bob_2``)."""
    if not isinstance(value, str) or not STAFF_ID.fullmatch(value):
        raise InvalidValue(f"staff id {value!r} must match [a-z][a-z0-9_]{{0,31}}")
    return value


def validate_device(value: str) -> str:
    """An Asterisk device ``TECH/resource`` such as ``PJSIP/1001`` or ``Local/1001@agents``."""
    if not isinstance(value, str) or not DEVICE.fullmatch(value):
        raise InvalidValue(
            f"device {value!r} must look like TECH/resource (e.g. PJSIP/1001) using only "
            "letters, digits and _ . @ + / -"
        )
    return value


def validate_name(kind: str, value: str) -> str:
    """A tier, tag or group name; lower-cased, ``[a-z][a-z0-9_-]{0,31}``."""
    canonical = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(canonical, str) or not NAME.fullmatch(canonical):
        raise InvalidValue(f"{kind} {value!r} must match [a-z][a-z0-9_-]{{0,31}}")
    return canonical


def validate_tier(value: str) -> str:
    """A customer tier; lower-cased, an identifier ``[a-z][a-z0-9_]{0,31}`` (``vip``)."""
    canonical = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(canonical, str) or not TIER.fullmatch(canonical):
        raise InvalidValue(
            f"tier {value!r} must be an identifier: a letter, then up to 31 of a-z 0-9 _ "
            "(sites match tiers by name)"
        )
    return canonical


def validate_region(value: str) -> str:
    """A customer region: free text, at most 64 characters, no control characters."""
    if not isinstance(value, str) or len(value) > REGION_MAX:
        raise InvalidValue(f"region {value!r} must be text of at most {REGION_MAX} characters")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidValue(
            f"region {value!r} contains a control character (newline, tab, NUL, ...)"
        )
    return value


def validate_names(kind: str, values: list[str] | tuple[str, ...] | set[str]) -> frozenset[str]:
    """A set of tier/tag/group names; blanks are dropped, duplicates collapse."""
    return frozenset(validate_name(kind, v) for v in values if v.strip())


def validate_language(value: str) -> str:
    """A BCP 47 language tag such as ``zh``, ``zh-CN`` or ``yue-Hant-HK``."""
    if not isinstance(value, str) or not LANGUAGE.fullmatch(value):
        raise InvalidValue(f"language {value!r} must be a BCP 47 tag such as zh or zh-CN")
    return value


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_timezone(value: str) -> str:
    """An IANA time zone name that `zoneinfo` knows, e.g. ``Asia/Shanghai``."""
    if not isinstance(value, str) or not value or not _known_zone(value):
        raise InvalidValue(f"time zone {value!r} is not an IANA name (e.g. Asia/Shanghai)")
    return value


def parse_value(value: str | int | Decimal) -> Decimal:
    """A customer value score: finite, 0 ≤ v ≤ 9,999,999,999.99, rounded to cents."""
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidValue(f"value {value!r} is not a number") from None
    if not number.is_finite() or number < 0 or number > VALUE_MAX:
        raise InvalidValue(f"value {value!r} must be between 0 and {VALUE_MAX}")
    return number.quantize(Decimal("0.01"))
