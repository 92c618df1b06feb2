"""The CRM lookup behind the compiled Lookup node: caller number in, channel variables out.

The dialplan runs ``AGI(agi://host:port/lookup,<site>,<number>)`` (FastAGI, served by
:class:`LookupRoute`) or ``AGI(<program>,lookup,<site>,<number>)`` (the classic
``callflow-agi`` script, one process per call). ``<number>`` is ``CALLERID(num)`` passed
through ``FILTER(0-9+)`` by the dialplan: the lookup keys on that argument, never on the
``agi_callerid`` header, which text in a caller's name can forge (:func:`lookup_key`).
Both answer with one ``SET VARIABLE CF_CRM`` holding the
whole customer (:func:`pack_answer`; one round trip to Asterisk instead of one per
variable), which the compiled Lookup node unpacks into ``CF_TIER``, ``CF_MANAGER``... and
marks ``CF_LOOKUP=ok``. A lookup cut short by an error, the time budget or a database
outage never sets it, so the dialplan clears the customer variables and the caller goes
on at default priority. Why is logged with the call's id::

    lookup = CustomerLookup(make_engine("sqlite:///crm.db"))
    server = FastAgiServer({"lookup": LookupRoute(lookup, budget=0.5)}, port=4573)

Values from the CRM are data: :func:`~callflow.runtime.fastagi.quote` keeps them one
AGI argument each, and the compiled dialplan filters them again before using them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine

from callflow.contract import (
    ANSWER_FIELDS,
    ANSWER_PAD,
    ANSWER_VAR,
    CALLERID_NAME,
    CF_CUSTOMER_ID,
    CF_CUSTOMER_NAME,
    CF_LANG,
    CF_LOOKUP,
    CF_MANAGER,
    CF_REGION,
    CF_SEGMENT,
    CF_TAGS,
    CF_TIER,
)
from callflow.runtime.fastagi import AgiRequest, AgiSession, RateLimitedLog, quote
from callflow.store.repositories import CallerFinder, CustomerView

log = logging.getLogger("callflow.lookup")

#: longest customer name sent to the channel (CALLERID(name), CF_CUSTOMER_NAME)
NAME_LIMIT = 80

Assignment = tuple[str, str]

#: what the compiled dialplan's ``FILTER(0-9+,${CALLERID(num)})`` can leave
_KEY = re.compile(r"[0-9+]{0,64}")


def lookup_key(args: Sequence[str]) -> str:
    """The caller number a lookup keys on: the second AGI argument (after the site),
    which the compiled dialplan filters to digits and ``+``. Raises ValueError when it is
    missing (a dialplan compiled by an older callflow: recompile and deploy) or holds anything
    else (not our dialplan)::

        lookup_key(["acme", "13800000001"])   # '13800000001'
    """
    if len(args) < 2:
        raise ValueError("no caller number argument (dialplan compiled by an older callflow?)")
    if not _KEY.fullmatch(args[1]):
        raise ValueError(f"caller number argument {args[1][:40]!r} is not digits and +")
    return args[1]


class StoreUnavailable(RuntimeError):
    """The customer database cannot answer (missing file, no server)."""


def assignments(view: CustomerView | None) -> list[Assignment]:
    """What a successful lookup means for the channel, in order; ``CF_LOOKUP=ok`` last.

    Only variables with a value are listed. The live runtime sets these itself; over AGI
    :func:`pack_answer` carries them in one variable and the compiled Lookup node sets
    them. An unknown caller is a successful lookup with nothing to tell::

        assignments(None)   # [("CF_LOOKUP", "ok")]
    """
    if view is None:
        return [(CF_LOOKUP, "ok")]
    name = " ".join(view.name.split())[:NAME_LIMIT]
    found = [
        (CF_CUSTOMER_ID, str(view.id)),
        (CF_TIER, view.tier),
        (CF_MANAGER, view.manager_id or ""),
        (CF_LANG, view.language or ""),
        # the store has no segment column yet: region, else tier, is the segment
        (CF_SEGMENT, view.region or view.tier),
        (CF_REGION, view.region or ""),
        (CF_TAGS, ".".join(view.tags)),
        (CF_CUSTOMER_NAME, name),
        (CALLERID_NAME, name),
    ]
    return [(key, value) for key, value in found if value] + [(CF_LOOKUP, "ok")]


#: what pack_answer leaves out: the dialplan sets both itself from the fields
_DERIVED = frozenset({CF_LOOKUP, CALLERID_NAME})


def pack_answer(found: Iterable[Assignment], key: str) -> str:
    """The ``CF_CRM`` value that carries *found*, the answer for caller number *key*
    (see :func:`lookup_key`), to the compiled Lookup node.

    ``ok:<key>`` alone for an unknown caller; otherwise followed by every field of
    :data:`~callflow.model.variables.ANSWER_FIELDS`, present or empty, base64-encoded, so
    nothing a CRM holds can break out of the one AGI argument or the dialplan. The
    dialplan takes the answer only if ``<key>`` is the number it asked about: an AGI
    environment forged through a caller's name cannot lend the caller another's answer::

        pack_answer([("CF_LOOKUP", "ok")], "139")                  # 'ok:139'
        pack_answer([("CF_TIER", "vip"), ("CF_LOOKUP", "ok")], "138")
        # 'ok:138.LQ==.LXZpcA==.LQ==...'
    """
    if not _KEY.fullmatch(key):
        raise ValueError(f"lookup answer: key {key[:40]!r} is not digits and +")
    values: dict[str, str] = {}
    for name, value in found:
        if name in _DERIVED:
            continue
        if name not in ANSWER_FIELDS:
            raise ValueError(f"lookup answer: {name!r} is not one of {', '.join(ANSWER_FIELDS)}")
        values[name] = value
    if not values:
        return f"ok:{key}"
    fields = (
        base64.b64encode((ANSWER_PAD + values.get(name, "")).encode()).decode()
        for name in ANSWER_FIELDS
    )
    return ".".join((f"ok:{key}", *fields))


def answer_command(found: Iterable[Assignment], key: str) -> str:
    """The one AGI command that answers a lookup: ``SET VARIABLE CF_CRM "ok:<key>..."``."""
    return agi_command(ANSWER_VAR, pack_answer(found, key))


def agi_command(name: str, value: str) -> str:
    """The ``SET VARIABLE`` line for one assignment (the value quoted as one argument)."""
    return f"SET VARIABLE {name} {quote(value)}"


def check_sqlite_file(engine: Engine) -> None:
    """Raise :class:`StoreUnavailable` if *engine* is a SQLite file that does not exist
    (connecting would silently create an empty one)."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return
    db = url.database or ""
    if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_file():
        raise StoreUnavailable(f"database file {db} does not exist")


