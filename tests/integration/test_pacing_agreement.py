"""The simulator's prediction against the live dialer on the real Asterisk 22 (issue 12's
last done-when): one small predictive campaign, dialled for real and simulated with the
same figures, must agree on the **abandon rate** and the **contacts per hour**.

The campaign: 48 customers, 4 Local-channel agents who each talk exactly ``TALK`` s (no
wrap-up), customers who either answer after exactly ``RING`` s and stay until the agent
hangs up, or are busy at once; which ones answer is fixed by the number (half of them, in
a shuffled order). The live dialer runs as ``callflow campaign run --ami`` composes it
(:func:`run_campaign`) with ``Pacer("predictive", TARGET, min_samples=MIN_SAMPLES)``; the
simulator gets the very same pacer settings and a :class:`CampaignModel` with the same
agents, contacts, answer share, ring, talk (the agent's whole call: ``TALK`` + the
0.5 s that Answer() waits for media), wrap 0 and abandon limit, over ``RUNS`` seeds
(each seed draws who answers anew, so the runs' spread is also the spread of the real run
around the model).

What is measured on the real side comes from Asterisk (ARI events, its own timestamps:
the customer channels' ``CF_CONNECTED`` / ``CF_ABANDONED``, the agents' calls) and must
agree with the store's rows; then

- abandon rate = abandoned / live-answered (no AMD: every answer is live);
- contacts per hour = customers connected to an agent x 3600 / (first customer channel
  created .. last agent hang-up), the simulator's ``finish`` (first dial .. last work
  done).

**Tolerance** (also in docs/outbound.md, "Pacing and the simulator"):

- contacts per hour within 15 % of the simulated mean;
- abandon rate within max(3 percentage points, 2 standard deviations of the simulated
  runs) of the simulated mean.

Why that wide: the simulator leaves out what a real dial costs in time: the originate's
latency and the Local channels' setup, the calls-per-second spacing (20/s: a round of 7-8
calls starts over 0.35 s), the queue's ring of the member, app_queue's and AMI's report
of a freed agent, the dialer's own loop (a turn after each change, ``poll`` at most
0.25 s). Each adds a fraction of a second per call to the real finish (contacts per
hour: a round of ring + talk took 8.6 s for real, 8.5 s simulated) and changes which
calls are in flight when an agent frees (abandons). The pacing statistics' age is
modelled (``stats_every=STATS_EVERY``: re-read every 5 s, as the live dialer re-reads
the store). And 24 live-answered calls make the abandon rate itself coarse: one abandoned
call more or less is 4 points; the simulated runs' spread (24 answers each, in another
order each) says how far a single real run can fall from the mean by chance alone.
"""

from __future__ import annotations

import asyncio
import random
import statistics

import pytest
from sqlalchemy import select

from callflow import Hangup, Site, Staff
from callflow.cli.dialer import run_campaign
from callflow.contract import CF_ABANDONED, CF_CONNECTED, campaign_queue
from callflow.dialer.attended import STATS_EVERY
from callflow.dialer.predictive import Pacer
from callflow.dialer.progress import campaign_summary
from callflow.dialer.simulator import CampaignModel, simulate
from callflow.model.campaigns import AbandonControl, CallingWindow, Campaign
from callflow.model.prompts import Prompt
from callflow.model.schedule import Hours
from callflow.runtime.ami import AmiAddress
from callflow.runtime.ari import AriSettings
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact

from .sites import load_with_contexts
from .test_campaign_connect import assert_one_call_per_agent, settle, watched

pytestmark = pytest.mark.asterisk

AGENTS = ("amy", "ben", "cal", "dot")
CONTACTS = 48
ANSWER = 0.5  # the share of customers who answer (the rest are busy)
RING = 2.0  # seconds a customer rings before answering
TALK = 6.0  # seconds an agent talks (Wait)
#: Answer() on a Local channel waits up to 0.5 s for media before the next step (no
#: media comes): the customer is bridged at the start of it, so each call holds the agent
#: TALK + 0.5 s, as Asterisk's own timestamps show (answer .. hang-up: 6.51 s)
ANSWER_WAIT = 0.5
LIMIT = 2.0  # abandon limit
TARGET = 0.2  # the pacer's abandon target (high: a small campaign must dial ahead)
MIN_SAMPLES = 10
RUNS = 200
#: the tolerance (the module's docstring says why)
CPH_TOLERANCE = 0.15
ABANDON_POINTS = 0.03
ABANDON_SDS = 2.0
ALWAYS = CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),))

