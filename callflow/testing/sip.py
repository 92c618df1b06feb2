"""Real SIP against a site: SIPp (Debian's ``sip-tester``) as staff phones and as a carrier.

The scenarios are SIPp XML kept here, so an integrator runs the same checks against their
own site as callflow's tests do::

    sipp = Sipp(asterisk=("127.0.0.1", 5060))
    assert sipp.register("1001", password).ok                   # generated credentials
    desk = sipp.start_phone("1001", port=phone_port)            # rings, never answers
    call = sipp.call("+862155550100", source="127.0.0.2")       # as the trunk would
    assert call.ok and "SIP/2.0 180" in call.messages and "SIP/2.0 200" not in call.messages
    sipp.call("8001", source="127.0.0.2", expect=404).ok         # unmapped: not reachable

Every run writes SIPp's message log; :attr:`SippResult.messages` is what was sent and
received, for assertions on what the caller saw.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from callflow.model.phones import Phones
from callflow.model.site import Site

REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register with digest authentication">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[service]@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:[service]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[service]@[local_ip]:[local_port]>
Expires: 300
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[service]@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:[service]@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[service]@[local_ip]:[local_port]>
[authentication]
Expires: 300
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
"""


def _phone(name: str, on_invite: str) -> str:
    """A SIPp phone scenario named ``name``: it answers Asterisk's qualify OPTIONS with
    200, and on an INVITE runs ``on_invite`` (what the phone does with the call)."""
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        f'<scenario name="{name}">\n'
        '  <recv request="OPTIONS" optional="true" next="options"/>\n'
        '  <recv request="INVITE"/>\n'
        + on_invite
        + """  <nop next="end"/>
  <label id="options"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]op[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="end"/>
</scenario>
"""
    )


#: a phone that answers OPTIONS (qualify) and rings on INVITE without ever answering
RINGING_PHONE = _phone(
    "a phone that rings and is never picked up",
    """  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ph[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <recv request="CANCEL"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ph[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ph[call_number]
[last_Call-ID:]
CSeq: [cseq] INVITE
Content-Length: 0

]]></send>
  <recv request="ACK"/>
""",
)

_INVITE = """  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]in[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
]]></send>
  <recv response="100" optional="true"/>
"""

_ACK = """  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
"""

#: a caller that must get a final ``{code}`` (404: the number does not exist)
REFUSED_CALL = (
    '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="a call that is refused">\n'
    + _INVITE
    + '  <recv response="{code}"/>\n'
    + _ACK
    + "</scenario>\n"
)

#: a caller that hears ringing (180, or 183 early media) for ``{ring_ms}`` ms and hangs up
#: (CANCEL). A 200 OK meanwhile is an unexpected message: SIPp fails the call.
RINGING_CALL = (
    '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="a call that only rings">\n'
    + _INVITE
    + """  <recv response="183" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="{ring_ms}"/>
  <send><![CDATA[
CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <recv response="487"/>
"""
    + _ACK
    + "</scenario>\n"
)


class SippError(RuntimeError):
    """A SIPp phone could not run (its port is taken, a bad scenario)."""


class SippMissing(RuntimeError):
    """SIPp is not installed (``apt-get install sip-tester``, or ``make sipp``)."""


@dataclass
class SippResult:
    """One finished SIPp run: its exit code (0: every call succeeded) and messages."""

    returncode: int
    messages: str
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def responses(self) -> list[tuple[int, str]]:
        """Each SIP response in the log as (status code, CSeq method), in order."""
        out = []
        for block in re.split(r"(?m)^-{10,}.*$", self.messages):
            status = re.search(r"(?m)^SIP/2\.0 (\d{3}) ", block)
            cseq = re.search(r"(?mi)^CSeq:\s*\d+\s+(\w+)", block)
            if status and cseq:
                out.append((int(status.group(1)), cseq.group(1).upper()))
        return out


@dataclass
class SippProcess:
    """A SIPp running in the background (a phone): :meth:`stop` ends it."""

    process: subprocess.Popen[bytes]
    message_file: Path

    def stop(self) -> SippResult:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return SippResult(self.process.returncode, _read(self.message_file), out.decode())

    @property
    def messages(self) -> str:
        return _read(self.message_file)


