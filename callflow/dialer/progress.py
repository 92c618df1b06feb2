"""What ``campaign run`` shows and ``campaign status`` prints: the campaign's counts from
the store (every dialer's work), grouped the way a supervisor reads them::

    summary = campaign_summary(Session, "acme", "survey")
    summary["dialled"], summary["busy"], summary["remaining"]
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callflow.dialer.control import get_status
from callflow.model.campaigns import Campaign
from callflow.outbound import attempts as store
from callflow.outbound.abandon import abandon_stats
from callflow.outbound.dispositions import (
    ABANDONED,
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
    "human": (HUMAN, OPTOUT, ABANDONED),
    "machine": (MACHINE_MESSAGE, MACHINE_HANGUP),
    "busy": (BUSY,),
    "no_answer": (NO_ANSWER,),
    "failed": (FAILED, CONGESTION, REJECTED, INVALID_NUMBER, UNKNOWN),
}


def campaign_summary(
    sessions: sessionmaker[Session],
    site: str,
    campaign: str,
    *,
    model: Campaign | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The campaign's status and counts (see the module docstring). With the campaign's
    ``model`` in an agent mode, also its abandon rate over the campaign's window against
    the cap (``abandon``) and each dialer's last pacing decision (``pacing``)."""
    with sessions() as session:
        counts = store.progress(session, site, campaign)
        rows = list(
            session.scalars(select(Dialer).where(Dialer.site == site, Dialer.campaign == campaign))
        )
        dialers = [
            {"dialer": d.dialer_id, "host": d.host, "pid": d.pid,
             "heartbeat_at": d.heartbeat_at.isoformat() if d.heartbeat_at else None,
             "pacing": json.loads(d.pacing) if d.pacing else None}
            for d in rows
        ]  # fmt: skip
        abandon = None
        if model is not None and model.agent_mode:
            stats = abandon_stats(session, site, model, now or dt.datetime.now(dt.UTC))
            abandon = {
                "abandoned": stats.abandoned,
                "live": stats.live,
                "rate": stats.corrected_rate,  # = rate without the machine correction
                "target": stats.target,
                "window": stats.window,
                "over_cap": stats.over_target,
            }
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
    if abandon is not None:
        summary["connected"] = counts.get("connected", 0)
        summary["abandon"] = abandon
        summary["pacing"] = next((d["pacing"] for d in dialers if d["pacing"]), None)
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
    abandon = summary.get("abandon")
    if abandon is not None:
        table.add_column("abandon rate / cap", justify="right")
        table.add_column("pacing", justify="left")
        flag = " OVER" if abandon["over_cap"] else ""
        row.append(
            f"{abandon['rate']:.1%} / {abandon['target']:.1%} ({abandon['abandoned']} of "
            f"{abandon['live']}, {abandon['window']}){flag}"
        )
        pacing = (extra or {}).get("pacing") or summary.get("pacing") or {}
        level = pacing.get("level")
        row.append(
            f"{pacing.get('decided') or pacing.get('mode') or '-'}"
            + ("" if level is None else f" x{level:.2f}")
            + (f": {pacing['reason']}" if pacing.get("reason") else "")
        )
    table.add_row(*row)
    return table


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
