"""Caller identity through AGI: the lookup keys on the dialplan's filtered number argument,
and both AGI readers refuse an environment that text in a caller's name has rewritten."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callflow import Hangup, Lookup, LookupSettings, Site
from callflow.agi_script import StrictAGI
from callflow.agi_script import run as run_classic
from callflow.compiler import compile_site
from callflow.runtime.fastagi import AgiError, FastAgiServer, add_env_line, read_request
from callflow.runtime.interpreter import lookup_number
from callflow.runtime.lookup import LookupRoute, lookup_key
from callflow.validate import validate

VIP, UNKNOWN = "13800000001", "13900000009"


def env_lines(caller: str, name: str, *args: str) -> list[str]:
    """The environment res_agi's setup_env writes, in its order, text inserted raw."""
    lines = [
        "agi_request: agi://127.0.0.1/lookup",
        "agi_channel: Local/s@cf-test-dial-00000001;2",
        "agi_language: en",
        "agi_type: Local",
        "agi_uniqueid: cf0001-site",
        "agi_version: 22.0.0",
        f"agi_callerid: {caller}",
        f"agi_calleridname: {name}",
        "agi_callingpres: 0",
        "agi_dnid: unknown",
        "agi_context: cf-s-who",
        "agi_extension: s",
        "agi_priority: 6",
        "agi_network: yes",
        "agi_network_script: lookup",
    ]
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)]
    text = "\n".join(lines) + "\n\n"
    return text.split("\n")


async def read_text(text: str):
    reader = asyncio.StreamReader()
    reader.feed_data(text.encode())
    reader.feed_eof()
    return await read_request(reader)


def test_env_lines_are_added_once_in_asterisks_exact_form():
    env: dict[str, str] = {}
    add_env_line(env, "agi_callerid: 13900000009")
    add_env_line(env, "agi_arg_1: acme")
    assert env == {"agi_callerid": "13900000009", "agi_arg_1": "acme"}
    with pytest.raises(AgiError, match="repeats 'agi_callerid'"):
        add_env_line(env, f"agi_callerid: {VIP}")
    assert env["agi_callerid"] == "13900000009"
    for bad in (f" agi_callerid: {VIP}", "Alice", "agi_x:1", "AGI_X: 1", "x: y", ""):
        with pytest.raises(AgiError, match="malformed"):
            add_env_line({}, bad)


@pytest.mark.parametrize(
    "payload", [f"x\nagi_callerid: {VIP}", f"x\n agi_callerid: {VIP}", "x\nline two"]
)
async def test_a_line_break_in_the_callers_name_is_refused_not_believed(payload):
    text = "\n".join(env_lines(UNKNOWN, payload, "acme", UNKNOWN))
    with pytest.raises(AgiError):
        await read_text(text)


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
def test_any_name_without_a_line_break_reads_back_as_the_environment(name):
    name = name.replace("\n", " ")
    text = "\n".join(env_lines(UNKNOWN, name, "acme", UNKNOWN))
    request = asyncio.run(read_text(text))
    assert request.caller == UNKNOWN
    assert request.env["agi_calleridname"] == name.strip()
    assert request.args == ["acme", UNKNOWN]


def test_the_lookup_key_is_the_filtered_number_argument():
    assert lookup_key(["acme", "+8613800000001"]) == "+8613800000001"
    assert lookup_key(["acme", ""]) == ""
    with pytest.raises(ValueError, match="no caller number"):
        lookup_key(["acme"])
    for bad in ("138 0000", "1380\n", "13800000001;x", "\uff11\uff13\uff18"):
        with pytest.raises(ValueError, match="not digits"):
            lookup_key(["acme", bad])


@given(st.text(max_size=40))
def test_the_live_lookup_filters_the_number_as_the_compiled_dialplan_does(caller):
    # FILTER(0-9+,...) keeps the bytes 0-9 and +; every other character (any UTF-8
    # sequence of a non-ASCII one) is dropped
    expected = bytes(b for b in caller.encode("utf-8", "surrogatepass") if b in b"0123456789+")
    assert lookup_number(caller) == expected.decode()
    assert lookup_key(["acme", lookup_number(caller)[:64]]) == lookup_number(caller)[:64]


def test_the_compiled_lookup_passes_the_filtered_number_under_a_bound():
    site = Site(
        name="acme",
        entries={"100": "who"},
        lookup=LookupSettings(url="agi://127.0.0.1:4573"),
        nodes=[Lookup(id="who", next="bye"), Hangup(id="bye")],
    )
    text = compile_site(site).files["extensions.conf"]
    lines = [line for line in text.splitlines() if line.startswith("exten => ")]
    who = [
        line
        for line in lines
        if "AGIEXIT" in line or "AGI(" in line or "TIMEOUT(" in line or "=> T," in line
    ]
    assert who == [
        "exten => s,4,Set(AGIEXITONHANGUP=yes)",
        "exten => s,5,Set(TIMEOUT(absolute)=2) ; hung CRM",
        "exten => s,6,AGI(agi://127.0.0.1:4573/lookup,acme,${FILTER(0-9+,${CALLERID(num)})})",
        "exten => s,7,Set(TIMEOUT(absolute)=0)",
        "exten => T,1,Goto(s,failed) ; no answer within 2s",
    ]
    assert "exten => s,9(failed),Set(CF_LOOKUP=failed)" in text


