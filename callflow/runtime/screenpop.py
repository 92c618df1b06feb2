"""Screen pop: when an agent answers a queue call, tell the agent's desktop who it is.

On AMI ``AgentConnect`` the caller is looked up in the store and a JSON document is
POSTed to a webhook: the call id (linkedid), queue, agent, the customer's name, tier and
account manager, and their last calls from ``call_records``. The POST runs in the
background with a short timeout; a slow, failing or absent webhook is logged and never
touches the call::

    pop = ScreenPop("https://crm.example/popup", make_sessionmaker(engine))
    pop.register(ami)            # an AmiConnection (callflow.runtime.ami)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callflow.runtime.ami import AmiEvents
from callflow.store.call_records import CallRecord
from callflow.store.repositories import CustomerRepository

log = logging.getLogger("callflow.screenpop")

LAST_CALLS = 5


def _get(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if value is None:
        value = next((v for k, v in event.items() if k.lower() == key.lower()), "")
    return str(value).strip()


class ScreenPop:
    """POST a screen-pop document to ``url`` for each answered queue call."""

    def __init__(
        self,
        url: str,
        sessions: sessionmaker[Session],
        *,
        timeout: float = 2.0,
        customers: CustomerRepository | None = None,
    ) -> None:
        self.url = url
        self.sessions = sessions
        self.timeout = timeout
        self.customers = customers or CustomerRepository()
        self.sent = 0
        self.failed = 0
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="cf-screenpop")
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, ami: AmiEvents) -> None:
        """Pop on every ``AgentConnect`` of an :class:`~callflow.runtime.ami.AmiConnection`."""
        ami.on("AgentConnect", self.on_agent_connect)

    def on_agent_connect(self, event: Mapping[str, Any]) -> None:
        """Start the pop in the background; returns at once."""
        task = asyncio.get_running_loop().create_task(self.pop(dict(event)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait for the pops in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def document(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body for one AgentConnect event (blocking: reads the store)."""
        linkedid = _get(event, "Linkedid")
        doc: dict[str, Any] = {
            "call_id": linkedid,
            "uniqueid": _get(event, "Uniqueid"),
            "queue": _get(event, "Queue"),
            "agent": _get(event, "MemberName"),
            "caller": _get(event, "CallerIDNum"),
            "hold_seconds": int(_get(event, "HoldTime") or 0),
            "customer": None,
            "last_calls": [],
        }
        with self.sessions() as session:
            view = self.customers.find_by_phone(session, doc["caller"])
            if view is None:
                return doc
            doc["customer"] = {
                "id": view.id,
                "name": view.name,
                "tier": view.tier,
                "manager": view.manager_id,
                "region": view.region,
                "tags": list(view.tags),
            }
            rows = session.scalars(
                select(CallRecord)
                .where(CallRecord.customer_id == view.id, CallRecord.linkedid != linkedid)
                .order_by(CallRecord.started_at.desc())
                .limit(LAST_CALLS)
            ).all()
            doc["last_calls"] = [
                {
                    "call_id": r.linkedid,
                    "started_at": r.started_at.isoformat(),
                    "destination": r.destination,
                    "agent": r.agent,
                    "disposition": r.disposition,
                    "talk_seconds": r.talk_seconds,
                }
                for r in rows
            ]
        return doc

    async def pop(self, event: Mapping[str, Any]) -> None:
        """Build and POST the document; logs instead of raising."""
        call = _get(event, "Linkedid")
        try:
            async with asyncio.timeout(self.timeout):
                loop = asyncio.get_running_loop()
                doc = await loop.run_in_executor(self._pool, self.document, event)
                timeout = aiohttp.ClientTimeout(total=self.timeout)
                async with (
                    aiohttp.ClientSession(timeout=timeout) as http,
                    http.post(self.url, json=doc) as response,
                ):
                    if response.status >= 400:
                        raise RuntimeError(f"webhook answered HTTP {response.status}")
            self.sent += 1
        except Exception as exc:
            self.failed += 1
            reason = "timed out" if isinstance(exc, TimeoutError) else f"{exc!r}"
            log.warning("screen pop for call %s to %s failed: %s", call, self.url, reason)
