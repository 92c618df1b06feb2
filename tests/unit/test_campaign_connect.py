"""An agent-mode follow-up's compiled connect leg: the campaign queue in queues.conf, the
customer's wait (pinned agent, account manager, queue) within the abandon limit, the
abandon, the agent leg that reports the connection on the customer's channel, and the
validation of what cannot be compiled. The real calls are tests/integration/
test_campaign_connect.py."""

from __future__ import annotations

import dataclasses
import re

import pytest

from callflow import Hangup, Queue, Site, Staff
from callflow.compiler import compile_site
from callflow.contract import campaign_context, campaign_queue, connected_context
from callflow.errors import Severity
from callflow.model.agents import campaign_agents
from callflow.model.campaigns import AbandonControl, CallingWindow, Campaign
from callflow.model.schedule import Hours
from callflow.validate import validate

ALWAYS = CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),))
FOLLOWUP = Campaign(
    id="fu",
    kind="followup",
    window=ALWAYS,
    connect_to="care",
    dial_mode="progressive",
    abandon=AbandonControl(limit_seconds=2.5),
    abandon_message="custom/sorry",
)
STAFF = [
    Staff("bob", name="Bob; [x]", device="PJSIP/1002", groups=("care",)),
    Staff("ann", name="Ann", device="PJSIP/1001", groups=("care",)),
    Staff("wang", name="Wang", device="PJSIP/1003", groups=("sales",)),
]


def site(*campaigns: Campaign, nodes=None) -> Site:
    return Site(
        name="acme",
        entries={"100": "bye"},
        nodes=nodes or [Hangup(id="bye")],
        staff=STAFF,
        campaigns=campaigns,
    )


def context(s: Site, name: str) -> list[str]:
    """The ``exten =>`` lines of context ``name`` (without the exten prefix)."""
    text = compile_site(s).files["extensions.conf"]
    block = text.split(f"\n[{name}]\n", 1)[1].split("\n[", 1)[0]
    return [
        line.removeprefix("exten => ") for line in block.splitlines() if line.startswith("exten")
    ]


def queue_section(s: Site, name: str) -> list[str]:
    text = compile_site(s).files["queues.conf"]
    block = text.split(f"\n[{name}]\n", 1)[1].split("\n[", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith(";")]


def codes(s: Site) -> dict[str, str]:
    return {d.path: d.code for d in validate(s) if d.severity is Severity.ERROR}


def test_the_campaign_queue_holds_the_group_one_call_per_agent() -> None:
    lines = queue_section(site(FOLLOWUP), campaign_queue("acme", "fu"))
    settings = dict(line.split(" = ", 1) for line in lines if " = " in line)
    assert settings["ringinuse"] == "no"  # no agent ever gets two calls
    assert settings["strategy"] == "leastrecent"
    assert (settings["joinempty"], settings["leavewhenempty"]) == ("yes", "no")
    assert settings["autofill"] == "yes"  # every waiting customer rings at once
    assert (settings["timeout"], settings["retry"]) == ("3", "1")  # ceil(2.5), small
    assert settings["setinterfacevar"] == "yes"
    assert settings["announce-position"] == settings["announce-holdtime"] == "no"
    members = [line for line in lines if line.startswith("member")]
    # the same member lines as the site's queues: device, penalty, escaped name
    assert members == ["member => PJSIP/1001,0,Ann", "member => PJSIP/1002,0,Bob\\; [x]"]


def test_a_queue_node_as_connect_to_gives_its_members() -> None:
    sales = Queue(id="sales", members=["sales", "ann"], max_wait=30, overflow="bye")
    s = site(dataclasses.replace(FOLLOWUP, connect_to="sales"), nodes=[Hangup(id="bye"), sales])
    assert [p.id for p in campaign_agents(s, s.campaigns[0])] == ["ann", "wang"]
    members = [m for m in queue_section(s, campaign_queue("acme", "fu")) if m.startswith("member")]
    assert members == ["member => PJSIP/1001,0,Ann", "member => PJSIP/1003,0,Wang"]


def test_the_answered_customer_goes_to_the_agents_not_the_flow() -> None:
    lines = context(site(FOLLOWUP), campaign_context("acme", "fu"))
    assert lines[-1].endswith("Goto(cf-acme-campaign-fu-agents,s,1)")
    for var in ("CF_CONNECTED", "CF_AGENT", "CF_WAITED_MS", "CF_ABANDONED"):
        assert any(line.endswith(f"Set({var}=)") for line in lines), var
    text = compile_site(site(FOLLOWUP)).files["extensions.conf"]
    assert "[cf-acme-campaign-fu-connect]" not in text  # the unattended Dial is not built


