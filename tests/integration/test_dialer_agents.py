"""The dialer in its agent modes on the real Asterisk 22 (issue 12's done-when):

- a progressive follow-up, 3 Local-channel agents, 60 customers: every answered customer
  reaches an agent (their account manager when the manager is free), no agent is ever in
  two calls at once, nobody is abandoned;
- a predictive follow-up with slow agents: abandons happen; each abandoned customer hears
  the safe-harbour message within the limit (Asterisk's own timestamps), is counted, and
  is locked out for the configured time.

The dialer runs as ``callflow campaign run --ami`` composes it (:func:`run_campaign`:
ARI for the calls, AMI for the campaign queue's agents). Everything checked on Asterisk's
side comes from its ARI events (``subscribeAll``, Asterisk's timestamps, the same
:class:`Seen` as tests/integration/test_campaign_connect.py): the agents' own
``CallflowAgent`` user events and hang-ups, the customer channel's ChannelVarset events,
the Playback of the abandon message. The store's rows must then agree with it.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callflow import Hangup, Site, Staff
from callflow.cli.dialer import run_campaign
from callflow.contract import (
    CF_ABANDONED,
    CF_AGENT,
    CF_CONNECTED,
    CF_WAIT_START_MS,
    CF_WAITED_MS,
    campaign_queue,
)
from callflow.dialer.predictive import Pacer
from callflow.dialer.progress import campaign_summary
from callflow.model.campaigns import AbandonControl, CallingWindow, Campaign
from callflow.model.prompts import Prompt
from callflow.model.schedule import Hours
from callflow.outbound import attempts as api
from callflow.runtime.ami import AmiAddress
from callflow.runtime.ari import AriSettings
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact

from .sites import load_with_contexts
from .test_campaign_connect import assert_one_call_per_agent, settle, watched

pytestmark = pytest.mark.asterisk

AGENTS = ("ann", "bob", "carl")
SLOW = ("sam", "sue")
LIMIT = 2.0
SORRY = "custom/cfdial/sorry"
ALWAYS = CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),))


def campaign(
    id: str, group: str, mode: str, callees: str = "cf-agentdial-callees", **extra: Any
) -> Campaign:
    return Campaign(
        id=id,
        kind="followup",
        window=ALWAYS,
        connect_to=group,
        dial_mode=mode,  # type: ignore[arg-type]
        caller_id="+442079460999",
        endpoint=f"Local/{{number}}@{callees}",
        ring_seconds=15,
        max_attempts=2,
        retry_after_minutes=1,
        concurrency=20,
        abandon_message=Prompt(SORRY, text="This was Star Motors, please call us back"),
        **extra,
    )


SITE = Site(
    name="cfdial",
    entries={"100": "bye"},
    nodes=[Hangup(id="bye")],
    staff=[
        *(
            Staff(a, name=a.title(), device=f"Local/{a}@cf-agentdial-agent/n", groups=("care",))
            for a in AGENTS
        ),
        *(
            Staff(a, name=a.title(), device=f"Local/{a}@cf-agentdial-slow/n", groups=("slow",))
            for a in SLOW
        ),
    ],
    campaigns=[
        campaign("recall", "care", "progressive"),
        campaign(
            "rush",
            "slow",
            "predictive",
            callees="cf-agentdial-rush",
            abandon=AbandonControl(limit_seconds=LIMIT, target=0.2, lockout_hours=72),
        ),
    ],
    timezone="Europe/London",
)

#: customers answer at once and stay until the agent hangs up (numbers ending in 7 are
#: busy)
CALLEES = """
[cf-agentdial-callees]
exten => _+X.,1,GotoIf($["${EXTEN:-1}" = "7"]?busy)
 same => n,Answer()
 same => n,Wait(40)
 same => n,Hangup()
 same => n(busy),Busy(5)

; the predictive campaign's customers: one in three answers (last digit 0, 3, 6, 9), the
; others are busy at once, so the pacer dials well ahead of its two slow agents
[cf-agentdial-rush]
exten => _+X.,1,GotoIf($[${EXTEN:-1} % 3 != 0]?busy)
 same => n,Answer()
 same => n,Wait(40)
 same => n,Hangup()
 same => n(busy),Busy(5)

