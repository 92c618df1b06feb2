"""An agent-mode follow-up's answered customers on the real Asterisk: connected to a free
agent of the campaign queue (their account manager first), or, when nobody comes within
the abandon limit, told who called (the safe-harbour message) and counted as abandoned.

Calls are originated over AMI as the dialer does (``Local/hold@cf-connect-callees`` into
the compiled campaign context, the attempt id as the channel id); the agents are Local
channels of the sandbox's ``cf-test-agent`` context, which answer, send a
``CallflowAgent`` user event and talk for ``CF_TEST_AGENT_TALK`` seconds. Everything
checked comes from Asterisk's ARI events (``subscribeAll``, with Asterisk's timestamps):
the ChannelVarset events of the customer's channel (what the dialer reads), the agents'
own user events and ChannelDestroyed, the ChannelDialplan event of the abandon message's
Playback, and the CallflowEnd user event."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from callflow import Hangup, Site, Staff
from callflow.contract import (
    CF_ABANDONED,
    CF_AGENT,
    CF_AGENT_PIN,
    CF_ATTEMPT,
    CF_CONNECTED,
    CF_MANAGER,
    CF_WAIT_START_MS,
    CF_WAITED_MS,
    campaign_context,
    campaign_queue,
)
from callflow.model.campaigns import AbandonControl, CallingWindow, Campaign
from callflow.model.prompts import Prompt
from callflow.model.schedule import Hours

from .sites import load

pytestmark = pytest.mark.asterisk

AGENTS = ("ann", "bob", "carl")
LIMIT = 2.0
SORRY = "custom/cfconnect/sorry"
SITE = Site(
    name="cfconn",
    entries={"100": "bye"},
    nodes=[Hangup(id="bye")],
    staff=[
        *(
            Staff(a, name=a.title(), device=f"Local/{a}@cf-test-agent/n", groups=("care",))
            for a in AGENTS
        ),
        Staff("dora", name="Dora", device="Local/dora@cf-test-agent/n", groups=("sales",)),
    ],
    campaigns=[
        Campaign(
            id="fu",
            kind="followup",
            window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),)),
            connect_to="care",
            dial_mode="progressive",
            abandon=AbandonControl(limit_seconds=LIMIT),
            abandon_message=Prompt(SORRY, text="This was Star Motors, please call us back"),
        )
    ],
)

#: the customer answers and stays on the line until the agent hangs up
CALLEES = """
[cf-connect-callees]
exten => hold,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
"""


def _when(stamp: str) -> float:
    """An ARI event's timestamp (Asterisk's clock) as a Unix time."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@dataclass
class Seen:
    """Asterisk's ARI events (``subscribeAll``: every channel, as the dialer subscribes),
    each flattened, with Asterisk's own timestamp."""

    events: list[tuple[float, dict[str, str]]] = field(default_factory=list)

    def add(self, raw: dict) -> None:
        flat = {
            "event": raw.get("type", ""),
            "uniqueid": raw.get("channel", {}).get("id", ""),
            "variable": raw.get("variable", ""),
            "value": raw.get("value", ""),
            "application": raw.get("dialplan_app", ""),
            "appdata": raw.get("dialplan_app_data", ""),
            "userevent": raw.get("eventname", ""),
        }
        for k, v in (raw.get("userevent") or {}).items():
            flat.setdefault(k.lower(), str(v).strip())
        self.events.append((_when(raw["timestamp"]), flat))

    def varsets(self, channel_id: str) -> dict[str, tuple[float, str]]:
        """The last value each variable was set to on the channel ``channel_id``."""
        out = {}
        for at, e in self.events:
            if e["event"] == "ChannelVarset" and e["uniqueid"] == channel_id:
                out[e["variable"]] = (at, e["value"])
        return out

    def end(self, attempt: str) -> dict[str, str] | None:
        for _, e in self.events:
            if e["userevent"] == "CallflowEnd" and e.get("attempt") == attempt:
                return e
        return None

    def agent_calls(self) -> list[tuple[str, str, float, float]]:
        """(agent, linkedid, answered, hung up) of every cf-test-agent call: its channel
        is the one that sent the agent's CallflowAgent user event; it answered when it
        ran Answer() (Answer() then waits up to 0.5 s for media before the user event)
        and ended with its ChannelDestroyed event."""
        answered, gone = {}, {}
        for at, e in self.events:
            if e["event"] == "ChannelDialplan" and e["application"] == "Answer":
                answered.setdefault(e["uniqueid"], at)
            elif e["event"] == "ChannelDestroyed":
                gone[e["uniqueid"]] = at
        return [
            (e["agent"], e["linkedid"], answered[e["uniqueid"]], gone.get(e["uniqueid"], 1e18))
            for _, e in self.events
            if e["userevent"] == "CallflowAgent"
        ]


