"""Where a caller is, from the number alone: the region KPI's fallback when the caller is
not a customer with a region (phonenumbers' offline geocoder)::

    region_of_number("+8675512345678")   # 'Shenzhen, Guangdong'
    region_of_number("+13125550123")     # 'Chicago, IL'
    region_of_number("anonymous")        # 'unknown'
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import geocoder

UNKNOWN = "unknown"


@lru_cache(maxsize=65536)
def region_of_number(number: str | None) -> str:
    """The place phonenumbers gives for *number* (E.164), else its country, else
    ``unknown``."""
    if not number or not number.startswith("+"):
        return UNKNOWN
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return UNKNOWN
    place = geocoder.description_for_number(parsed, "en")
    return str(place) if place else UNKNOWN
