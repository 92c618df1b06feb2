"""The channel variables a CRM lookup sets (kept for existing imports).

They are declared once in :mod:`callflow.contract`, with every other name the backends
share with Asterisk::

    BRANCH_VARS["tier"]        # "CF_TIER"
"""

from __future__ import annotations

from callflow.contract import (
    ANSWER_FIELDS,
    ANSWER_PAD,
    ANSWER_VAR,
    BRANCH_VARS,
    CUSTOMER_VARS,
)

__all__ = ["ANSWER_FIELDS", "ANSWER_PAD", "ANSWER_VAR", "BRANCH_VARS", "CUSTOMER_VARS"]