@pytest.fixture(scope="module")
def connect_pbx(sandbox):
    assert load(sandbox, SITE) == []
    main_conf = Path(sandbox.etc_dir) / "extensions.conf"
    text = main_conf.read_text()
    if "[cf-connect-callees]" not in text:
        main_conf.write_text(text + CALLEES)
    sandbox.cli("dialplan reload")
    shown = sandbox.cli(f"queue show {campaign_queue(SITE.name, 'fu')}")
    assert all(f"Local/{a}@cf-test-agent/n" in shown for a in AGENTS), shown
    return sandbox


@contextlib.asynccontextmanager
async def watched(sandbox, app: str) -> AsyncIterator[Seen]:
    """Every ARI event of ``sandbox`` (``subscribeAll`` as application ``app``) into a
    :class:`Seen`, while the block runs."""
    found = Seen()
    url = sandbox.ari_url.replace("http://", "ws://") + "/events"
    auth = {"Authorization": aiohttp.encode_basic_auth(sandbox.ari_user, sandbox.ari_password)}
    async with (
        aiohttp.ClientSession(headers=auth) as http,
        http.ws_connect(url, params={"app": app, "subscribeAll": "true"}) as ws,
    ):

        async def pump() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    found.add(json.loads(msg.data))

        task = asyncio.create_task(pump())
        try:
            yield found
        finally:
            task.cancel()


@pytest.fixture
async def seen(connect_pbx):
    async with watched(connect_pbx, "cf-connect-test") as found:
        yield found


async def originate(driver, talk: float = 1.0, **variables: str) -> str:
    attempt = uuid.uuid4().hex
    wanted = {CF_ATTEMPT: attempt, "__CF_TEST_AGENT_TALK": str(talk), **variables}
    [reply] = await driver.action(
        {
            "Action": "Originate",
            "Channel": "Local/hold@cf-connect-callees",
            "Context": campaign_context(SITE.name, "fu"),
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": "10000",
            "ChannelId": attempt,
            "OtherChannelId": f"{attempt}-callee",
            "CallerID": "<5550100>",
            "Variable": [f"{k}={v}" for k, v in wanted.items()],
        },
        as_list=False,
    )
    assert reply.success, reply
    return attempt


async def ended(seen: Seen, *attempts: str, timeout: float = 30) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ends = [seen.end(a) for a in attempts]
        if all(e is not None for e in ends):
            return [e for e in ends if e is not None]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no CallflowEnd for some of {attempts} within {timeout}s")


def connected(seen: Seen, attempt: str) -> tuple[str, int]:
    """The agent and the wait the customer's channel reports; checks its values."""
    vars_ = seen.varsets(attempt)
    assert vars_[CF_CONNECTED][1] == "1", vars_
    assert CF_ABANDONED not in vars_ or vars_[CF_ABANDONED][1] == "", vars_
    waited = int(vars_[CF_WAITED_MS][1])
    assert 0 <= waited <= LIMIT * 1000, waited
    # the connection is reported the moment the agent answers, not when the call ends
    [answered] = [at for _, linked, at, _ in seen.agent_calls() if linked == attempt]
    assert abs(vars_[CF_CONNECTED][0] - answered) < 0.3
    return vars_[CF_AGENT][1], waited


async def settle(seen: Seen, calls: int, timeout: float) -> None:
    """Until ``calls`` agent calls have started and every one has ended (their hang-ups'
    events), or ``timeout`` seconds."""
    for _ in range(int(timeout * 10)):
        spans = seen.agent_calls()
        if len(spans) >= calls and all(end < 1e17 for *_, end in spans):
            return
        await asyncio.sleep(0.1)


def assert_one_call_per_agent(seen: Seen) -> None:
    """No agent was ever in two calls at once (their answered..hang-up spans)."""
    calls = seen.agent_calls()
    for agent in {c[0] for c in calls}:
        spans = sorted((start, end) for a, _, start, end in calls if a == agent)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, (agent, spans)


