"""The one exception reports raise for a user's mistake (a bad date, an unknown queue)."""

from __future__ import annotations

from callflow.errors import CallflowError


class ReportError(CallflowError, ValueError):
    """A report cannot be made as asked; the message says what to change::

    raise ReportError("unknown queue 'sles'; the site's queues: care, sales")
    """
