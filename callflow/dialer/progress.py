"""What ``campaign run`` shows and ``campaign status`` prints: the campaign's counts from
the store (every dialer's work), grouped the way a supervisor reads them::

    summary = campaign_summary(Session, "acme", "survey")
    summary["dialled"], summary["busy"], summary["remaining"]
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callflow.dialer.control import get_status
from callflow.outbound import attempts as store
from callflow.outbound.dispositions import (
    BUSY,
    CONGESTION,
    FAILED,
    HUMAN,
    INVALID_NUMBER,
    MACHINE_HANGUP,
    MACHINE_MESSAGE,
    NO_ANSWER,
    OPTOUT,
    REJECTED,
    UNKNOWN,
)
from callflow.store.campaigns import Dialer

#: the display's columns -> the dispositions they add up
GROUPS: dict[str, tuple[str, ...]] = {
    "human": (HUMAN, OPTOUT),
    "machine": (MACHINE_MESSAGE, MACHINE_HANGUP),
    "busy": (BUSY,),
    "no_answer": (NO_ANSWER,),
    "failed": (FAILED, CONGESTION, REJECTED, INVALID_NUMBER, UNKNOWN),
}


def campaign_summary(sessions: sessionmaker[Session], site: str, campaign: str) -> dict[str, Any]:
    """The campaign's status and counts (see the module docstring)."""
    with sessions() as session:
        counts = store.progress(session, site, campaign)
        dialers = [
            {"dialer": d.dialer_id, "host": d.host, "pid": d.pid,
             "heartbeat_at": d.heartbeat_at.isoformat() if d.heartbeat_at else None}
            for d in session.scalars(
                select(Dialer).where(Dialer.site == site, Dialer.campaign == campaign)
            )
        ]  # fmt: skip
    dispositions = counts["dispositions"]
    summary: dict[str, Any] = {
        "site": site,
        "campaign": campaign,
        "status": get_status(sessions, site, campaign),
        "contacts": counts["contacts"],
        "dialled": counts["attempts"],
        "answered": counts["answered"],
        "live": counts["live"],
    }
    for name, members in GROUPS.items():
        summary[name] = sum(dispositions.get(d, 0) for d in members)
    summary["remaining"] = counts["remaining"]
    # preview: offers waiting for their agent, and offers skipped/expired (never dialled)
    summary["offered"] = counts["offered"]
    summary["skipped"] = counts["skipped"]
    summary["contact_statuses"] = counts["statuses"]
    summary["dispositions"] = dispositions
    summary["dialers"] = dialers
    return summary


def eta_seconds(remaining: int, live: int, calls_per_second: float) -> float | None:
    """Seconds until every remaining contact was dialled at the rate seen so far (None
    before a rate is known). Retries wait for their time and are not in it."""
    if remaining <= 0:
        return 0.0
    if calls_per_second <= 0:
        return None
    return remaining / calls_per_second


def render_table(summary: dict[str, Any], extra: dict[str, Any] | None = None) -> Any:
    """A rich table of a summary (and this dialer's live figures, if given)."""
    from rich.table import Table

    table = Table(title=f"campaign {summary['campaign']} of {summary['site']}: "
                  f"{summary['status']}")  # fmt: skip
    columns = ["dialled", "answered", "human", "machine", "busy", "no_answer", "failed",
               "live", "remaining"]  # fmt: skip
    for name in columns:
        table.add_column(name.replace("_", " "), justify="right")
    if extra is not None:
        table.add_column("calls/s", justify="right")
        table.add_column("ETA", justify="right")
    row = [str(summary[c]) for c in columns]
    if extra is not None:
        row.append(f"{extra['calls_per_second']:.1f}")
        eta = eta_seconds(summary["remaining"], summary["live"], extra["calls_per_second"])
        row.append("-" if eta is None else _duration(eta))
    table.add_row(*row)
    return table


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