async def test_a_free_agent_takes_the_customer_and_the_channel_says_so(connect_pbx, driver, seen):
    attempt = await originate(driver)
    [end] = await ended(seen, attempt)
    agent, waited = connected(seen, attempt)
    assert agent in AGENTS
    [(who, _, _, _)] = [c for c in seen.agent_calls() if c[1] == attempt]
    assert who == agent  # the agent Asterisk connected is the one the channel names
    assert end["path"] == "queue" and end["trace"].split() == ["campaign-fu-agents"]
    assert CF_WAIT_START_MS in seen.varsets(attempt)
    print(f"\nqueue connect: agent {agent}, waited {waited} ms")


async def test_the_account_manager_first_when_free_else_the_group(connect_pbx, driver, seen):
    # twice in a row to carl: the queue (leastrecent) would give the second to another
    first = await originate(driver, talk=0.5, **{CF_MANAGER: "carl"})
    await ended(seen, first)
    second = await originate(driver, talk=4, **{CF_MANAGER: "carl"})
    await asyncio.sleep(1.5)
    # carl is talking to `second`: this customer of carl's goes to the group
    third = await originate(driver, talk=0.5, **{CF_MANAGER: "carl"})
    ends = await ended(seen, first, second, third)
    agents = [connected(seen, a)[0] for a in (first, second, third)]
    assert agents[:2] == ["carl", "carl"]
    assert agents[2] in ("ann", "bob")
    assert [e["path"] for e in ends] == ["manager", "manager", "manager-then-queue"]
    # a pinned agent (reserved by the dialer) is rung before the manager, even outside
    # the campaign's group; a hostile pin is filtered and rings nobody
    pinned = await originate(driver, talk=0.5, **{CF_MANAGER: "carl", CF_AGENT_PIN: "dora"})
    hostile = await originate(driver, talk=0.5, **{CF_AGENT_PIN: "dora)&Local/x@y"})
    ends = await ended(seen, pinned, hostile)
    assert connected(seen, pinned)[0] == "dora" and ends[0]["path"] == "agent"
    assert connected(seen, hostile)[0] in AGENTS and ends[1]["path"] == "queue"
    assert_one_call_per_agent(seen)


async def test_all_agents_busy_the_customer_hears_the_message_within_the_limit(
    connect_pbx, driver, seen
):
    busy = [await originate(driver, talk=8) for _ in AGENTS]
    deadline = time.monotonic() + 10
    while len({c[0] for c in seen.agent_calls() if c[1] in busy}) < len(AGENTS):
        assert time.monotonic() < deadline, seen.agent_calls()
        await asyncio.sleep(0.1)
    late = await originate(driver)
    [end] = await ended(seen, late)
    vars_ = seen.varsets(late)
    assert vars_[CF_ABANDONED][1] == "1" and vars_[CF_CONNECTED][1] == ""
    assert end["trace"].split() == ["campaign-fu-agents", "campaign-fu-abandoned"]
    waited = int(vars_[CF_WAITED_MS][1])  # Asterisk's clock: wait start -> the message
    [(played_at, played)] = [
        (at, e)
        for at, e in seen.events
        if e["event"] == "ChannelDialplan"
        and e["uniqueid"] == late
        and e["application"] == "Playback"
    ]
    assert played["appdata"] == SORRY
    started = vars_[CF_WAIT_START_MS][0]
    print(
        f"\nabandon: CF_WAITED_MS {waited} ms, ARI timestamps {1000 * (played_at - started):.0f} ms"
    )
    assert LIMIT * 1000 - 300 <= waited <= LIMIT * 1000
    assert played_at - started <= LIMIT
    await ended(seen, *busy)
    assert_one_call_per_agent(seen)


async def test_a_burst_never_gives_an_agent_two_calls(connect_pbx, driver, seen):
    """Six customers at once for three agents talking 3 s: each customer is either
    connected or abandoned, never both; every agent has one call at a time."""
    attempts = await asyncio.gather(*(originate(driver, talk=3) for _ in range(6)))
    await ended(seen, *attempts)
    outcomes = []
    for a in attempts:
        vars_ = seen.varsets(a)
        outcome = (vars_.get(CF_CONNECTED, (0, ""))[1], vars_.get(CF_ABANDONED, (0, ""))[1])
        assert outcome in (("1", ""), ("", "1")), vars_
        outcomes.append(outcome)
    assert outcomes.count(("1", "")) == len(AGENTS), outcomes
    assert_one_call_per_agent(seen)
