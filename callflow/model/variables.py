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

#: The lookup server answers in this one channel variable (one AGI round trip):
#: ``ok:<number>`` for a caller not in the CRM, where ``<number>`` is the filtered caller
#: number it was asked about (the dialplan accepts an answer only for its own caller);
#: for a customer ``ok:<number>`` then, for each name of
#: ``ANSWER_FIELDS`` in order, ``.`` and the base64 of ``ANSWER_PAD`` + the value. The
#: compiled Lookup node unpacks it with ``CUT()``/``BASE64_DECODE()``; the pad keeps an
#: empty value a non-empty field (Asterisk warns on ``BASE64_DECODE()`` of nothing) and
#: ``${...:1}`` drops it again.
ANSWER_VAR: Final = "CF_CRM"
ANSWER_FIELDS: Final = (
    "CF_CUSTOMER_ID",
    "CF_TIER",
    "CF_MANAGER",
    "CF_LANG",
    "CF_SEGMENT",
    "CF_REGION",
    "CF_TAGS",
    "CF_CUSTOMER_NAME",
)
ANSWER_PAD: Final = "-"
