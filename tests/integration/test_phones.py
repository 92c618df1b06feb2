"""Phones and numbers on a real Asterisk 22, with real SIP (SIPp, Debian's sip-tester).

The site's pjsip.conf, musiconhold.conf and tone zone are generated and deployed; Asterisk
loads them without a WARNING or ERROR line; a SIPp phone registers with the generated
credentials; calls from the trunk (an IP trunk: SIPp on 127.0.0.2) reach only the mapped
entry, and a call that rings the front desk is not answered (180, no 200 OK).
"""

from __future__ import annotations

import re
import time

import pytest

from callflow import Hangup, Menu, Phones, Queue, Site, Staff, Trunk, human_first
from callflow.compiler import compile_site
from callflow.contract import moh_class, trunk_endpoint
from callflow.deploy import CliControl, deploy
from callflow.errors import DeployError
from callflow.model.prompts import Prompt
from callflow.testing import install_placeholder_prompts
from callflow.testing.sip import Sipp

from .sites import free_port

pytestmark = pytest.mark.asterisk

TRUNK_IP = "127.0.0.2"  # the carrier: loopback, but not the phones' address
PASSWORDS = {"staff.desk": "desk-pw-6Rk2Lm9q", "staff.sales": "sales-pw-3Hv8Xc1z"}


def phone_site(port: int) -> Site:
    return Site(
        name="it_phones",
        timezone="Asia/Shanghai",  # country cn: Chinese ringback and busy tones
        entries={"8000": "greeting", "8001": "internal"},
        staff=[
            Staff(
                "desk",
                name="Front Desk",
                device="PJSIP/it1001",
                groups=("front",),
                extension="1001",
                mailbox="1001",
            ),
            Staff(
                "sales", name="Sales", device="PJSIP/it2001", groups=("sellers",), extension="2001"
            ),
        ],
        trunks=[
            Trunk(
                "carrier",
                host=TRUNK_IP,
                register=False,
                numbers={"+862155550100": "8000"},
                caller_id="+862155550100",
            )
        ],
        phones=Phones(bind="127.0.0.1", port=port),
        nodes=[
            human_first("greeting", target="front", ring=20, then="menu"),
            Menu(id="menu", prompt=Prompt("custom/it-menu"), options={"1": "bye"}, operator="ring"),
            Menu(
                id="internal",
                prompt=Prompt("custom/it-internal"),
                options={"1": "bye"},
                operator="ring",
            ),
            Queue(id="ring", members=["sellers"], max_wait=30, overflow="bye"),
            Hangup(id="bye"),
        ],
    )


@pytest.fixture(scope="module")
def deployed(sandbox):  # type: ignore[no-untyped-def]
    port = free_port()
    site = phone_site(port)
    install_placeholder_prompts(sandbox, site)
    mark = sandbox.log_mark()
    result = deploy(
        site,
        sandbox.etc_dir,
        asterisk=CliControl(sandbox.asterisk_command()),
        log_reader=sandbox,
        secrets=PASSWORDS,
    )
    # what loading logged; a line from a call's thread ([C-...]) is another test's call
    problems = [p for p in sandbox.problems_since(mark, settle=0.5) if "][C-" not in p]
    return site, port, result, problems


def test_asterisk_loads_the_generated_pjsip_moh_and_tone_zone_without_a_warning(
    deployed, sandbox
) -> None:
    site, _port, result, problems = deployed
    assert problems == []  # every WARNING/ERROR line the deploy caused, not only reloads
    endpoints = sandbox.cli("pjsip show endpoints")
    for name in ("it1001", "it2001", trunk_endpoint("it_phones", "carrier")):
        assert re.search(rf"Endpoint:\s+{re.escape(name)}\b", endpoints), name
    assert f"Class: {moh_class('it_phones', 'default')}" in sandbox.cli("moh show classes")
    assert "tone_zone" in sandbox.cli("pjsip show endpoint it1001")
    assert re.search(r"tone_zone\s*:\s*cn", sandbox.cli("pjsip show endpoint it1001"))
    # the password is on disk for Asterisk only, and never in the committed form
    pjsip = result.files["pjsip.conf"]
    assert pjsip.stat().st_mode & 0o007 == 0
    assert PASSWORDS["staff.desk"] in pjsip.read_text()
    assert PASSWORDS["staff.desk"] not in compile_site(site).files["pjsip.conf"]


def test_a_missing_secret_refuses_the_deploy_before_anything_is_written(sandbox) -> None:
    site = phone_site(free_port())
    with pytest.raises(DeployError, match=r"secret staff.sales: not set .*\[CF307\]"):
        deploy(
            site,
            sandbox.etc_dir,
            asterisk=CliControl(sandbox.asterisk_command()),
            secrets={"staff.desk": PASSWORDS["staff.desk"]},
        )


def test_a_sip_phone_registers_with_the_generated_credentials(deployed, sandbox) -> None:
    _site, port, _result, _ = deployed
    sipp = Sipp(asterisk=("127.0.0.1", port))
    wrong = sipp.register("it2001", "not-the-password", port=free_port())
    assert not wrong.ok  # 401 again, never 200
    phone_port = free_port()
    right = sipp.register("it2001", PASSWORDS["staff.sales"], port=phone_port)
    assert right.ok, right.output
    assert "SIP/2.0 200 OK" in right.messages
    assert f"127.0.0.1:{phone_port}" in sandbox.cli("pjsip show contacts")


def test_an_unmapped_entry_is_unreachable_from_the_trunk(deployed) -> None:
    _site, port, _result, _ = deployed
    sipp = Sipp(asterisk=("127.0.0.1", port))
    for number in ("8001", "8000", "+862155550199"):  # entries and an unknown DID
        refused = sipp.call(number, source=TRUNK_IP, expect=404)
        assert refused.ok, (number, refused.output)
        assert "SIP/2.0 404" in refused.messages


def test_a_did_rings_its_entry_and_the_call_is_not_answered_while_the_desk_rings(
    deployed, sandbox
) -> None:
    _site, port, _result, _ = deployed
    sipp = Sipp(asterisk=("127.0.0.1", port))
    phone_port = free_port()
    assert sipp.register("it1001", PASSWORDS["staff.desk"], port=phone_port).ok
    desk = sipp.start_phone("it1001", port=phone_port)
    try:
        time.sleep(1.0)  # the phone answers Asterisk's qualify
        call = sipp.call("+862155550100", source=TRUNK_IP, ring_seconds=4)
    finally:
        phone = desk.stop()
    assert call.ok, call.output
    invite = [code for code, method in call.responses() if method == "INVITE"]
    assert 180 in invite
    assert 200 not in invite  # never answered while the desk rang (SIPp fails on one, too)
    assert invite[-1] == 487  # cancelled while ringing
    assert "INVITE sip:it1001@" in phone.messages  # the mapped entry's flow rang the desk
