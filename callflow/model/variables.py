"""The channel variables a CRM lookup sets: one contract for every backend.

The compiled dialplan, the offline simulator and the live ARI runtime all read the
customer from these names, so they are declared once, here::

    BRANCH_VARS["tier"]        # "CF_TIER"
"""

from __future__ import annotations

from typing import Final

#: cleared when the lookup fails (CF_LANG is not: a language chosen earlier stays)
CUSTOMER_VARS: Final = (
    "CF_CUSTOMER_ID",
    "CF_TIER",
    "CF_MANAGER",
    "CF_SEGMENT",
    "CF_REGION",
    "CF_TAGS",
)

#: what a Branch node's ``attribute`` reads
BRANCH_VARS: Final = {
    "tier": "CF_TIER",
    "segment": "CF_SEGMENT",
    "language": "CF_LANG",
    "region": "CF_REGION",
    "tags": "CF_TAGS",
}
