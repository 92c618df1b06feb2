"""serve's connections: AMI in the background (unreachable, wrong secret), FastAGI first,
the client allow-list, rate-limited warnings and ARI URLs that never print a secret."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from callflow.cli.serve import _CrmOptions, _serve_crm
from callflow.runtime.ami import AmiAddress, AmiConnection
from callflow.runtime.ari import AriSettings, split_url
from callflow.runtime.fastagi import FastAgiServer, RateLimitedLog, parse_allow
from callflow.store import upgrade


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(check, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


def test_ami_address_defaults_to_5038_and_names_what_is_wrong():
    assert AmiAddress.parse("pbx") == AmiAddress("pbx", 5038)
    assert AmiAddress.parse("10.0.0.5:5039") == AmiAddress("10.0.0.5", 5039)
    assert str(AmiAddress.parse("[::1]")) == "[::1]:5038"
    for bad, why in (
        ("pbx:", "port must be"),
        ("pbx:99999", "port must be"),
        ("::1", "IPv6"),
        ("", "expected host"),
    ):
        with pytest.raises(ValueError, match=why):
            AmiAddress.parse(bad)


async def test_unreachable_ami_is_retried_with_backoff_and_said_once(caplog):
    caplog.set_level(logging.INFO, logger="callflow.ami")
    ami = AmiConnection(AmiAddress("127.0.0.1", free_port()), "callflow", "x")
    ami.backoff = (0.05, 0.1)
    ami.start()
    try:
        await wait_until(lambda: ami.connect_failures >= 5)
    finally:
        ami.close()
    said = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "FastAGI lookups go on" in said[0].getMessage()


async def fake_ami(accept: bool) -> tuple[asyncio.Server, list[str]]:
    """A minimal AMI: banner, then answers Login (accepting or refusing it)."""
    logins: list[str] = []

    async def session(reader, writer):
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        action: dict[str, str] = {}
        while line := (await reader.readline()).decode().strip():
            key, _, value = line.partition(": ")
            action[key.lower()] = value
        logins.append(action.get("secret", ""))
        reply = "Success\r\nMessage: Authentication accepted" if accept else (
            "Error\r\nMessage: Authentication failed"
        )  # fmt: skip
        writer.write(f"Response: {reply}\r\nActionID: {action['actionid']}\r\n\r\n".encode())
        await writer.drain()
        if not accept:
            writer.close()  # as Asterisk does after a failed login
            return
        await reader.read()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    return server, logins


async def test_a_wrong_ami_secret_says_authentication_failed_once_per_attempt(caplog):
    caplog.set_level(logging.INFO, logger="callflow.ami")
    server, logins = await fake_ami(accept=False)
    port = server.sockets[0].getsockname()[1]
    ami = AmiConnection(AmiAddress("127.0.0.1", port), "callflow", "wrong")
    ami.auth_retry = 0.3
    loop = asyncio.get_running_loop()
    started = loop.time()
    ami.start()
    try:
        await wait_until(lambda: ami.auth_failures >= 3)
    finally:
        ami.close()
        server.close()
    failed = [r for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(failed) == ami.auth_failures  # one line per attempt, no flood
    assert failed[0].levelno == logging.ERROR and "'callflow'" in failed[0].getMessage()
    assert "wrong" not in caplog.text  # the secret is never logged
    assert loop.time() - started >= 2 * ami.auth_retry  # slow retries
    assert logins[:3] == ["wrong"] * 3


async def test_serve_opens_fastagi_while_ami_is_unreachable(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    port = free_port()
    options = _CrmOptions(
        url, "127.0.0.1", port, 0.5, AmiAddress("127.0.0.1", free_port()), "cf", "s", None
    )
    task = asyncio.create_task(_serve_crm(options))
    try:

        async def answered() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            env = "agi_network_script: lookup\nagi_arg_1: acme\nagi_arg_2: 139\n\n"
            writer.write(env.encode())
            line = await reader.readline()
            writer.close()
            return line

        for _ in range(100):
            try:
                line = await answered()
                break
            except OSError:
                await asyncio.sleep(0.05)
        assert line == b'SET VARIABLE CF_CRM "ok:139"\n'
        assert not task.done()  # AMI down did not stop serve
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_fastagi_refuses_clients_outside_the_allow_list():
    seen: list[str] = []

    async def hello(request, agi):
        seen.append(request.script)

    async with FastAgiServer({"hello": hello}, port=0, allow=parse_allow("10.0.0.0/8")) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"agi_network_script: hello\n\n")
        try:
            got = await reader.read()
        except ConnectionResetError:  # closed with our headers unread
            got = b""
        assert got == b""
        writer.close()
    assert seen == [] and srv.refused == 1
    assert srv.allows("10.1.2.3") and srv.allows("::ffff:10.1.2.3")
    assert not srv.allows("127.0.0.1") and not srv.allows("garbage")
    assert FastAgiServer({}, allow=None).allows("203.0.113.9")
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an IP address"):
        parse_allow("127.0.0.1,10.0.0.0/33")
    with pytest.raises(ValueError, match="expected one or more"):
        parse_allow(" , ")


def test_fastagi_warnings_are_rate_limited_with_a_summary(caplog, monkeypatch):
    caplog.set_level(logging.WARNING)
    now = [1000.0]
    monkeypatch.setattr("callflow.runtime.fastagi.time.monotonic", lambda: now[0])
    limited = RateLimitedLog(logging.getLogger("callflow.fastagi"), burst=3, interval=60)
    for i in range(1000):
        limited.warning("bad connection %d", i)
    assert len(caplog.records) == 3 and limited.suppressed == 997
    now[0] += 61
    limited.warning("bad connection %d", 1000)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[3] == "997 more FastAGI warnings left out in the last 60s"
    assert messages[4] == "bad connection 1000"


def test_ari_url_credentials_move_out_of_the_url_and_bad_urls_are_refused():
    assert split_url("http://cf:s%40cret@127.0.0.1:8088/ari") == (
        "http://127.0.0.1:8088/ari",
        "cf",
        "s@cret",
    )
    settings = AriSettings.from_env("callflow-x", url="http://cf:s3cret@pbx/ari", env={})
    assert (settings.url, settings.user, settings.password) == ("http://pbx/ari", "cf", "s3cret")
    assert "s3cret" not in repr(settings)
    for bad in ("127.0.0.1:8088/ari", "ftp://pbx/ari", "http://:8088/ari", "http://pbx:x/ari"):
        with pytest.raises(ValueError, match="ARI URL"):
            split_url(bad)
    with pytest.raises(ValueError) as info:
        split_url("http://cf:s3cret@pbx:99999/ari")
    assert "s3cret" not in str(info.value) and "***" in str(info.value)