def test_the_wait_pinned_agent_then_manager_then_queue_within_the_limit() -> None:
    lines = context(site(FOLLOWUP), "cf-acme-campaign-fu-agents")
    body = "\n".join(lines)
    assert "Set(CF_WAIT_START_MS=${STRFTIME(,,%s%3q)})" in body
    # the dialer's pin is filtered and must be a staff id of the site
    assert "Set(CF_PIN_KEY=${FILTER(a-z0-9_,${CF_AGENT_PIN})})" in body
    assert "GotoIf(${DIALPLAN_EXISTS(cf-acme-staff,${CF_PIN_KEY},1)}?:manager)" in body
    # every step's budget: the limit (2.5 s) less the 100 ms margin, less what passed
    left = "Set(CF_LEFT_MS=$[2400 - (${STRFTIME(,,%s%3q)} - ${CF_WAIT_START_MS})])"
    assert body.count(left) == 3
    predial = "b(cf-acme-connected^autoanswer^1)"
    pin = (
        "Gosub(cf-acme-staff,${CF_PIN_KEY},1($[${CF_LEFT_MS} / 2000],"
        f"{predial}U(cf-acme-connected^${{CF_PIN_KEY}})))"
    )
    manager = pin.replace("CF_PIN_KEY", "CF_MANAGER_KEY")
    queue = f"Queue(acme-campaign-fu,r{predial},,,4,,cf-acme-connected)"
    order = [body.index(pin), body.index(manager), body.index(queue)]
    assert order == sorted(order)
    # the queue's hard bound: app_queue counts whole seconds, the channel timer ms
    i = next(n for n, line in enumerate(lines) if queue in line)
    assert lines[i - 1].endswith("Set(TIMEOUT(absolute)=$[${CF_LEFT_MS} / 1000]) ; the limit")
    assert lines[i + 1].endswith("Set(TIMEOUT(absolute)=0)")
    assert body.count("GotoIf($[${CF_LEFT_MS} <= 0]?T,1)") == 3


def test_the_abandon_sets_its_variables_then_plays_the_message() -> None:
    lines = [line for line in context(site(FOLLOWUP), "cf-acme-campaign-fu-agents")]
    abandon = [line.split(",", 2)[2] for line in lines if line.startswith("T,")]
    assert abandon == [
        "Set(TIMEOUT(absolute)=0)",
        "Set(CF_WAITED_MS=$[${STRFTIME(,,%s%3q)} - ${CF_WAIT_START_MS}])",
        "Set(CF_ABANDONED=1) ; no agent within the limit",
        "Set(CF_TRACE=${CF_TRACE} campaign-fu-abandoned)",
        "Playback(custom/sorry)",
        "Hangup()",
    ]


def test_the_agent_leg_reports_on_the_customers_channel() -> None:
    lines = context(site(FOLLOWUP), connected_context("acme"))
    body = "\n".join(lines)
    # the abandon timer is cancelled before anything is reported
    assert lines[0] == "s,1,Set(MASTER_CHANNEL(TIMEOUT(absolute))=0) ; connected: no abandon"
    assert 'ExecIf($["${MEMBERINTERFACE}" = "PJSIP/1001"]?Set(CF_PIN_KEY=ann))' in body
    assert "wang" not in body  # not an agent of any campaign
    s_lines = [line for line in lines if line.startswith("s,")]
    assert s_lines[-1] == "s,9,Return()"
    reports = [re.sub(r"^s,\d+(\(\w+\))?,", "", line) for line in s_lines[-4:-1]]
    assert reports == [
        "Set(MASTER_CHANNEL(CF_WAITED_MS)="
        "$[${STRFTIME(,,%s%3q)} - ${MASTER_CHANNEL(CF_WAIT_START_MS)}])",
        "Set(MASTER_CHANNEL(CF_AGENT)=${CF_PIN_KEY})",
        "Set(MASTER_CHANNEL(CF_CONNECTED)=1)",  # last: the dialer may act on it at once
    ]
    # SIP phones are asked to answer by themselves; `;` escaped for extensions.conf
    assert "Set(PJSIP_HEADER(add,Call-Info)=\\;answer-after=0)" in body
    assert "Set(PJSIP_HEADER(add,Alert-Info)=info=alert-autoanswer)" in body
    assert 'GotoIf($["${CHANNEL(channeltype)}" != "PJSIP"]?done)' in body


def test_the_staff_context_exists_for_an_agent_campaign_and_passes_dial_options() -> None:
    lines = context(site(FOLLOWUP), "cf-acme-staff")
    assert "ann,5,Dial(PJSIP/1001,${ARG1},${ARG2})" in lines  # after the state and lock


def test_an_unattended_followup_compiles_as_before() -> None:
    plain = dataclasses.replace(FOLLOWUP, dial_mode="unattended", connect_to="care")
    compiled = compile_site(site(plain))
    assert "campaign-fu-agents" not in compiled.files["extensions.conf"]
    assert connected_context("acme") not in compiled.files["extensions.conf"]
    assert campaign_queue("acme", "fu") not in compiled.files["queues.conf"]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"live": True}, "live", "set live=False"),
        ({"connect_to": "bye"}, "connect_to", "needs agents"),
    ],
)
def test_what_the_connect_leg_cannot_do_is_refused(change, path, words) -> None:
    s = site(dataclasses.replace(FOLLOWUP, **change))
    found = [d for d in validate(s) if d.severity is Severity.ERROR]
    assert [(d.path, d.code) for d in found] == [(f"site.campaigns['fu'].{path}", "CF156")]
    assert words in found[0].message


def test_connected_is_a_reserved_node_id() -> None:
    s = site(FOLLOWUP, nodes=[Hangup(id="bye"), Hangup(id="connected")])
    assert codes(s).get("site.nodes['connected']") == "CF123"
