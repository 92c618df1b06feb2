"""``callflow-agi``: the CRM lookup as a classic AGI script, one process per call.

For sites that cannot run ``callflow serve``. Declare the site with
``LookupSettings(url="agi:/usr/local/bin/callflow-agi")``; the compiled Lookup node then
runs ``AGI(/usr/local/bin/callflow-agi,lookup,<site>,<number>)``, and this script
answers exactly like the FastAGI ``lookup`` route (:mod:`callflow.runtime.lookup`): it
keys on the filtered ``<number>`` argument and refuses an AGI environment with a repeated
or malformed line. The database comes
from ``$CALLFLOW_DB`` in Asterisk's environment (never from the dialplan)::

    CALLFLOW_DB=postgresql://crm@db/crm asterisk -f     # or a wrapper script

It logs to stderr (Asterisk's console) and to ``$CALLFLOW_AGI_LOG`` if set. Whatever
goes wrong, it exits 0 without answering (no ``CF_CRM``): the dialplan takes its fallback.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any, TextIO

from asterisk.agi import AGI

from callflow.model.variables import ANSWER_VAR
from callflow.runtime.fastagi import add_env_line, quote
from callflow.runtime.lookup import CustomerLookup, _reason, lookup_key, pack_answer
from callflow.store.engine import make_lookup_engine

log = logging.getLogger("callflow.agi")

#: seconds the whole script may take before it gives up (the caller is waiting)
BUDGET = float(os.environ.get("CALLFLOW_AGI_BUDGET", "1.0"))


class _OverBudget(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _OverBudget(f"over its {BUDGET:g}s budget")


def _setup_logging() -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    path = os.environ.get("CALLFLOW_AGI_LOG")
    if path:
        handlers.append(logging.FileHandler(path))
    logging.basicConfig(
        level=logging.INFO, handlers=handlers, format="%(asctime)s callflow-agi: %(message)s"
    )


class StrictAGI(AGI):  # type: ignore[misc]
    """pyst2's AGI reading the environment as the FastAGI server does: a repeated or
    malformed line (a line break in a caller's name) raises instead of overwriting."""

    def _get_agi_env(self) -> None:
        while True:
            line = self.stdin.readline().rstrip("\r\n")
            if not line:
                return
            add_env_line(self.env, line)


def run(agi: Any, args: Sequence[str]) -> bool:
    """Answer one AGI request on *agi* (a pyst2 ``AGI``); True if it answered."""
    route = args[0] if args else ""
    site = args[1] if len(args) > 1 else "?"
    call = agi.env.get("agi_uniqueid", "?")
    if route != "lookup":
        log.warning("call %s: unknown route %r (expected 'lookup')", call, route)
        return False
    try:
        engine = make_lookup_engine()
        try:
            key = lookup_key(args[1:])
            found = CustomerLookup(engine).answer(key)
        finally:
            engine.dispose()
        agi.execute("SET VARIABLE", ANSWER_VAR, quote(pack_answer(found, key)))
    except Exception as exc:  # any failure: the dialplan falls back, the cause is logged
        log.warning(
            "lookup for call %s (site %s) failed: %s; caller continues at default priority",
            call,
            site,
            _reason(exc),
        )
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callflow-agi`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    _setup_logging()
    logging.getLogger("callflow.store.engine").setLevel(logging.WARNING)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, BUDGET)
    # pyst2 wants text streams; Asterisk speaks UTF-8 whatever the locale says.
    stdin: TextIO = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    stdout: TextIO = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", line_buffering=True)
    try:
        with open(os.devnull, "w") as quiet:  # pyst2 traces every line to stderr
            agi = StrictAGI(stdin=stdin, stdout=stdout, stderr=quiet)
            run(agi, args)
    except _OverBudget as exc:
        log.warning("lookup %s: %s; caller continues at default priority", args, exc)
    except Exception as exc:
        log.warning("lookup %s: AGI conversation failed: %s", args, _reason(exc))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