CAMPAIGN = Campaign(
    id="pace",
    kind="followup",
    window=ALWAYS,
    connect_to="pacers",
    dial_mode="predictive",
    caller_id="+442079460999",
    endpoint="Local/{number}@cf-pace-callees",
    ring_seconds=15,
    max_attempts=1,  # each contact dialled once, as the simulator does
    concurrency=20,
    abandon=AbandonControl(limit_seconds=LIMIT, target=TARGET),
    abandon_message=Prompt("custom/cfpace/sorry", text="This was Star Motors, call us back"),
)

SITE = Site(
    name="cfpace",
    entries={"100": "bye"},
    nodes=[Hangup(id="bye")],
    staff=[
        Staff(a, name=a.title(), device=f"Local/{a}@cf-pace-agent/n", groups=("pacers",))
        for a in AGENTS
    ],
    campaigns=[CAMPAIGN],
    timezone="Europe/London",
)

#: numbers ending in 1 ring RING s, answer and stay until the agent hangs up; the others
#: are busy at once. Agents answer, say who they are, talk TALK s and hang up.
CALLEES = f"""
[cf-pace-callees]
exten => _+X.,1,GotoIf($["${{EXTEN:-1}}" != "1"]?busy)
 same => n,Ringing()
 same => n,Wait({RING})
 same => n,Answer()
 same => n,Wait(60)
 same => n,Hangup()
 same => n(busy),Hangup(17)

[cf-pace-agent]
exten => _[a-z].,1,Answer()
 same => n,UserEvent(CallflowAgent,agent: ${{EXTEN}},linkedid: ${{CHANNEL(linkedid)}})
 same => n,Wait({TALK})
 same => n,Hangup()
"""


def numbers() -> list[str]:
    """The contacts in dialling order: exactly half answer, in a fixed shuffled order."""
    answers = [i < CONTACTS * ANSWER for i in range(CONTACTS)]
    random.Random(12).shuffle(answers)
    return [f"+4420794{i:03d}{1 if a else 2}" for i, a in enumerate(answers)]


def model() -> CampaignModel:
    return CampaignModel(
        agents=len(AGENTS),
        contacts=CONTACTS,
        answer_rate=ANSWER,
        machine_rate=0.0,
        busy_rate=1 - ANSWER,
        busy_seconds=0.1,
        ring_answer=RING,
        ring_sigma=0.0,
        ring_seconds=float(CAMPAIGN.ring_seconds),
        amd=False,
        talk=TALK + ANSWER_WAIT,  # what the agent is held (see ANSWER_WAIT)
        talk_sigma=0.0,
        wrap=0.0,
        protected_share=0.0,
        limit_seconds=LIMIT,
    )


def pacer() -> Pacer:
    return Pacer("predictive", TARGET, min_samples=MIN_SAMPLES)


@pytest.fixture(scope="module")
def pace_pbx(sandbox):
    load_with_contexts(sandbox, SITE, CALLEES)
    assert "cf-pace-agent" in sandbox.cli("dialplan show cf-pace-agent")
    shown = sandbox.cli(f"queue show {campaign_queue(SITE.name, CAMPAIGN.id)}")
    assert "Invalid" not in shown and "amy" in shown, shown
    return sandbox


@pytest.fixture
async def seen(pace_pbx):
    async with watched(pace_pbx, "cf-pace-test") as found:
        yield found


