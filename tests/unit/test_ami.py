"""The AMI adapter: plain messages, one-shot connect, actions and events over a fake AMI,
and the rule that nothing but the adapter imports panoramisk."""

from __future__ import annotations

import ast
import asyncio
import socket
from pathlib import Path

import pytest

from callflow.runtime.ami import AmiAddress, AmiConnection, AmiError, AmiMessage
from callflow.testing import CallDriver, CallError

ROOT = Path(__file__).resolve().parents[2]


def test_messages_read_headers_case_insensitively_and_keep_repeated_ones():
    message = AmiMessage(
        [("Response", "Success"), ("Output", "line 1"), ("output", "line 2"), ("Value", "x")]
    )
    assert message["response"] == "Success" and message.success and message.name == ""
    assert message.lines("OUTPUT") == ["line 1", "line 2"]
    assert message["Output"] == "line 1\nline 2"
    assert list(message) == ["Response", "Output", "Value"]  # as Asterisk sent them
    assert message.get("missing") is None and message.lines("missing") == []
    event = AmiMessage({"Event": "AgentConnect", "Linkedid": "1.2"})
    assert event.name == "AgentConnect" and event.success and dict(event)["Linkedid"] == "1.2"
    assert not AmiMessage({"Response": "Error", "Message": "Permission denied"}).success


def test_nothing_but_the_adapter_imports_panoramisk():
    """lint-imports holds callflow/ to this; tests and benchmarks are held here."""
    offenders = []
    for folder in ("callflow", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                if any(n == "panoramisk" or n.startswith("panoramisk.") for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == ["callflow/runtime/ami.py"]


async def fake_ami(accept: bool = True):
    """A small AMI: banner, Login, then Getvar, a QueueStatus list, and an event on
    UserEvent actions; returns the server and the actions it was sent. Closing the
    server closes the sessions still open."""
    actions: list[dict[str, str]] = []
    writers: list[asyncio.StreamWriter] = []

    async def session(reader, writer):
        writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        while True:
            action: dict[str, str] = {}
            while line := (await reader.readline()).decode().strip():
                key, _, value = line.partition(": ")
                action[key.lower()] = value
            if not action:  # the client went away
                writer.close()
                return
            actions.append(action)
            aid = action.get("actionid", "")
            name = action.get("action", "").lower()
            if name == "login":
                status = "Success" if accept else "Error"
                writer.write(f"Response: {status}\r\nActionID: {aid}\r\n\r\n".encode())
            elif name == "getvar":
                writer.write(
                    f"Response: Success\r\nActionID: {aid}\r\nVariable: X\r\nValue: 42\r\n\r\n"
                    .encode()
                )  # fmt: skip
            elif name == "command":
                writer.write(
                    f"Response: Success\r\nActionID: {aid}\r\nMessage: Command output follows"
                    "\r\nOutput: line 1\r\nOutput: line 2\r\n\r\n".encode()
                )
            elif name == "queuestatus":
                writer.write(
                    f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
                    "Message: Queue status will follow\r\n\r\n"
                    f"Event: QueueEntry\r\nActionID: {aid}\r\nQueue: q\r\nPosition: 1\r\n\r\n"
                    f"Event: QueueStatusComplete\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                    "\r\n".encode()
                )
            elif name == "userevent":
                writer.write(
                    f"Response: Success\r\nActionID: {aid}\r\n\r\n"
                    "Event: UserEvent\r\nUserEvent: Hello\r\nLinkedid: 7\r\n\r\n".encode()
                )
            await writer.drain()
            if not accept:
                writer.close()
                return

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    stop_serving = server.close

    def close() -> None:
        stop_serving()
        for writer in writers:
            writer.close()

    server.close = close  # type: ignore[method-assign]
    server.drop_sessions = lambda: [w.close() for w in writers]  # type: ignore[attr-defined]
    return server, actions


async def test_connect_send_actions_and_receive_events_as_plain_messages():
    server, actions = await fake_ami()
    port = server.sockets[0].getsockname()[1]
    ami = AmiConnection(AmiAddress("127.0.0.1", port), "cf", "secret", events="user")
    seen: list[AmiMessage] = []
    ami.on("UserEvent", seen.append)
    try:
        await ami.connect(timeout=5)
        assert ami.connected.is_set()
        [reply] = await ami.send_action(
            {"Action": "Getvar", "Variable": "X"}, as_list=False, timeout=5
        )
        assert type(reply) is AmiMessage and reply["value"] == "42"
        listed = await ami.send_action({"Action": "QueueStatus", "Queue": "q"}, timeout=5)
        assert [m.name for m in listed] == ["", "QueueEntry", "QueueStatusComplete"]
        ami.send_action_nowait({"Action": "UserEvent", "UserEvent": "Hello"})
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        assert [(type(e), e.name, e["linkedid"]) for e in seen] == [(AmiMessage, "UserEvent", "7")]
    finally:
        ami.close()
        server.close()
    login = actions[0]
    assert login["action"] == "Login" and login["events"] == "user"
    with pytest.raises(AmiError, match="not connected"):
        await ami.send_action({"Action": "Ping"})


async def test_a_refused_login_raises_once_and_is_not_retried():
    server, actions = await fake_ami(accept=False)
    port = server.sockets[0].getsockname()[1]
    ami = AmiConnection(AmiAddress("127.0.0.1", port), "cf", "wrong")
    try:
        with pytest.raises(AmiError, match="login as 'cf' refused"):
            await ami.connect(timeout=5)
        await asyncio.sleep(0.3)
    finally:
        server.close()
    assert [a["action"] for a in actions] == ["Login"]
    assert ami.auth_failures == 0  # a tool's connect is not the supervised retry loop


async def test_an_unreachable_ami_raises_oserror_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        ami = AmiConnection(AmiAddress("127.0.0.1", port), "cf", "x")
        with pytest.raises(OSError):
            await ami.connect(timeout=5)
    assert ami.connect_failures == 0  # nothing logged as "unreachable", nothing retried


async def test_the_call_driver_speaks_ami_through_the_adapter():
    server, actions = await fake_ami()
    port = server.sockets[0].getsockname()[1]
    try:
        async with CallDriver("127.0.0.1", port, "cf", "secret") as driver:
            assert await driver.command("core show channels") == "line 1\nline 2"
            assert await driver.getvar("PJSIP/1-0001", "X") == "42"
            waiting = await driver.queue_waiting("q")
            assert [(w.position, w.call_id) for w in waiting] == [(1, None)]
    finally:
        server.close()
    assert [a["action"] for a in actions] == ["Login", "Command", "Getvar", "QueueStatus"]
    refused, _ = await fake_ami(accept=False)
    try:
        with pytest.raises(CallError, match="login as 'cf' refused"):
            await CallDriver("127.0.0.1", refused.sockets[0].getsockname()[1], "cf", "x").connect()
    finally:
        refused.close()


async def test_a_tools_session_lost_is_not_come_back_from():
    """connect() is one session: when AMI drops it (an Asterisk restart), nothing logs in
    again behind the tool's back (a reconnect racing its close() would leak a socket)."""
    server, actions = await fake_ami()
    port = server.sockets[0].getsockname()[1]
    ami = AmiConnection(AmiAddress("127.0.0.1", port), "cf", "secret")
    try:
        await ami.connect(timeout=5)
        server.drop_sessions()  # as a restarting Asterisk does; still listening
        await asyncio.sleep(2.5)  # a supervised connection would be back after 1 s
    finally:
        ami.close()
        server.close()
    assert [a["action"] for a in actions] == ["Login"]
    assert not ami.connected.is_set()