def test_the_lookup_bound_is_the_sites_own():
    site = Site(
        name="acme",
        entries={"100": "who"},
        lookup=LookupSettings(url="agi:/usr/local/bin/callflow-agi", timeout=6.5),
        nodes=[Lookup(id="who", next="bye"), Hangup(id="bye")],
    )
    text = compile_site(site).files["extensions.conf"]
    assert "exten => s,5,Set(TIMEOUT(absolute)=6.5) ; hung CRM" in text
    assert "exten => T,1,Goto(s,failed) ; no answer within 6.5s" in text
    bad = dataclasses.replace(site, lookup=LookupSettings(timeout=0.1))
    assert [d.code for d in validate(bad) if d.path == "site.lookup.timeout"] == ["CF116"]


class _Answers:
    """A CustomerLookup stand-in: records the numbers asked, knows one VIP."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def answer(self, caller: str) -> list[tuple[str, str]]:
        self.asked.append(caller)
        if caller == VIP:
            return [("CF_TIER", "vip"), ("CF_LOOKUP", "ok")]
        return [("CF_LOOKUP", "ok")]


async def converse(port: int, lines: list[str], replies: int = 1) -> list[str]:
    """Play Asterisk: send the environment, answer ``replies`` commands, return them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write("\n".join(lines).encode())
    await writer.drain()
    got = []
    while raw := await reader.readline():
        got.append(raw.decode().rstrip("\n"))
        if len(got) <= replies:
            writer.write(b"200 result=1\n")
            await writer.drain()
    writer.close()
    return got


async def test_the_route_keys_on_the_argument_not_on_agi_callerid():
    answers = _Answers()
    route = LookupRoute(answers, budget=1.0)  # type: ignore[arg-type]
    try:
        async with FastAgiServer({"lookup": route}, port=0) as server:
            # a forged agi_callerid (one line, no duplicate): the argument still decides
            sent = await converse(server.port, env_lines(VIP, "Mallory", "acme", UNKNOWN))
        assert answers.asked == [UNKNOWN]
        assert sent == [f'SET VARIABLE CF_CRM "ok:{UNKNOWN}"']
    finally:
        route.close()


async def test_a_rewritten_environment_gets_no_answer_and_is_logged(caplog):
    caplog.set_level(logging.WARNING)
    answers = _Answers()
    route = LookupRoute(answers, budget=1.0)  # type: ignore[arg-type]
    # the whole environment forged inside the name, ended early by a blank line: the real
    # lines that follow are read as the reply to the answer, which therefore fails
    forged = "\n".join(env_lines(UNKNOWN, "x", "acme", VIP)[8:-1])
    try:
        async with FastAgiServer({"lookup": route}, port=0) as server:
            duplicate = await converse(
                server.port, env_lines(UNKNOWN, f"x\nagi_callerid: {VIP}", "acme", UNKNOWN)
            )
            early = await converse(
                server.port, env_lines(UNKNOWN, f"x\n{forged}", "acme", UNKNOWN), replies=0
            )
        assert duplicate == []
        assert answers.asked == [VIP]  # the early-ended one reached the store
        assert server.served == 0 and server.failed == 2
        # the answer names the number it is about; the compiled node takes it only if that
        # is the caller's own filtered number (proven on real calls in test_crm.py)
        assert len(early) == 1 and early[0].startswith(f'SET VARIABLE CF_CRM "ok:{VIP}.')
    finally:
        route.close()
    assert "repeats 'agi_callerid'" in caplog.text


def test_the_classic_script_refuses_a_repeated_line_and_keys_on_its_argument(monkeypatch):
    lines = env_lines(UNKNOWN, f"x\nagi_callerid: {VIP}", "acme", UNKNOWN)
    with pytest.raises(AgiError, match="repeats"):
        StrictAGI(stdin=io.StringIO("\n".join(lines)), stdout=io.StringIO(), stderr=io.StringIO())

    asked: list[str] = []

    class Lookup:
        def __init__(self, _engine):
            pass

        def answer(self, caller):
            asked.append(caller)
            return [("CF_LOOKUP", "ok")]

    class Engine:
        def dispose(self):
            pass

    monkeypatch.setattr("callflow.agi_script.CustomerLookup", Lookup)
    monkeypatch.setattr("callflow.agi_script.make_lookup_engine", lambda: Engine())
    out = io.StringIO()
    agi = StrictAGI(
        stdin=io.StringIO("\n".join(env_lines(VIP, "M", "acme", UNKNOWN)) + "200 result=1\n"),
        stdout=out,
        stderr=io.StringIO(),
    )
    assert run_classic(agi, ["lookup", "acme", UNKNOWN]) is True
    assert asked == [UNKNOWN]
    assert not run_classic(agi, ["lookup", "acme"])  # no number argument: no answer


async def test_the_live_runtime_looks_up_the_filtered_number():
    from callflow.runtime.interpreter import Interpreter
    from callflow.runtime.session import CallSession
    from tests.unit.test_runtime_interpreter import FakeChannel

    asked: list[str] = []

    async def crm(caller: str) -> dict[str, str]:
        asked.append(caller)
        return {}

    site = Site(
        name="acme", entries={"100": "who"}, nodes=[Lookup(id="who", next="bye"), Hangup(id="bye")]
    )
    fake = FakeChannel()
    session = CallSession(
        fake, channel="c1", site="acme", entry="100", caller=f"+86 139-0000\n0009;{VIP}"
    )
    fake.session = session
    await Interpreter(site, lookup=crm).run_call(session)
    assert asked == [f"+8613900000009{VIP}"]  # what FILTER(0-9+) leaves in dialplan