; agents who talk 1.5 s, and slow ones who talk 8 s; both say who answered
[cf-agentdial-agent]
exten => _[a-z].,1,Answer()
 same => n,UserEvent(CallflowAgent,agent: ${EXTEN},linkedid: ${CHANNEL(linkedid)})
 same => n,Wait(1.5)
 same => n,Hangup()

[cf-agentdial-slow]
exten => _[a-z].,1,Answer()
 same => n,UserEvent(CallflowAgent,agent: ${EXTEN},linkedid: ${CHANNEL(linkedid)})
 same => n,Wait(8)
 same => n,Hangup()
"""


@pytest.fixture(scope="module")
def dial_pbx(sandbox):
    load_with_contexts(sandbox, SITE, CALLEES)
    assert "cf-agentdial-slow" in sandbox.cli("dialplan show cf-agentdial-slow")
    shown = sandbox.cli(f"queue show {campaign_queue(SITE.name, 'recall')}")
    assert "Invalid" not in shown and "ann" in shown, shown
    return sandbox


@pytest.fixture
async def seen(dial_pbx):
    async with watched(dial_pbx, "cf-agentdial-test") as found:
        yield found


def store(tmp_path: Path, campaign_id: str, numbers: list[str], managers: list[str | None]) -> Any:
    url = f"sqlite:///{tmp_path / 'agents.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        session.add_all(
            CampaignContact(site=SITE.name, campaign=campaign_id, number=n, source="csv", manager=m)
            for n, m in zip(numbers, managers, strict=True)
        )
    return sessions


async def dial(sandbox: Any, sessions: Any, campaign: Campaign, **options: Any) -> dict[str, Any]:
    settings = AriSettings(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "x")
    ami = (AmiAddress(sandbox.ami_host, sandbox.ami_port), sandbox.ami_user, sandbox.ami_secret)
    options = {"cps": 20.0, "until_idle": True, "poll": 0.2, "ami": ami, **options}
    return await asyncio.wait_for(
        run_campaign(sessions, SITE, campaign, settings, options, True, None), 240
    )


def attempts(sessions: Any, campaign_id: str) -> list[CampaignAttempt]:
    with sessions() as session:
        return list(
            session.scalars(
                select(CampaignAttempt)
                .where(CampaignAttempt.campaign == campaign_id)
                .order_by(CampaignAttempt.created_at)
            )
        )


async def test_progressive_followup_60_customers_3_agents(dial_pbx, seen, tmp_path) -> None:
    numbers = [f"+44207946{i:04d}" for i in range(60) if i % 10 != 7][:54]
    numbers += [f"+44207947{i:04d}" for i in range(6)]
    managers = [AGENTS[i % 3] if i % 2 == 0 else None for i in range(len(numbers))]
    sessions = store(tmp_path, "recall", numbers, managers)
    summary = await dial(dial_pbx, sessions, SITE.campaigns[0])
    await settle(seen, len(numbers), 15)
    assert summary["exit"] == "done", {
        k: summary[k] for k in ("contact_statuses", "dispositions", "live", "remaining")
    }
    rows = attempts(sessions, "recall")
    assert sorted(r.number for r in rows) == sorted(numbers)  # each dialled once
    # Asterisk's side: every customer's channel said an agent took it, nobody abandoned
    calls = {linked: (agent, start, end) for agent, linked, start, end in seen.agent_calls()}
    for row in rows:
        said = seen.varsets(row.id)
        assert said.get(CF_CONNECTED, (0, ""))[1] == "1", (row.number, said)
        assert said.get(CF_ABANDONED, (0, ""))[1] != "1"
        agent = said[CF_AGENT][1]
        assert calls[row.id][0] == agent  # the agent Asterisk bridged is the one named
        assert (row.agent, row.disposition, row.abandoned) == (agent, "human", False)
        assert row.waited_ms is not None and row.waited_ms <= LIMIT * 1000
    assert_one_call_per_agent(seen)
    # the account manager first: a customer went to someone else only while their
    # manager was on another call
    by_manager = 0
    for row, manager in zip(
        sorted(rows, key=lambda r: numbers.index(r.number)), managers, strict=False
    ):
        if manager is None:
            continue
        agent, start, _end = calls[row.id]
        if agent == manager:
            by_manager += 1
            continue
        busy = [
            (s, e) for a, linked, s, e in seen.agent_calls() if a == manager and linked != row.id
        ]
        assert any(s <= start <= e + 0.5 for s, e in busy), (row.number, manager, agent)
    assert by_manager > 0
    status = campaign_summary(sessions, SITE.name, "recall", model=SITE.campaigns[0])
    assert status["connected"] == len(numbers) and status["abandon"]["abandoned"] == 0
    print(
        f"\nprogressive: {len(numbers)} customers, {by_manager} of "
        f"{sum(m is not None for m in managers)} by their own manager, 0 abandoned, "
        f"peak live {summary['dialer']['peak_live']}"
    )


async def test_predictive_slow_agents_abandon_within_the_limit_and_lock_out(
    dial_pbx, seen, tmp_path
) -> None:
    numbers = [f"+44207948{i:04d}" for i in range(36)]
    sessions = store(tmp_path, "rush", numbers, [None] * len(numbers))
    rush = SITE.campaigns[1]
    # dials well ahead (a high risk target, few samples): two slow agents must drop calls
    pacer = Pacer("predictive", 0.9, min_samples=3)
    summary = await dial(dial_pbx, sessions, rush, pacer=pacer)
    await settle(seen, 1, 15)
    # the abandoned (and busy) customers are retried a minute later: the dialer stops
    # with them pending, nothing live
    assert summary["exit"] == "running" and summary["live"] == 0, summary
    rows = attempts(sessions, "rush")
    abandoned = [r for r in rows if r.abandoned]
    assert abandoned, "slow agents and dialling ahead should abandon someone"
    for row in abandoned:
        said = seen.varsets(row.id)
        assert said[CF_ABANDONED][1] == "1" and said.get(CF_CONNECTED, (0, ""))[1] != "1"
        assert row.disposition == "abandoned" and row.connected_at is None
        waited = int(said[CF_WAITED_MS][1])
        assert waited <= LIMIT * 1000 and row.waited_ms == waited
        # the safe-harbour message: its Playback started within the limit of the wait's
        # start (answer), on Asterisk's own clock
        started = said[CF_WAIT_START_MS][0]
        [played] = [
            at
            for at, e in seen.events
            if e["event"] == "ChannelDialplan"
            and e["uniqueid"] == row.id
            and e["application"] == "Playback"
            and e["appdata"] == SORRY
        ]
        assert 0 <= played - started <= LIMIT, (row.number, played - started)
    # counted: the rows, the dialer's own count and the status all agree with Asterisk
    said_abandoned = {r.id for r in rows if seen.varsets(r.id).get(CF_ABANDONED, (0, ""))[1] == "1"}
    assert said_abandoned == {r.id for r in abandoned}
    assert summary["dialer"]["abandoned"] == len(abandoned)
    status = campaign_summary(sessions, SITE.name, "rush", model=rush)
    assert status["abandon"]["abandoned"] == len(abandoned)
    assert_one_call_per_agent(seen)
    # locked out: the abandoned numbers are due again after the retry time, but not
    # called within the 72 h lockout; after it they are
    later = max(r.ended_at for r in abandoned if r.ended_at) + dt.timedelta(hours=1)
    lost = {r.number for r in abandoned}
    with sessions() as session:
        pending = set(
            session.scalars(
                select(CampaignContact.number).where(
                    CampaignContact.campaign == "rush", CampaignContact.status == "pending"
                )
            )
        )
    assert lost <= pending  # abandoned is retried (not a final disposition)
    soon = api.claim(sessions, SITE, rush, now=later, dialer_id="t", limit=100)
    assert not lost & {c.number for c in soon}
    with sessions() as session:
        held = {
            c.number: c.verdict
            for c in session.scalars(
                select(CampaignContact).where(CampaignContact.number.in_(lost))
            )
        }
    assert all(v and "abandon_lockout" in v for v in held.values()), held
    for c in soon:  # give the claimed ones back before claiming again
        with sessions.begin() as session:
            api.finish(session, c.attempt_id, disposition="busy", cause=17, at=later)
    after = api.claim(
        sessions, SITE, rush, now=later + dt.timedelta(hours=72), dialer_id="t", limit=100
    )
    assert lost <= {c.number for c in after}
    counts = collections.Counter(r.disposition for r in rows)
    print(
        f"\npredictive: {len(rows)} calls, {counts['abandoned']} abandoned, "
        f"{counts['human']} connected, {counts['busy']} busy"
    )
