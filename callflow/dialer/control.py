"""A campaign's run state in the store: ``running``, ``paused``, ``stopped``, ``done``.

The dialer reads it every poll, so ``callflow campaign pause SITE CAMP`` in another shell
(or on another host, with PostgreSQL) pauses every dialer of the campaign::

    set_status(Session, "acme", "survey", "paused")
    get_status(Session, "acme", "survey")          # 'paused'
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from callflow.outbound import attempts as store

#: what the CLI verbs set
VERB_STATUS = {"pause": "paused", "resume": "running", "stop": "stopped"}


def get_status(sessions: sessionmaker[Session], site: str, campaign: str) -> str:
    """The campaign's status (``idle`` when never run), in a session of its own."""
    with sessions() as session:
        return store.campaign_status(session, site, campaign)


def set_status(sessions: sessionmaker[Session], site: str, campaign: str, status: str) -> str:
    """Set the campaign's status in a transaction of its own; returns the previous one
    (:func:`callflow.outbound.attempts.set_campaign_status` says which are known)."""
    with sessions.begin() as session:
        return store.set_campaign_status(session, site, campaign, status, dt.datetime.now(dt.UTC))