class CustomerLookup:
    """Find the caller in the store and say what to set on the channel (blocking)."""

    def __init__(self, engine: Engine, *, default_region: str = "CN") -> None:
        self.engine = engine
        self.find = CallerFinder(engine, default_region)

    def answer(self, caller: str) -> list[Assignment]:
        """Assignments for *caller* (any CallerID form); raises on store errors."""
        check_sqlite_file(self.engine)
        return assignments(self.find(caller))


class LookupRoute:
    """The FastAGI ``lookup`` route: the store query runs in a small thread pool under
    ``budget`` seconds; past that, or on any error, nothing is set and the reason logged.

    Queries still queued when their call's budget runs out (a locked database) are
    dropped, so a backlog never outlives the outage. One worker measured the same as
    eight at 100 lookups/s on SQLite (``benchmarks/lookup.py --threads``); more keep one
    slow query from holding up the others.
    """

    def __init__(self, lookup: CustomerLookup, *, budget: float = 0.5, threads: int = 8) -> None:
        self.lookup = lookup
        self.budget = budget
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="cf-lookup")
        self.answered = 0
        self.fallbacks = 0
        #: a flood of bad requests cannot flood the log
        self.warnings = RateLimitedLog(log)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __call__(self, request: AgiRequest, agi: AgiSession) -> None:
        site = request.args[0] if request.args else "?"
        loop = asyncio.get_running_loop()
        try:
            number = lookup_key(request.args)
            async with asyncio.timeout(self.budget):
                found = await loop.run_in_executor(self._pool, self.lookup.answer, number)
        except TimeoutError:
            self.fallbacks += 1
            self.warnings.warning(
                "lookup for call %s (site %s): store gave no answer within %gs; "
                "caller continues at default priority",
                request.uniqueid,
                site,
                self.budget,
            )
            return
        except Exception as exc:
            self.fallbacks += 1
            self.warnings.warning(
                "lookup for call %s (site %s) failed: %s; caller continues at default priority",
                request.uniqueid,
                site,
                _reason(exc),
            )
            return
        await send(agi, found, number)
        self.answered += 1


async def send(agi: AgiSession, found: Iterable[Assignment], key: str) -> None:
    """Answer the lookup with *found* in one command (see :func:`pack_answer`).

    One command, not one per variable: a round trip costs ~0.1 ms, and AGI cannot
    pipeline (Asterisk reads commands through a stdio buffer but waits on the socket
    between them, so commands written ahead of their replies sit unread until the
    conversation's budget runs out; tried on Asterisk 22).
    """
    await agi.command(answer_command(found, key))


def _reason(exc: BaseException) -> str:
    # SQLAlchemy errors carry the SQL and parameters; the first line is the cause.
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
