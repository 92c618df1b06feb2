"""Errors raised by the store.

Every error says what was wrong and with which value, so a log line is enough to act on::

    try: normalize_phone("12ab")
    except InvalidPhone as exc: print(exc)
    # phone '12ab' is not a valid number for region CN
"""

from __future__ import annotations

from callflow.errors import CallflowError


class StoreError(CallflowError):
    """Base class of everything `callflow.store` raises on purpose."""


class InvalidValue(StoreError, ValueError):
    """A field value failed validation (staff id, device, time zone, tier, tag, ...)."""


class InvalidPhone(InvalidValue):
    """A phone number could not be turned into E.164."""

    def __init__(self, raw: object, region: str, reason: str = "") -> None:
        self.raw = raw
        self.region = region
        detail = reason or f"is not a valid number for region {region}"
        super().__init__(f"phone {raw!r} {detail}")


class CsvFormatError(StoreError, ValueError):
    """A CSV file cannot be imported at all (missing or unknown columns, bad encoding,
    unreadable); the message starts with ``file:line:`` (or ``file:``)."""


class DatabaseError(StoreError, RuntimeError):
    """The database cannot be used: bad URL, unreachable, locked, corrupt, read-only, or
    its schema is not the one this callflow expects.

    The message names the database (password masked) and says what to do, e.g.
    ``sqlite:///crm.db: the database has no callflow tables; run `callflow db upgrade```.
    """