@dataclass
class Sipp:
    """SIPp runs against the Asterisk at ``asterisk`` (host, port) over UDP."""

    asterisk: tuple[str, int]
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="callflow-sipp-")))
    binary: str = "sipp"

    def _argv(
        self, name: str, scenario: str, *, service: str, source: str, port: int, extra: list[str]
    ) -> tuple[list[str], Path]:
        if shutil.which(self.binary) is None:
            raise SippMissing(f"{self.binary} not found: install Debian's sip-tester (make sipp)")
        path = self.workdir / f"{name}.xml"
        path.write_text(scenario)
        messages = self.workdir / f"{name}.messages.log"
        messages.unlink(missing_ok=True)
        host, remote = self.asterisk
        argv = [
            self.binary,
            f"{host}:{remote}",
            "-sf",
            str(path),
            "-s",
            service,
            "-i",
            source,
            "-p",
            str(port),
            "-mi",
            source,
            "-trace_msg",
            "-message_file",
            str(messages),
            "-nostdin",
            "-nd",  # no default answers: an unexpected message (a 200 OK) fails the call
            *extra,
        ]
        return argv, messages

    def run(
        self,
        name: str,
        scenario: str,
        *,
        service: str,
        source: str = "127.0.0.1",
        port: int = 0,
        extra: list[str] | None = None,
        timeout: float = 30.0,
    ) -> SippResult:
        """Run ``scenario`` once (one call) and wait for it."""
        argv, messages = self._argv(
            name, scenario, service=service, source=source, port=port, extra=extra or []
        )
        argv += ["-m", "1", "-timeout", f"{int(timeout)}s", "-timeout_error"]
        done = subprocess.run(argv, capture_output=True, timeout=timeout + 10, check=False)
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        return SippResult(done.returncode, _read(messages), output)

    def register(
        self,
        user: str,
        password: str,
        *,
        port: int,
        source: str = "127.0.0.1",
        expires: int = 300,
    ) -> SippResult:
        """REGISTER as ``user`` with digest authentication; the contact is ``source:port``
        (``expires=0``: unregister)."""
        return self.run(
            f"register-{user}",
            REGISTER.replace("Expires: 300", f"Expires: {int(expires)}"),
            service=user,
            source=source,
            port=port,
            extra=["-au", user, "-ap", password],
        )

    def start_phone(
        self, user: str, *, port: int, source: str = "127.0.0.1", media_port: int | None = None
    ) -> SippProcess:
        """A phone listening on ``source:port`` (where :meth:`register` pointed its
        contact) that rings on every call and never answers."""
        extra = ["-mp", str(media_port)] if media_port else []
        return self._start(
            f"phone-{user}", RINGING_PHONE, user=user, port=port, source=source, extra=extra
        )

    def _start(
        self, name: str, scenario: str, *, user: str, port: int, source: str, extra: list[str]
    ) -> SippProcess:
        argv, messages = self._argv(
            name, scenario, service=user, source=source, port=port, extra=extra
        )
        argv = [a for a in argv if a != f"{self.asterisk[0]}:{self.asterisk[1]}"]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:  # a phone that cannot bind its port exits at once and would hear nothing
            process.wait(timeout=0.3)
        except subprocess.TimeoutExpired:
            return SippProcess(process, messages)
        out = process.stdout.read().decode("utf-8", "replace") if process.stdout else ""
        raise SippError(f"SIPp phone {name} on {source}:{port} exited at once: {out[-500:]}")

    def start_agent(
        self,
        user: str,
        *,
        port: int,
        media_port: int,
        busy: bool = False,
        source: str = "127.0.0.1",
        speak: bool = False,
    ) -> SippProcess:
        """An agent phone on ``source:port`` (register it there first): answers every
        call (180, 200) and stays until the caller hangs up; ``busy``: answers 486;
        ``speak``: once the call is up (ACK), the phone plays ~7 s of G.711 speech (SIPp's
        ``g711a.pcap``) to the caller, as a talking agent would (recording tests)."""
        scenario = BUSY_PHONE if busy else ANSWERING_PHONE
        if speak and not busy:
            pcap = _xml_attr(str(PCAP_DIR / "g711a.pcap"))
            scenario = scenario.replace(
                '  <recv request="ACK"/>\n',
                '  <recv request="ACK"/>\n'
                f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n',
                1,
            )
        return self._start(
            f"agent-{user}",
            scenario,
            user=user,
            port=port,
            source=source,
            extra=["-mp", str(media_port)],
        )

    def answered_call(
        self,
        number: str,
        scenario: str,
        *,
        source: str,
        media_port: int,
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
    ) -> SippResult:
        """Run an :func:`answered_call` scenario to ``number`` (from a staff phone: pass
        its ``user`` and ``password`` for the digest challenge)."""
        extra = ["-mp", str(media_port)]
        if user is not None and password is not None:
            extra += ["-au", user, "-ap", password]
        return self.run(
            f"answered-{number.lstrip('+')}",
            scenario,
            service=number,
            source=source,
            port=port,
            extra=extra,
            timeout=timeout,
        )

    def call(
        self,
        number: str,
        *,
        source: str,
        expect: int | None = None,
        ring_seconds: float = 4.0,
        caller: str = "13800000000",
        port: int = 0,
    ) -> SippResult:
        """Call ``number`` from ``source``: refused with ``expect`` (e.g. 404), or else
        ringing (180) for ``ring_seconds`` without a 200 OK, then cancelled."""
        if expect is not None:
            scenario = REFUSED_CALL.replace("{code}", str(expect))
        else:
            scenario = RINGING_CALL.replace("{ring_ms}", str(int(ring_seconds * 1000)))
        scenario = scenario.replace("{caller}", caller)
        return self.run(
            f"call-{number.lstrip('+')}",
            scenario,
            service=number,
            source=source,
            port=port,
            timeout=ring_seconds + 20,
        )


