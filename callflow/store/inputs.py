"""Validated inputs for writing customers and staff, shared by the repositories and CSV import.

Raw text goes in, canonical values come out, or `InvalidValue` says which field is wrong::

    data = customer_data(name="Li Lei", phones=["138 0013 8000"], tier="VIP", tags=["suv"])
    data.phones      # ('+8613800138000',)
    data.tier        # 'vip'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from callflow.store.errors import InvalidValue
from callflow.store.phones import normalize_phone
from callflow.store.validators import (
    parse_value,
    validate_device,
    validate_language,
    validate_names,
    validate_region,
    validate_staff_id,
    validate_tier,
    validate_timezone,
)

NAME_MAX = 200


class Change(StrEnum):
    """What an upsert did to a row."""

    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class CustomerData:
    """A customer as it should be stored; build it with `customer_data`."""

    name: str
    phones: tuple[str, ...]  # E.164, sorted, unique, at least one
    tier: str = "standard"
    value: Decimal = Decimal("0.00")
    manager_id: str | None = None
    region: str | None = None
    language: str | None = None
    timezone: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StaffData:
    """A staff member as it should be stored; build it with `staff_data`."""

    id: str
    name: str
    device: str
    groups: frozenset[str] = frozenset()


def _optional(text: str | None) -> str | None:
    return None if text is None or not text.strip() else text.strip()


def _person_name(name: str) -> str:
    # Names are data and are kept verbatim (quotes, '${...}', newlines included);
    # escaping is the job of whoever renders them. Only NUL is refused: PostgreSQL
    # text cannot hold it, so accepting it would make SQLite and PostgreSQL disagree.
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue("name is empty")
    if len(name) > NAME_MAX:
        raise InvalidValue(f"name is longer than {NAME_MAX} characters")
    if "\x00" in name:
        raise InvalidValue("name contains a NUL character")
    return name


def customer_data(
    *,
    name: str,
    phones: Iterable[str],
    tier: str | None = None,
    value: str | int | Decimal | None = None,
    manager: str | None = None,
    region: str | None = None,
    language: str | None = None,
    timezone: str | None = None,
    tags: Iterable[str] = (),
    default_region: str = "CN",
) -> CustomerData:
    """Validate and canonicalise one customer; raises `InvalidValue` on the first bad field.

    customer_data(name="Acme", phones=["010 6552 9988"], value="12000.5",
                  manager="alice", timezone="Asia/Shanghai")
    """
    numbers = {normalize_phone(p, default_region) for p in phones if p.strip()}
    if not numbers:
        raise InvalidValue("no phone number given")
    manager = _optional(manager)
    region = _optional(region)
    language = _optional(language)
    timezone = _optional(timezone)
    value_text = value.strip() if isinstance(value, str) else value
    return CustomerData(
        name=_person_name(name),
        phones=tuple(sorted(numbers)),
        tier=validate_tier(tier) if tier and tier.strip() else "standard",
        value=parse_value(value_text) if value_text not in (None, "") else Decimal("0.00"),
        manager_id=None if manager is None else validate_staff_id(manager),
        region=None if region is None else validate_region(region),
        language=None if language is None else validate_language(language),
        timezone=None if timezone is None else validate_timezone(timezone),
        tags=validate_names("tag", list(tags)),
    )


def staff_data(*, id: str, name: str, device: str, groups: Iterable[str] = ()) -> StaffData:
    """Validate and canonicalise one staff member.

    staff_data(id="alice", name="Alice Wang", device="PJSIP/1001", groups=["sales"])
    """
    return StaffData(
        id=validate_staff_id(id.strip() if isinstance(id, str) else id),
        name=_person_name(name),
        device=validate_device(device.strip() if isinstance(device, str) else device),
        groups=validate_names("group", list(groups)),
    )
