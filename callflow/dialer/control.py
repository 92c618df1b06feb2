"""A campaign's run state in the store: ``running``, ``paused``, ``stopped``, ``done``.

The dialer reads it every poll, so ``callflow campaign pause SITE CAMP`` in another shell
(or on another host, with PostgreSQL) pauses every dialer of the campaign::

    set_status(Session, "acme", "survey", "paused")
    get_status(Session, "acme", "survey")          # 'paused'
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from callflow.store.campaigns import CAMPAIGN_STATUSES, CampaignState

#: what the CLI verbs set
VERB_STATUS = {"pause": "paused", "resume": "running", "stop": "stopped"}


def get_status(sessions: sessionmaker[Session], site: str, campaign: str) -> str:
    """The campaign's status (``idle`` when never run)."""
    with sessions() as session:
        row = session.get(CampaignState, (site, campaign))
        return row.status if row is not None else "idle"


def set_status(sessions: sessionmaker[Session], site: str, campaign: str, status: str) -> str:
    """Set the campaign's status; returns the previous one."""
    if status not in CAMPAIGN_STATUSES:
        raise ValueError(f"unknown campaign status {status!r}; known: {CAMPAIGN_STATUSES}")
    with sessions.begin() as session:
        row = session.get(CampaignState, (site, campaign), with_for_update=True)
        if row is None:
            session.add(CampaignState(site=site, campaign=campaign, status=status))
            return "idle"
        before = row.status
        row.status = status
        return before
