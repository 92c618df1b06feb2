"""The 4S example on a fresh Asterisk 22 with real SIP phones (SIPp, Debian's sip-tester).

Nothing is written by hand: deploy generates pjsip.conf (transport, the eight staff
phones, the trunk), the dialplan, queues and mailboxes; the phones' passwords come from a
secrets file (chmod 600), as in production. The only changes to the example are the
carrier's: its address is 127.0.0.2 (an IP trunk: SIPp plays the carrier), and one more
number reaches entry 8001, the menu (the main number first asks the CRM and the clock).

- callers from the trunk press menu digits as RFC 4733 events and reach the right
  agent's SIPp phone, registered with the generated credentials, which answers;
- a busy (486) agent phone and an unregistered one are skipped: the call reaches the
  other agent;
- a staff phone dials another's extension, nobody answers, and a voicemail message from
  it lands in the callee's mailbox.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from callflow import Phones
from callflow.contract import mailbox_context
from callflow.deploy import CliControl, deploy
from callflow.loader import load_site
from callflow.sandbox import Sandbox, SandboxError
from callflow.testing import install_placeholder_prompts
from callflow.testing.sip import Sipp, SippProcess, answered_call, wait_reachable

from .conftest import sandbox_unavailable
from .sites import free_port

pytestmark = pytest.mark.asterisk

FOUR_S = Path(__file__).parents[2] / "examples" / "four_s_dealer.py"
TRUNK_IP = "127.0.0.2"  # the carrier: loopback, not the phones' address
MENU_DID = "+862155550101"  # the test's extra number: entry 8001, the main menu
#: which phone each menu digit must ring (one phone registered per group)
BY_DIGIT = {"1": "2001", "2": "3001", "3": "4001", "9": "1001"}


@dataclasses.dataclass
class Deployed:
    sandbox: Sandbox
    sipp: Sipp
    passwords: dict[str, str]  # endpoint name -> password
    ports: dict[str, int]  # endpoint name -> the phone's SIP port
    phones: dict[str, SippProcess] = dataclasses.field(default_factory=dict)

    def register(self, endpoint: str) -> None:
        result = self.sipp.register(endpoint, self.passwords[endpoint], port=self.ports[endpoint])
        assert result.ok, result.output

    def unregister(self, endpoint: str) -> None:
        result = self.sipp.register(
            endpoint, self.passwords[endpoint], port=self.ports[endpoint], expires=0
        )
        assert result.ok, result.output

    def agent(self, endpoint: str, *, busy: bool = False) -> SippProcess:
        self.stop(endpoint)
        self.phones[endpoint] = self.sipp.start_agent(
            endpoint, port=self.ports[endpoint], media_port=free_port(), busy=busy
        )
        return self.phones[endpoint]

    def reachable(self, endpoint: str) -> None:
        wait_reachable(self.sandbox.cli, endpoint)

    def logged(self, endpoint: str, pattern: str, timeout: float = 10.0) -> str:
        """The phone's message log once ``pattern`` is in it, or after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        messages = self.phones[endpoint].messages
        while not re.search(pattern, messages) and time.monotonic() < deadline:
            time.sleep(0.2)
            messages = self.phones[endpoint].messages
        return messages

    def stop(self, endpoint: str) -> None:
        if endpoint in self.phones:
            self.phones.pop(endpoint).stop()

    def invites(self) -> dict[str, int]:
        """How many INVITEs each running phone has received so far."""
        return {
            e: len(re.findall(rf"(?m)^INVITE sip:{e}@", p.messages)) for e, p in self.phones.items()
        }

    def invites_when(
        self, done: Callable[[dict[str, int]], bool], timeout: float = 10.0
    ) -> dict[str, int]:
        """:meth:`invites` once ``done`` holds of them, or after ``timeout`` s: a phone's
        SIPp writes its message log with a lag, longer on a loaded machine."""
        deadline = time.monotonic() + timeout
        counts = self.invites()
        while not done(counts) and time.monotonic() < deadline:
            time.sleep(0.2)
            counts = self.invites()
        return counts

    def menu_call(
        self, digits: str, *, caller: str = "13800000000", display: str = "caller"
    ) -> None:
        scenario = answered_call(
            digits=digits, wait_ms=1200, talk_ms=1000, caller=caller, display=display
        )
        call = self.sipp.answered_call(MENU_DID, scenario, source=TRUNK_IP, media_port=free_port())
        assert call.ok, call.output
        assert (200, "INVITE") in call.responses()


