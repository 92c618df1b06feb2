"""Who takes an agent-mode campaign's answered calls (``Campaign.agent_mode``).

The members of the campaign queue (:func:`callflow.contract.campaign_queue`) are the
people of the campaign's ``connect_to``: a group, one staff member, or a queue node of
the site (its members)::

    campaign_agents(site, campaign)   # (Staff('ann', ...), Staff('bob', ...))
"""

from __future__ import annotations

from callflow.model.campaigns import Campaign
from callflow.model.nodes import Queue
from callflow.model.site import Site
from callflow.model.staff import Staff


def campaign_agents(site: Site, campaign: Campaign) -> tuple[Staff, ...]:
    """The staff of ``campaign.connect_to``, each once, by staff id; () when it names
    nobody."""
    who = campaign.connect_to
    if who is None:
        return ()
    node = site.node_map.get(who)
    names = [m.who for m in node.member_list] if isinstance(node, Queue) else [who]
    found = {p.id: p for name in names for p in site.people(name)}
    return tuple(found[k] for k in sorted(found))
