"""Test your own sites: offline against the simulator, with a fake channel on the live
runtime, or with real calls on a sandbox.

Offline, no Asterisk needed (the simulator walks the flow as the compiled dialplan does)::

    from callflow.testing import assert_route, caller, simulate
    result = simulate(site, "8001", script=caller("9", tier="vip"))
    assert_route(result, ["main", "front_desk_queue"], "queue:front_desk_queue")

With real calls, through a running Asterisk (a :class:`~callflow.sandbox.Sandbox`), a
:class:`CallDriver` places calls over AMI and reports where they went (see
:mod:`callflow.testing.driver`); the same ``at`` moment serves both::

    at = datetime(2027, 3, 1, 10, 0, tzinfo=ZoneInfo(site.timezone))
    assert simulate(site, "8000", at=at).dest == (await driver.place_call(
        "cf-shop-entry", "8000", at=at)).dest

:class:`FakeChannel` (:mod:`callflow.testing.fakes`) runs the live ARI interpreter
against a recording fake for unit tests.
"""

from callflow.simulate import (
    SILENCE,
    RouteMismatch,
    Script,
    SimEvent,
    SimResult,
    SimulationError,
    Simulator,
    assert_route,
    call_time,
    caller,
    simulate,
)
from callflow.testing.driver import (
    CallDriver,
    CallError,
    CallHandle,
    CallResult,
    CallTimeout,
    QueueAnswer,
    QueueJoin,
    WaitingCaller,
    ami_value,
    install_placeholder_prompts,
    prompt_files,
)
from callflow.testing.fakes import FakeChannel, run_live_call
from callflow.testing.sip import Sipp, SippProcess, SippResult, answered_call, without_phones

__all__ = [
    "SILENCE",
    "CallDriver",
    "CallError",
    "CallHandle",
    "CallResult",
    "CallTimeout",
    "FakeChannel",
    "QueueAnswer",
    "QueueJoin",
    "RouteMismatch",
    "Script",
    "SimEvent",
    "SimResult",
    "SimulationError",
    "Simulator",
    "Sipp",
    "SippProcess",
    "SippResult",
    "WaitingCaller",
    "ami_value",
    "answered_call",
    "assert_route",
    "call_time",
    "caller",
    "install_placeholder_prompts",
    "prompt_files",
    "run_live_call",
    "simulate",
    "without_phones",
]
