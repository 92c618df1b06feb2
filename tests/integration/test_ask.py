"""Ask on the real Asterisk: answers pressed as real DTMF are read by the compiled
Read() node, reported by the CallflowEnd event and stored as SurveyResponse rows by a
CallRecorder on its own AMI connection; invalid digits, '#' and silence follow the
declared paths, and every call's trace, destination and answers are the simulator's."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from sqlalchemy import select

from callflow import Ask, Hangup, Site
from callflow.contract import CF_ANSWERS
from callflow.runtime.ami import AmiAddress
from callflow.runtime.services import CallRecordWriter
from callflow.simulate import Script, simulate
from callflow.store import CallRecord, make_engine, make_sessionmaker, upgrade
from callflow.store.surveys import SurveyResponse

from .sites import free_port, load
from .test_live import install, running

pytestmark = pytest.mark.asterisk

SITE = Site(
    name="asks",
    entries={"100": "rate"},
    nodes=[
        Ask(
            id="rate",
            prompt="custom/ask-rate",
            answers="12345",
            next="again",
            timeout=2,
            tries=2,
            invalid_prompt="custom/ask-invalid",
            timeout_prompt="custom/ask-timeout",
            failure="nobody",
        ),
        Ask(
            id="again",
            question="recommend",
            prompt="custom/ask-again",
            answers="12",
            next="bye",
            timeout=2,
            tries=1,
            invalid="wrong",
            on_timeout="bye",
        ),
        Hangup(id="bye"),
        Hangup(id="nobody"),
        Hangup(id="wrong"),
    ],
)


@pytest.fixture
async def recorder(tmp_path, sandbox):
    """The record writer `callflow serve` runs, on the sandbox's AMI, over a fresh store."""
    url = f"sqlite:///{tmp_path / 'answers.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    writer = CallRecordWriter(
        sessions,
        AmiAddress(sandbox.ami_host, sandbox.ami_port),
        sandbox.ami_user,
        sandbox.ami_secret,
        connect_timeout=5,
    )
    await writer.start()
    try:
        yield writer.recorder, sessions
    finally:
        await writer.stop()
        engine.dispose()


async def stored(recorder, sessions, linkedid: str, timeout: float = 5.0):
    """(question, answer) rows of the call ``linkedid`` once its record is written."""
    deadline = time.monotonic() + timeout
    while True:
        await recorder.flush()
        with sessions() as session:
            record = session.scalars(
                select(CallRecord).where(CallRecord.linkedid == linkedid)
            ).one_or_none()
            if record is not None:
                rows = session.scalars(
                    select(SurveyResponse)
                    .where(SurveyResponse.call_record_id == record.id)
                    .order_by(SurveyResponse.id)
                ).all()
                return record.node_trace.split(), [(r.question, r.answer) for r in rows]
        if time.monotonic() > deadline:
            raise AssertionError(f"no call record for {linkedid} within {timeout}s")
        await asyncio.sleep(0.1)


# dtmf ('w' = 0.5 s; prompts are 0.3 s of silence) -> the simulator's inputs, the answers
CASES = [
    ("4ww1", ["4", "1"], [("rate", "4"), ("recommend", "1")]),
    ("9www3ww2", ["9", "3", "2"], [("rate", "3"), ("recommend", "2")]),  # invalid, retried
    ("#www5", ["#", "5", None], [("rate", "5")]),  # '#' ends Read(): silence; then none
    ("", [None, None], []),  # silence twice: failure
    ("2ww7", ["2", "7"], [("rate", "2")]),  # an invalid answer jumps to 'wrong'
]


@pytest.mark.parametrize(("dtmf", "inputs", "answers"), CASES)
async def test_real_dtmf_answers_are_stored_and_follow_the_declared_paths(
    sandbox, driver, recorder, dtmf, inputs, answers
):
    assert load(sandbox, SITE) == []
    rec, sessions = recorder
    handle = await driver.start_call("cf-asks-entry", "100", dtmf=dtmf, hold=6, timeout=30)
    result = await handle.wait_end()
    simulated = simulate(SITE, "100", script=Script(inputs=inputs))
    assert (result.trace, result.dest) == (simulated.trace, simulated.dest)
    expected = "".join(f" {q}:{a}" for q, a in answers)
    assert simulated.variables.get(CF_ANSWERS, "") == expected
    assert result.event.get("answers", "").strip() == expected.strip()
    trace, rows = await stored(rec, sessions, handle.caller_uniqueid)
    assert trace == result.trace
    assert rows == answers


async def test_live_compiled_and_simulated_ask_alike(sandbox, driver):
    """The same calls into the live ARI runtime and into the compiled dialplan at once:
    trace, destination and reported answers are identical, and the simulator's."""
    site = dataclasses.replace(SITE, name="liveask", live=True)
    live, compiled = install(sandbox, site)
    async with running(sandbox, site, free_port()) as service:
        pairs = await asyncio.gather(
            *(
                asyncio.gather(
                    *(
                        driver.place_call(ctx, "100", dtmf=dtmf, hold=6, timeout=30)
                        for ctx in (live, compiled)
                    )
                )
                for dtmf, _inputs, _answers in CASES
            )
        )
        assert service.runtime.started == len(CASES)
    for (dtmf, inputs, answers), results in zip(CASES, pairs, strict=True):
        simulated = simulate(site, "100", script=Script(inputs=inputs))
        expected = "".join(f" {q}:{a}" for q, a in answers).strip()
        for result in results:
            got = (result.trace, result.dest, result.event.get("answers", "").strip())
            assert got == (simulated.trace, simulated.dest, expected), dtmf
