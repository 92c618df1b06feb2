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
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from callflow.dialer.engine import Dialer, app_for
from callflow.model.campaigns import Campaign
from callflow.model.site import Site
from callflow.runtime.ari import AriClient, AriSettings


class DialerService:
    """One campaign's dialer with its ARI connection; ``start``/``stop`` as a service."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        site: Site,
        campaign: Campaign,
        settings: AriSettings,
        **options: Any,
    ) -> None:
        self.dialer = Dialer(sessions, site, campaign, None, **options)
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
        self._task: asyncio.Task[str] | None = None

    async def start(self) -> None:
        """Register the dialer (SQLite: refused while another one is alive), then connect
        to ARI and dial in the background."""
        await asyncio.to_thread(self.dialer.register)
        self._ari_task = asyncio.create_task(self.ari.run())
        self._task = asyncio.create_task(self.dialer.run(self._stop))

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
        await self.ari.stop()
        if self._ari_task is not None:
            self._ari_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ari_task