@pytest.fixture(scope="module")
def four_s(asterisk_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    pbx = Sandbox(asterisk_root)  # fresh: no other test's files
    try:
        pbx.start()
    except (SandboxError, OSError) as exc:
        pbx.stop()
        sandbox_unavailable(str(exc))
    try:
        port = free_port()
        site = load_site(str(FOUR_S))
        carrier = site.trunk_map["carrier"]
        trunk = dataclasses.replace(
            carrier, host=TRUNK_IP, register=False, numbers={**carrier.numbers, MENU_DID: "8001"}
        )
        site = dataclasses.replace(site, trunks=[trunk], phones=Phones(bind="127.0.0.1", port=port))
        passwords = {
            p.device.removeprefix("PJSIP/"): f"pw-{p.id}-{uuid.uuid4().hex[:12]}"
            for p in site.staff_map.values()
        }
        secrets = tmp_path_factory.mktemp("secrets") / "star_motors.secrets"
        secrets.write_text(
            "".join(
                f"staff.{p.id} = {passwords[p.device.removeprefix('PJSIP/')]}\n"
                for p in site.staff_map.values()
            )
        )
        os.chmod(secrets, 0o600)
        install_placeholder_prompts(pbx, site)
        mark = pbx.log_mark()
        deploy(
            site,
            pbx.etc_dir,
            asterisk=CliControl(pbx.asterisk_command()),
            log_reader=pbx,
            secrets_file=secrets,
        )
        assert pbx.problems_since(mark, settle=0.5) == []
        deployed = Deployed(
            pbx,
            Sipp(asterisk=("127.0.0.1", port)),
            passwords,
            {e: free_port() for e in passwords},
        )
        try:
            yield deployed
        finally:
            for endpoint in list(deployed.phones):
                deployed.stop(endpoint)
    finally:
        pbx.stop()


def test_menu_digits_reach_the_right_agent_phone(four_s: Deployed) -> None:
    for endpoint in BY_DIGIT.values():
        four_s.register(endpoint)
        four_s.agent(endpoint)
    for endpoint in BY_DIGIT.values():
        four_s.reachable(endpoint)
    rang: dict[str, list[str]] = {}
    for digit in BY_DIGIT:
        before = four_s.invites()
        four_s.menu_call(digit)
        after = four_s.invites()
        rang[digit] = [e for e in after if after[e] > before[e]]
    assert rang == {digit: [endpoint] for digit, endpoint in BY_DIGIT.items()}
    for endpoint in BY_DIGIT.values():
        # the phone answered and the call ended from the caller's side (SIPp writes its
        # message log with a lag: the BYE may be in it only a moment later)
        messages = four_s.logged(endpoint, rf"(?m)^BYE sip:{endpoint}@")
        assert re.search(r"(?m)^SIP/2\.0 200 OK", messages)
        assert re.search(rf"(?m)^BYE sip:{endpoint}@", messages)
    log = (four_s.sandbox.workdir / "log" / "queue_log").read_text()
    assert len(re.findall(r"\|CONNECT\|", log)) == len(BY_DIGIT)  # app_queue: answered


def test_a_busy_agent_phone_is_skipped(four_s: Deployed) -> None:
    four_s.register("2002")
    four_s.agent("2002")
    busy = four_s.agent("2001", busy=True)  # wang stays registered, answers 486
    four_s.reachable("2001")
    four_s.reachable("2002")
    before = four_s.invites()
    for _ in range(2):
        four_s.menu_call("1")
    after = four_s.invites_when(
        lambda n: n["2002"] - before["2002"] >= 2 and n["2001"] - before["2001"] >= 1
    )
    assert after["2002"] - before["2002"] == 2  # chen answered both calls
    assert after["2001"] - before["2001"] >= 1  # wang's phone was tried ...
    assert re.search(r"(?m)^SIP/2\.0 486 Busy Here", busy.messages)  # ... and was busy


def test_an_unregistered_agent_phone_is_skipped(four_s: Deployed) -> None:
    four_s.stop("2001")  # its SIP port is the one it registers from
    four_s.unregister("2001")
    four_s.agent("2001")  # it would answer, but Asterisk has no contact for it
    four_s.agent("2002")
    assert "2001/sip:" not in four_s.sandbox.cli("pjsip show contacts")
    four_s.reachable("2002")
    before = four_s.invites()
    for _ in range(2):
        four_s.menu_call("1")
    after = four_s.invites_when(lambda n: n["2002"] - before["2002"] >= 2)
    assert after["2002"] - before["2002"] == 2
    assert after["2001"] - before["2001"] == 0


def test_a_staff_phone_reaches_an_unanswered_extension_s_voicemail(four_s: Deployed) -> None:
    # wang (2001, mailbox 2001) rings and never answers; lily (1001) calls him
    four_s.stop("2001")
    four_s.register("2001")
    ringing = four_s.sipp.start_phone("2001", port=four_s.ports["2001"], media_port=free_port())
    four_s.reachable("2001")
    inbox = (
        four_s.sandbox.workdir
        / "spool"
        / "voicemail"
        / mailbox_context("star_motors")
        / "2001"
        / "INBOX"
    )
    try:
        scenario = answered_call(
            caller="1001",
            display="Lily",
            authenticate=True,
            wait_ms=9000,
            audio=True,
            talk_ms=8000,
        )
        call = four_s.sipp.answered_call(
            "2001",
            scenario,
            source="127.0.0.1",
            media_port=free_port(),
            user="1001",
            password=four_s.passwords["1001"],
            timeout=60,
        )
    finally:
        phone = ringing.stop()
    assert call.ok, call.output
    assert re.search(r"(?m)^INVITE sip:2001@", phone.messages)  # his phone rang first
    assert (180, "INVITE") in call.responses()
    deadline = time.monotonic() + 5
    while not list(inbox.glob("msg*.txt")) and time.monotonic() < deadline:
        time.sleep(0.2)
    [meta] = list(inbox.glob("msg*.txt"))
    text = meta.read_text()
    assert re.search(r"(?m)^callerid=.*<1001>", text), text
    duration = int(re.search(r"(?m)^duration=(\d+)", text).group(1))  # type: ignore[union-attr]
    assert duration >= 1, text  # audio after the greeting and beep was recorded
    assert re.search(r"(?m)^exten=2001$", text), text  # reached by dialling his extension


def test_hostile_from_display_names_and_user_parts_stay_data(four_s: Deployed) -> None:
    marker = Path(f"/tmp/cf-sip-pwn-{uuid.uuid4().hex[:8]}")
    four_s.agent("4001")
    four_s.reachable("4001")
    before = four_s.invites()
    four_s.menu_call(
        "3",
        caller=f"1'$(touch$IFS{marker})'",
        display=f'x\\" ,;|${{SHELL(touch {marker})}}',
    )
    after = four_s.invites()
    assert after["4001"] - before["4001"] == 1  # routed by the digit, as any caller
    assert not marker.exists()  # neither dialplan nor a shell ran the caller's text