async def test_simulator_and_real_asterisk_agree_on_a_small_predictive_campaign(
    pace_pbx, seen, tmp_path
) -> None:
    # the prediction first (same figures, same pacer settings, RUNS seeds)
    # the pacer's counts as stale as the live dialer's (re-read from the store every 5 s)
    runs = [
        simulate(model(), "predictive", TARGET, seed=s, pacer=pacer(), stats_every=STATS_EVERY)
        for s in range(RUNS)
    ]
    sim_abandon = statistics.mean(r.abandon_rate for r in runs)
    sim_abandon_sd = statistics.stdev(r.abandon_rate for r in runs)
    sim_cph = statistics.mean(r.contacts_per_hour for r in runs)
    sim_cph_sd = statistics.stdev(r.contacts_per_hour for r in runs)
    sim_finish = statistics.mean(r.finish for r in runs)

    # the real run
    url = f"sqlite:///{tmp_path / 'pace.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    listed = numbers()
    with sessions.begin() as session:
        session.add_all(
            CampaignContact(site=SITE.name, campaign=CAMPAIGN.id, number=n, source="csv")
            for n in listed
        )
    settings = AriSettings(pace_pbx.ari_url, pace_pbx.ari_user, pace_pbx.ari_password, "x")
    ami = (AmiAddress(pace_pbx.ami_host, pace_pbx.ami_port), pace_pbx.ami_user, pace_pbx.ami_secret)
    options = {"cps": 20.0, "until_idle": True, "poll": 0.2, "ami": ami, "pacer": pacer()}
    summary = await asyncio.wait_for(
        run_campaign(sessions, SITE, CAMPAIGN, settings, options, True, None), 120
    )
    with sessions() as session:
        rows = list(
            session.scalars(select(CampaignAttempt).where(CampaignAttempt.campaign == CAMPAIGN.id))
        )
    answering = sum(n.endswith("1") for n in listed)
    said = {r.id: seen.varsets(r.id) for r in rows}
    connected = {i for i, s in said.items() if s.get(CF_CONNECTED, (0, ""))[1] == "1"}
    abandoned = {i for i, s in said.items() if s.get(CF_ABANDONED, (0, ""))[1] == "1"}
    await settle(seen, len(connected), 20)
    assert summary["exit"] == "done", summary
    assert sorted(r.number for r in rows) == sorted(listed)  # each dialled once

    # Asterisk's side and the store's agree: who was connected, who abandoned
    assert len(connected) + len(abandoned) == answering and not connected & abandoned
    assert {r.id for r in rows if r.abandoned} == abandoned
    assert {r.id for r in rows if r.disposition == "human"} == connected
    assert {r.id for r in rows if r.disposition == "busy"} == {
        r.id for r in rows if not r.number.endswith("1")
    }
    status = campaign_summary(sessions, SITE.name, CAMPAIGN.id, model=CAMPAIGN)
    assert status["abandon"]["abandoned"] == len(abandoned)
    assert status["abandon"]["live"] == answering
    assert_one_call_per_agent(seen)
    calls = [c for c in seen.agent_calls() if c[1] in connected]
    assert len(calls) == len(connected)

    # the real figures, on Asterisk's clock
    created = [
        at for at, e in seen.events if e["event"] == "ChannelCreated" and e["uniqueid"] in said
    ]
    first = min(created)
    last = max(end for *_, end in calls)
    real_abandon = len(abandoned) / answering
    real_cph = len(connected) * 3600 / (last - first)
    abandon_tolerance = max(ABANDON_POINTS, ABANDON_SDS * sim_abandon_sd)
    print(
        f"\n{CONTACTS} contacts, {len(AGENTS)} agents, answer {ANSWER:.0%} after {RING:g} s, "
        f"talk {TALK:g} + {ANSWER_WAIT:g} s, predictive target {TARGET:.0%}, "
        f"min_samples {MIN_SAMPLES}"
        f"\n{'':18}{'simulated (' + str(RUNS) + ' runs)':>24}{'real Asterisk':>16}"
        f"\n{'abandon rate':18}{sim_abandon:>15.1%} ± {sim_abandon_sd:5.1%}{real_abandon:>16.1%}"
        f"\n{'contacts / hour':18}{sim_cph:>15.0f} ± {sim_cph_sd:5.0f}{real_cph:>16.0f}"
        f"\n{'finish (s)':18}{sim_finish:>23.1f}{last - first:>16.1f}"
        f"\n{'abandoned / live':18}{'':>23}{len(abandoned):>10} / {answering}"
        f"\ntolerance: contacts/hour ±{CPH_TOLERANCE:.0%}, abandon ±{abandon_tolerance:.1%} "
        f"(max({ABANDON_POINTS:.0%}, {ABANDON_SDS:g} sd))"
    )
    assert abs(real_cph - sim_cph) <= CPH_TOLERANCE * sim_cph, (real_cph, sim_cph)
    assert abs(real_abandon - sim_abandon) <= abandon_tolerance, (real_abandon, sim_abandon)
