"""The sandbox boots a clean Asterisk 22, and the call driver walks real calls through it.

The site here is a hand-written stand-in for compiled dialplan that honours the
reporting contract: CF_TRACE / CF_DEST plus a CallflowEnd user event from a hangup
handler.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from callflow.sandbox import Sandbox, SandboxError, attach, status
from callflow.testing import CallDriver, CallError

pytestmark = pytest.mark.asterisk

SITE = r"""
[cf-it-site]
exten => s,1,Answer()
 same => n,Set(CHANNEL(hangup_handler_push)=cf-it-end,s,1)
 same => n,Set(CF_SITE=it-demo)
 same => n,Set(CF_TRACE=${CF_TRACE} main)
 same => n,Read(CHOICE,,1,,,3)
 same => n,GotoIf($["${CHOICE}" = ""]?none)
 same => n,Set(CF_TRACE=${CF_TRACE} menu_${CHOICE})
 same => n,GotoIf($["${CHOICE}" = "9"]?queue)
 same => n,Set(CF_DEST=staff:opt${CHOICE})
 same => n,Hangup()
 same => n(queue),Set(QUEUE_PRIO=${IF($["${CALLERID(num)}" = "999"]?10:0)})
 same => n,Set(CF_DEST=queue:cf-it-q)
 same => n,Queue(cf-it-q,,,,60)
 same => n,Hangup()
 same => n(none),Set(CF_DEST=hangup)
 same => n,Hangup()

exten => pin,1,Answer()
 same => n,Set(CHANNEL(hangup_handler_push)=cf-it-end,s,1)
 same => n,Read(PIN,,2,,,3)
 same => n,Set(CF_TRACE=pin_${PIN})
 same => n,Set(CF_DEST=hangup)
 same => n,Hangup()

exten => wait,1,Answer()
 same => n,Set(CHANNEL(hangup_handler_push)=cf-it-end,s,1)
 same => n,Set(CF_TRACE=waiting)
 same => n,Set(CF_DEST=hangup)
 same => n,Wait(60)

[cf-it-end]
exten => s,1,UserEvent(CallflowEnd,site: ${CF_SITE},trace: ${CF_TRACE},dest: ${CF_DEST})
 same => n,Return()