def wait_reachable(cli: Callable[[str], str], endpoint: str, timeout: float = 15.0) -> None:
    """Wait until Asterisk's qualify found ``endpoint``'s registered phone available
    (``cli`` runs an Asterisk CLI command, e.g. ``sandbox.cli``). Until then the phone's
    device is not free and queues skip it; a phone started just after its registration
    can miss the first qualify. ``TimeoutError`` with the contacts after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pattern = rf"Contact:\s+{re.escape(endpoint)}/sip:\S+\s+\S+\s+Avail"
    while not re.search(pattern, shown := cli("pjsip show contacts")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{endpoint} not reachable after {timeout:g} s:\n{shown}")
        time.sleep(0.2)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def without_phones(site: Site) -> Site:
    """``site`` with no generated pjsip.conf sections (no transport, staff phones or trunks):
    how the Local-channel tests and the demo deploy an example into a sandbox, where a
    carrier's registration would fail and port 5060 may be another sandbox's. The
    dialplan of numbers and phones is still compiled and loaded."""
    return dataclasses.replace(site, phones=Phones(transport=False, staff=False, trunks=False))


# -- agent phones and menu callers (issue 13: menu digits reach the right agent phone) --

#: an agent phone: answers qualify OPTIONS; on INVITE rings (180), answers (200 with SDP),
#: and stays in the call until the other side hangs up (BYE)
ANSWERING_PHONE = _phone(
    "an agent phone that answers",
    """  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ag[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[service]@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ag[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[service]@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
""",
)

#: a phone that is busy: every INVITE gets 486 Busy Here
BUSY_PHONE = _phone(
    "a busy phone",
    """  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]bz[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
""",
)

#: where Debian's sip-tester keeps its RTP recordings (RFC 4733 digits, G.711 speech)
PCAP_DIR = Path("/usr/share/sip-tester")

_SDP_INVITE = """INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{display}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]mc[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
{auth}Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
"""

_ANSWERED = """  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
"""

_HANG_UP = """  <send retrans="500"><![CDATA[
BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: {bye} BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
"""


def _cdata(text: str) -> str:
    """Caller text as SIPp's CDATA holds it: verbatim, except what would end the block or
    start a SIPp keyword (the hostile text is the test, SIPp must send it as is)."""
    return text.replace("]]>", "").replace("\n", " ")


def _xml_attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def answered_call(
    *,
    digits: str = "",
    talk_ms: int = 2000,
    wait_ms: int = 1500,
    audio: bool = False,
    caller: str = "13800000000",
    display: str = "caller",
    authenticate: bool = False,
) -> str:
    """A SIPp caller scenario: INVITE (with authentication when ``authenticate``: a staff
    phone), wait for the 200 OK, ``wait_ms`` later send each of ``digits`` as RFC 4733
    events (SIPp's own RTP recordings), optionally play ~7 s of G.711 speech, stay
    ``talk_ms`` and hang up (BYE)."""
    for d in digits:
        if d not in "0123456789*#":
            raise ValueError(f"digit {d!r}: RFC 4733 recordings exist for 0-9, * and #")
    invite = _SDP_INVITE.replace("{caller}", _cdata(caller)).replace("{display}", _cdata(display))
    parts = ['<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="an answered call">\n']
    cseq = 1
    if authenticate:
        parts += [
            '  <send retrans="500"><![CDATA[\n',
            invite.replace("{cseq}", "1").replace("{auth}", ""),
            "]]></send>\n",
            '  <recv response="100" optional="true"/>\n',
            '  <recv response="401" auth="true"/>\n',
            _ACK,
        ]
        cseq = 2
    parts += [
        '  <send retrans="500"><![CDATA[\n',
        invite.replace("{cseq}", str(cseq)).replace(
            "{auth}", "[authentication]\n" if authenticate else ""
        ),
        "]]></send>\n",
        _ANSWERED.replace("{cseq}", str(cseq)),
        f'  <pause milliseconds="{int(wait_ms)}"/>\n',
    ]
    names = {"*": "star", "#": "pound"}
    for d in digits:
        pcap = PCAP_DIR / f"dtmf_2833_{names.get(d, d)}.pcap"
        parts.append(
            f'  <nop><action><exec play_pcap_audio="{_xml_attr(str(pcap))}"/></action></nop>\n'
            '  <pause milliseconds="300"/>\n'
        )
    if audio:
        pcap = PCAP_DIR / "g711a.pcap"
        parts.append(
            f'  <nop><action><exec play_pcap_audio="{_xml_attr(str(pcap))}"/></action></nop>\n'
        )
    parts.append(f'  <pause milliseconds="{int(talk_ms)}"/>\n')
    parts.append(_HANG_UP.replace("{bye}", str(cseq + 1)))
    return "".join(parts)
