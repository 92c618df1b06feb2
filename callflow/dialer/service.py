"""The dialer as a service (``callflow campaign run``, ``callflow serve --campaign``).

It owns an ARI application of its own (``callflow-dialer-<id>``) subscribed to every
channel's events, and a :class:`~callflow.dialer.engine.Dialer` fed by it::

    service = DialerService(sessions, site, campaign, AriSettings.from_env("x"), cps=10)
    await service.start()        # raises DialerRefused on SQLite when another one runs
    status = await service.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from callflow.contract import campaign_queue
from callflow.dialer.agents import AgentPool
from callflow.dialer.engine import Dialer, app_for
from callflow.model.campaigns import Campaign
from callflow.model.site import Site
from callflow.outbound.preview import Offer, offer_event
from callflow.runtime.ami import AmiAddress, AmiConnection
from callflow.runtime.ari import AriClient, AriSettings

log = logging.getLogger("callflow.dialer")


def campaign_agents(site: Site, campaign: Campaign) -> dict[str, str]:
    """The agents of an agent-mode campaign: its ``connect_to``'s people, staff id ->
    device (the campaign queue's member interfaces)."""
    return {s.id: s.device for s in site.people(campaign.connect_to or "")}


class DialerService:
    """One campaign's dialer with its ARI connection; ``start``/``stop`` as a service."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        site: Site,
        campaign: Campaign,
        settings: AriSettings,
        *,
        ami: tuple[AmiAddress, str, str] | None = None,
        **options: Any,
    ) -> None:
        """``ami`` (address, user, secret): the campaign queue's agents are followed over
        AMI; an agent-mode campaign needs it."""
        self.ami: AmiConnection | None = None
        self.pool: AgentPool | None = None
        if campaign.agent_mode:
            if ami is None:
                raise ValueError(
                    f"campaign {campaign.id!r} dials for agents (dial_mode="
                    f"{campaign.dial_mode!r}): it needs AMI to see which agents are free "
                    "(--ami HOST)"
                )
            address, user, secret = ami
            self.ami = AmiConnection(address, user, secret, events="agent")
            self.pool = AgentPool(
                self.ami, campaign_queue(site.name, campaign.id), campaign_agents(site, campaign)
            )
            options["agents"] = self.pool
        self.dialer = Dialer(sessions, site, campaign, None, **options)
        if self.pool is not None and self.dialer.attended is not None:
            self.dialer.attended.announce = self._announce
        self.settings = dataclasses.replace(settings, app=app_for(self.dialer.dialer_id))
        self.ari = AriClient(
            self.settings,
            self.dialer.on_event,
            on_registered=self.dialer.on_registered,
            subscribe_all=True,
        )
        self.dialer.ari = self.ari
        self._stop = asyncio.Event()
        self._ari_task: asyncio.Task[None] | None = None
        self._agents_task: asyncio.Task[None] | None = None
        self._task: asyncio.Task[str] | None = None

    async def start(self) -> None:
        """Register the dialer (SQLite: refused while another one is alive), then connect
        to ARI and dial in the background."""
        await asyncio.to_thread(self.dialer.register)
        if self.ami is not None:
            await self._follow_agents()
        self._ari_task = asyncio.create_task(self.ari.run())
        self._task = asyncio.create_task(self.dialer.run(self._stop))

    async def _follow_agents(self, timeout: float = 10.0) -> None:
        """Connect AMI and read the agents' state before anything is dialled; after every
        reconnect (Asterisk keeps no events for an absent client) read it again."""
        assert self.ami is not None and self.pool is not None
        ami, pool = self.ami, self.pool
        ami.start()
        async with asyncio.timeout(timeout):
            await ami.connected.wait()
        await pool.start()
        # stale (offers nobody) while AMI is away, a fresh snapshot when it is back
        self._agents_task = asyncio.create_task(pool.keep_synced(ami.connected))

    async def _announce(self, made: Offer) -> None:
        """Tell the agent's tools of a preview offer (AMI UserEvent)."""
        assert self.ami is not None
        expires = made.offered_at + dt.timedelta(seconds=self.dialer.campaign.preview_seconds)
        try:
            await self.ami.send_action(offer_event(made, expires=expires), as_list=False)
        except Exception as exc:  # the offer stands in the store (`campaign offers`)
            log.warning("could not announce offer %s to %s: %s", made.attempt_id, made.agent, exc)

    async def wait(self) -> str:
        """Until the dialer ends by itself (campaign done or stopped): its final status."""
        assert self._task is not None
        try:
            return await self._task
        finally:
            await self._close_ari()

    async def stop(self) -> None:
        """Stop dialling now; live calls go on in Asterisk (the next run reconciles them)."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self._close_ari()

    async def _close_ari(self) -> None:
        if self._agents_task is not None:
            self._agents_task.cancel()
        if self.ami is not None:
            self.ami.close()
        await self.ari.stop()
        if self._ari_task is not None:
            self._ari_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ari_task
