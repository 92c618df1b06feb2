"""The dialer's agent modes against a fake contact centre over a real (SQLite) store.

The fake plays Asterisk's part: an answered customer is connected to the agent reserved
for them (``CF_AGENT_PIN``) or to any free, unreserved agent; nobody within the limit and
the customer is abandoned (``CF_ABANDONED``), as the compiled campaign context reports it.
What is checked: progressive never abandons and never gives an agent two calls, protected
customers always get their reserved agent (even in predictive mode, which does abandon
others), connects and abandons land on the attempt rows, preview dials only accepted
offers and gives skipped ones back."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callflow.contract import (
    CF_ABANDONED,
    CF_AGENT,
    CF_AGENT_PIN,
    CF_CONNECTED,
    CF_TIER,
    CF_WAITED_MS,
)
from callflow.dialer.engine import Dialer
from callflow.dialer.predictive import Pacer
from callflow.dialer.progress import campaign_summary
from callflow.model.campaigns import AbandonControl, Campaign
from callflow.model.site import Site
from callflow.model.staff import Staff
from callflow.outbound import preview
from callflow.runtime.session import AriEvent
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact
from callflow.store.customers import Customer

NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)  # 14:00 in Shanghai
AGENTS = ("ann", "bob", "cat")


class Centre:
    """ARI and the campaign queue's agents in one fake (see the module docstring)."""

    def __init__(
        self,
        agents: tuple[str, ...],
        *,
        answers: Callable[[str], bool] = lambda number: True,
        ring: float = 0.02,
        talk: float = 0.15,
        limit: float = 0.08,
    ) -> None:
        self.registered = asyncio.Event()
        self.registered.set()
        self.changed = asyncio.Event()
        self.agents = agents
        self.answers, self.ring, self.talk, self.limit = answers, ring, talk, limit
        self.dialer: Dialer | None = None
        self.busy: dict[str, str] = {}  # agent -> channel
        self.reserved: dict[str, str] = {}  # agent -> attempt
        self.waiting: dict[str, tuple[float, str | None]] = {}  # channel -> (since, pin)
        self.live: dict[str, str] = {}
        self.originated: list[tuple[str, str, dict[str, str]]] = []
        self.connected: dict[str, str] = {}  # channel -> agent
        self.abandoned: set[str] = set()
        self.second_calls = 0  # an agent handed a call while on one
        self.peak_unconnected = 0  # calls dialled or answered without an agent, at most

    # ---- the agents ------------------------------------------------------------------------
    def free(self) -> list[str]:
        return [a for a in self.agents if a not in self.busy and a not in self.reserved]

    async def reserve(self, staff: str, attempt_id: str) -> bool:
        if staff in self.busy or staff in self.reserved:
            return False
        self.reserved[staff] = attempt_id
        return True

    async def release(self, staff: str) -> None:
        self.reserved.pop(staff, None)
        self.changed.set()

    # ---- ARI ---------------------------------------------------------------------------------
    def emit(self, kind: str, channel: str, **fields: Any) -> None:
        if kind == "ChannelDestroyed":
            self.live.pop(channel, None)
        elif kind == "ChannelStateChange":
            self.live[channel] = fields.get("state", "")
        assert self.dialer is not None
        self.dialer.on_event(AriEvent(type=kind, channel=channel, **fields))

    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        *,
        context: str,
        extension: str,
        priority: int = 1,
        caller_id: str | None = None,
        timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        number = endpoint.split("/")[1].split("@")[0]
        variables = dict(variables or {})
        self.originated.append((channel_id, number, variables))
        self.live[channel_id] = "Down"
        unconnected = sum(1 for c in self.live if c not in self.connected)
        self.peak_unconnected = max(self.peak_unconnected, unconnected)
        loop = asyncio.get_running_loop()
        loop.call_soon(self.emit, "ChannelCreated", channel_id)
        loop.call_later(self.ring, self._ringing_over, channel_id, number, variables)

    def _ringing_over(self, channel: str, number: str, variables: dict[str, str]) -> None:
        if not self.answers(number):
            self.emit("ChannelDestroyed", channel, cause=19)
            return
        self.emit("ChannelStateChange", channel, state="Up")
        loop = asyncio.get_running_loop()
        self.waiting[channel] = (loop.time(), variables.get(CF_AGENT_PIN))
        self._distribute()
        loop.call_later(self.limit, self._give_up, channel)

    def _distribute(self) -> None:
        for channel, (_since, pin) in list(self.waiting.items()):
            if pin is not None:
                if pin in self.busy:
                    continue
                agent = pin
            else:
                free = self.free()
                if not free:
                    continue
                agent = free[0]
            self._connect(channel, agent)

    def _connect(self, channel: str, agent: str) -> None:
        loop = asyncio.get_running_loop()
        since, _pin = self.waiting.pop(channel)
        if agent in self.busy:
            self.second_calls += 1
        self.busy[agent] = channel
        self.connected[channel] = agent
        waited = round((loop.time() - since) * 1000)
        self.emit("ChannelVarset", channel, variable=CF_AGENT, value=agent)
        self.emit("ChannelVarset", channel, variable=CF_WAITED_MS, value=str(waited))
        self.emit("ChannelVarset", channel, variable=CF_CONNECTED, value="1")
        loop.call_later(self.talk, self._hang_up, channel, agent)

    def _hang_up(self, channel: str, agent: str) -> None:
        self.busy.pop(agent, None)
        self.emit("ChannelDestroyed", channel, cause=16)
        self.changed.set()
        self._distribute()

    def _give_up(self, channel: str) -> None:
        if channel not in self.waiting:
            return
        del self.waiting[channel]
        self.abandoned.add(channel)
        waited = str(round(self.limit * 1000))
        self.emit("ChannelVarset", channel, variable=CF_WAITED_MS, value=waited)
        self.emit("ChannelVarset", channel, variable=CF_ABANDONED, value="1")
        asyncio.get_running_loop().call_later(
            0.01, lambda: self.emit("ChannelDestroyed", channel, cause=16)
        )

    async def channels(self) -> list[dict[str, Any]]:
        return [{"id": c, "state": s} for c, s in self.live.items()]