"""

QUEUE = """
[cf-it-q]
strategy = ringall
timeout = 5
retry = 1
musicclass = default
"""


@pytest.fixture(scope="module")
def site(sandbox: Sandbox) -> Sandbox:
    """The sandbox with the stand-in site loaded the way deploy loads one."""
    (sandbox.etc_dir / "cf-it-site.conf").write_text(SITE)
    (sandbox.etc_dir / "cf-it-queues.conf").write_text(QUEUE)
    with (sandbox.etc_dir / "extensions.conf").open("a") as extensions:
        extensions.write("#include cf-it-site.conf\n")
    with (sandbox.etc_dir / "queues.conf").open("a") as queues:
        queues.write("#include cf-it-queues.conf\n")
    sandbox.cli("dialplan reload")
    sandbox.cli("queue reload all")
    assert "cf-it-site" in sandbox.cli("dialplan show cf-it-site")
    return sandbox


def test_a_fresh_sandbox_boots_clean_beside_another(sandbox: Sandbox) -> None:
    with Sandbox(sandbox.root) as second:
        assert second.problems_since(0) == []
        assert second.boot_seconds is not None and second.boot_seconds < 10
        assert {second.ami_port, second.http_port}.isdisjoint({sandbox.ami_port, sandbox.http_port})
        assert "Asterisk 22." in second.cli("core show version")
        assert "Asterisk 22." in sandbox.cli("core show version")
        workdir = second.workdir
    assert not workdir.exists()
    assert not (second.pid and os.path.exists(f"/proc/{second.pid}"))


def test_a_directory_without_asterisk_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="not an Asterisk root"):
        Sandbox(tmp_path)


def test_asterisk_command_is_an_argv_prefix_for_the_cli(sandbox: Sandbox) -> None:
    done = subprocess.run(
        [*sandbox.asterisk_command(), "-rx", "core show version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("Asterisk 22.")


def test_cli_output_that_is_not_utf8_is_read_not_raised(sandbox: Sandbox) -> None:
    """Asterisk cuts long values mid-character; reading its output must never fail."""
    context = "cf-bytes-probe"
    # "\udcff" leaves as the raw byte 0xff in the argv (surrogateescape), as a cut
    # multi-byte character would
    sandbox.cli(f"dialplan add extension 1,1,NoOp(a\udcffb) into {context}")
    try:
        shown = sandbox.cli(f"dialplan show {context}")
    finally:
        sandbox.cli(f"dialplan remove context {context}")
    assert "NoOp(a\ufffdb)" in shown


def test_required_modules_are_running(sandbox: Sandbox) -> None:
    modules = sandbox.cli("module show")
    for module in ("app_queue.so", "res_ari.so", "app_stasis.so", "chan_pjsip.so", "res_agi.so"):
        assert module in modules


async def test_dtmf_walks_the_menu_and_the_end_event_reports_it(
    site: Sandbox, driver: CallDriver
) -> None:
    mark = site.log_mark()
    result = await driver.place_call("cf-it-site", "s", dtmf="2", hold=5)
    assert result.trace == ["main", "menu_2"]
    assert result.dest == "staff:opt2"
    assert result.site == "it-demo"
    assert result.channel.startswith("Local/s@cf-test-dial-")
    assert result.channel.endswith(";2")
    assert result.elapsed < 5
    assert site.problems_since(mark) == []


async def test_no_dtmf_times_out_of_the_menu(site: Sandbox, driver: CallDriver) -> None:
    result = await driver.place_call("cf-it-site", "s", prewait=0.5, hold=6)
    assert (result.trace, result.dest) == (["main"], "hangup")


async def test_w_in_dtmf_pauses_between_digits(site: Sandbox, driver: CallDriver) -> None:
    result = await driver.place_call("cf-it-site", "pin", dtmf="4w2", hold=5)
    assert result.trace == ["pin_42"]


async def test_caller_id_reaches_the_site_leg(site: Sandbox, driver: CallDriver) -> None:
    result = await driver.place_call(
        "cf-it-site", "s", dtmf="1", caller_id="5551234", caller_name="Ann Smith", hold=5
    )
    assert result.event["CallerIDNum"] == "5551234"
    assert result.event["CallerIDName"] == "Ann Smith"
    assert result.dest == "staff:opt1"


async def test_hanging_up_the_caller_runs_the_sites_handler(
    site: Sandbox, driver: CallDriver
) -> None:
    handle = await driver.start_call("cf-it-site", "wait", hold=60)
    await asyncio.sleep(1.5)
    assert await driver.getvar(handle.site_uniqueid, "CF_TRACE") == "waiting"
    await driver.setvar(handle.site_uniqueid, "CF_DEST", "voicemail:100")
    await handle.hangup()
    result = await handle.wait_end(timeout=5)
    assert (result.trace, result.dest) == (["waiting"], "voicemail:100")
    assert result.elapsed < 5


async def test_a_call_into_a_missing_context_fails_with_the_calls_name(
    site: Sandbox, driver: CallDriver
) -> None:
    with pytest.raises(CallError, match=r"call cf\w+ to s@no-such-context"):
        await driver.place_call("no-such-context", "s", timeout=5)


async def test_queue_callers_wait_by_priority_until_an_agent_is_free(
    site: Sandbox, driver: CallDriver
) -> None:
    mark = site.log_mark()
    await driver.add_agent("cf-it-q", "1001", paused=True)
    try:
        first = await driver.start_call("cf-it-site", "s", dtmf="9", caller_id="111", hold=30)
        await asyncio.sleep(0.5)
        urgent = await driver.start_call(
            "cf-it-site", "s", dtmf="9", caller_id="999", hold=30, agent_talk=1
        )
        waiting: list[object] = []
        for _ in range(40):
            waiting = await driver.queue_waiting("cf-it-q")
            if len(waiting) == 2:
                break
            await asyncio.sleep(0.25)
        assert [(c.caller_id, c.priority, c.call_id) for c in waiting] == [  # type: ignore[attr-defined]
            ("999", 10, urgent.call_id),
            ("111", 0, first.call_id),
        ]
        assert "2 calls" in site.cli("queue show cf-it-q")  # CLI: control socket, not AMI

        await driver.pause_agent("cf-it-q", "1001", paused=False)
        served = await urgent.wait_end(timeout=20)
        assert (served.agent, served.dest) == ("1001", "queue:cf-it-q")
        await first.hangup()
        abandoned = await first.wait_end(timeout=10)
        assert abandoned.trace == ["main", "menu_9"]
    finally:
        await driver.remove_agent("cf-it-q", "1001")
    assert site.problems_since(mark) == []


async def test_a_wrong_ami_secret_is_refused_clearly(sandbox: Sandbox) -> None:
    wrong = CallDriver(sandbox.ami_host, sandbox.ami_port, sandbox.ami_user, "not-the-secret")
    with pytest.raises(CallError, match="refused"):
        async with wrong:
            pass


@pytest.fixture
def state_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="cf-up-", dir="/tmp"))
    yield directory
    subprocess.run(
        [sys.executable, "-c", f"from callflow.sandbox import down; down({str(directory)!r})"],
        check=False,
        timeout=60,
    )
    shutil.rmtree(directory, ignore_errors=True)


def _in_subprocess(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_up_survives_its_process_and_down_stops_it(state_dir: Path, asterisk_root: Path) -> None:
    up = f"from callflow.sandbox import up; print(up({str(state_dir)!r}).pid)"
    pid = int(_in_subprocess(up))
    assert int(_in_subprocess(up)) == pid  # idempotent: the same instance

    pbx = attach(state_dir)
    assert pbx.pid == pid
    assert "Asterisk 22." in pbx.cli("core show version")
    info = status(state_dir)
    assert info["running"] is True and info["ami_port"] == pbx.ami_port

    stopped = _in_subprocess(f"from callflow.sandbox import down; print(down({str(state_dir)!r}))")
    assert stopped == "True"
    assert status(state_dir)["running"] is False
    assert (
        not os.path.exists(f"/proc/{pid}/status")
        or "zombie" in Path(f"/proc/{pid}/status").read_text()
    )
    with pytest.raises(SandboxError, match="attach"):
        attach(state_dir)


def test_core_restart_now_brings_the_same_sandbox_back(asterisk_root: Path) -> None:
    from callflow.sandbox import LAUNCHER, fix_launcher, launcher_ready

    assert launcher_ready(asterisk_root)
    assert fix_launcher(asterisk_root) == asterisk_root / LAUNCHER  # idempotent, no rework
    with Sandbox(asterisk_root) as pbx:
        assert pbx.asterisk_command()[0] == str(asterisk_root / LAUNCHER)
        (pbx.etc_dir / "cf-restart.conf").write_text("[cf-restart]\nexten => s,1,Hangup()\n")
        with (pbx.etc_dir / "extensions.conf").open("a") as extensions:
            extensions.write("#include cf-restart.conf\n")
        pbx.cli("dialplan reload")
        pid = pbx.pid
        mark = pbx.log_mark()
        pbx.cli("core restart now")  # returns once the new boot is complete
        assert pbx.pid == pid and os.path.exists(f"/proc/{pid}")
        assert pbx.cli("core show uptime seconds").split()[2] in ("0", "1", "2")
        assert "cf-restart" in pbx.cli("dialplan show cf-restart")
        assert "res_ari.so" in pbx.cli("module show like res_ari.so")
        assert pbx.problems_since(mark) == []