@pytest.fixture
def sessions(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'dialer.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def site_and_campaign(**overrides: Any) -> tuple[Site, Campaign]:
    fields: dict[str, Any] = {
        "id": "recall",
        "kind": "followup",
        "caller_id": "+8602112345678",
        "max_attempts": 1,
        "concurrency": 20,
        "endpoint": "Local/{number}@cf-test-callees",
        "connect_to": "care",
        "dial_mode": "progressive",
        "abandon_message": "custom/sorry",
    }
    fields.update(overrides)
    campaign = Campaign(**fields)
    staff = tuple(Staff(a, name=a, device=f"Local/{a}@agents", groups=("care",)) for a in AGENTS)
    site = Site(
        name="star",
        entries={},
        nodes=(),
        staff=staff,
        campaigns=(campaign,),
        timezone="Asia/Shanghai",
    )
    return site, campaign


def add_contacts(sessions: Any, n: int, vip_every: int = 0) -> list[str]:
    """``n`` contacts, every ``vip_every``-th one a VIP customer (0: none)."""
    numbers = [f"+8613800{i:05d}" for i in range(n)]
    with sessions.begin() as session:
        for i, number in enumerate(numbers):
            tier = "vip" if vip_every and i % vip_every == 0 else "standard"
            customer = Customer(name=f"c{i}", tier=tier)
            session.add(customer)
            session.flush()
            session.add(
                CampaignContact(
                    site="star",
                    campaign="recall",
                    number=number,
                    source="csv",
                    customer_id=customer.id,
                )
            )
    return numbers


def dialer_for(
    sessions: Any, centre: Centre, pacer: Pacer | None = None, **overrides: Any
) -> Dialer:
    site, campaign = site_and_campaign(**overrides)
    dialer = Dialer(
        sessions,
        site,
        campaign,
        centre,
        dialer_id="d1",
        poll=0.05,
        clock=lambda: NOW,
        cps=500.0,
        until_idle=True,
        agents=centre,
        pacer=pacer,
    )
    assert dialer.attended is not None
    dialer.attended.stats_every = 0.0  # re-read the store every turn
    centre.dialer = dialer
    return dialer


def rows(sessions: Any) -> list[CampaignAttempt]:
    with sessions() as session:
        return list(session.scalars(select(CampaignAttempt)))


async def test_progressive_connects_everyone_and_never_abandons(sessions: Any) -> None:
    numbers = add_contacts(sessions, 24)
    centre = Centre(AGENTS)
    dialer = dialer_for(sessions, centre)
    assert await asyncio.wait_for(dialer.run(), 30) == "done"
    assert len(centre.originated) == len(numbers)
    # never more calls without an agent than there are agents
    assert centre.peak_unconnected <= len(AGENTS)
    assert centre.abandoned == set() and centre.second_calls == 0
    attempts = rows(sessions)
    assert {a.disposition for a in attempts} == {"human"}
    assert all(a.agent in AGENTS and a.connected_at is not None for a in attempts)
    assert all(a.waited_ms is not None and a.waited_ms < 80 for a in attempts)
    assert not any(a.abandoned for a in attempts)
    summary = campaign_summary(sessions, "star", "recall", model=dialer.campaign, now=NOW)
    assert summary["connected"] == 24
    assert summary["abandon"]["abandoned"] == 0 and summary["abandon"]["live"] == 24


async def test_predictive_abandons_others_but_never_a_protected_customer(
    sessions: Any,
) -> None:
    numbers = add_contacts(sessions, 60, vip_every=5)
    vips = set(numbers[::5])
    # slow agents and an answer rate the pacer over-estimates at first: abandons happen
    centre = Centre(AGENTS, answers=lambda n: int(n[-2:]) % 4 != 3, talk=0.3, limit=0.05)
    pacer = Pacer("predictive", 0.9, min_samples=3)  # dials far ahead: abandons happen
    dialer = dialer_for(
        sessions,
        centre,
        pacer,
        dial_mode="predictive",
        abandon=AbandonControl(target=0.2),
    )
    assert await asyncio.wait_for(dialer.run(), 60) == "done"
    by_number = {n: (c, v) for c, n, v in centre.originated}
    for number in vips:
        channel, variables = by_number[number]
        assert variables.get(CF_AGENT_PIN) in AGENTS, number  # an agent reserved for them
        assert variables.get(CF_TIER) == "vip"
        assert channel not in centre.abandoned
    assert centre.second_calls == 0
    attempts = {a.id: a for a in rows(sessions)}
    abandoned = {i for i, a in attempts.items() if a.abandoned}
    assert abandoned == centre.abandoned  # what the channels said, stored
    assert abandoned, "slow agents and dialling ahead should abandon someone"
    assert all(attempts[i].disposition == "abandoned" for i in abandoned)
    assert not any(attempts[i].tier == "vip" for i in abandoned)
    assert dialer.counts.abandoned == len(abandoned)
    assert centre.reserved == {}  # every reservation released


async def test_preview_dials_accepted_offers_and_gives_skipped_ones_back(
    sessions: Any,
) -> None:
    add_contacts(sessions, 3)
    centre = Centre(AGENTS[:2], talk=0.05)
    dialer = dialer_for(sessions, centre, dial_mode="preview")
    task = asyncio.create_task(dialer.run())
    offers: list[preview.Offer] = []

    async def offered(count: int) -> list[preview.Offer]:
        for _ in range(200):
            with sessions() as session:
                found = preview.open_offers(session, "star", "recall")
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {count} offers")

    offers = await offered(2)
    assert {o.agent for o in offers} == set(AGENTS[:2])
    assert centre.originated == []  # nothing dialled before an agent accepts
    assert set(centre.reserved) == set(AGENTS[:2])
    take, leave = offers
    with sessions.begin() as session:
        assert preview.accept(session, take.attempt_id, take.agent, NOW)
        assert preview.skip(session, leave.attempt_id, leave.agent, NOW)
    for _ in range(200):
        if centre.originated:
            break
        await asyncio.sleep(0.02)
    channel, _number, variables = centre.originated[0]
    assert channel == take.attempt_id and variables[CF_AGENT_PIN] == take.agent
    # the skipped contact is offered again (its attempt given back), and so on to the end
    for _ in range(3):
        with sessions.begin() as session:
            for offer in preview.open_offers(session, "star", "recall"):
                preview.accept(session, offer.attempt_id, offer.agent, NOW)
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(task, 10) == "done"
    dialled = [n for _c, n, _v in centre.originated]
    assert len(dialled) == len(set(dialled)) == 3
    with sessions() as session:
        assert {c.attempts for c in session.scalars(select(CampaignContact))} == {1}


def test_an_agent_mode_dialer_needs_the_agents(sessions: Any) -> None:
    site, campaign = site_and_campaign()
    with pytest.raises(ValueError, match="needs the campaign queue's agents"):
        Dialer(sessions, site, campaign, None)
