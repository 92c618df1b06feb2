"""`callflow campaign offers|accept|skip` on bad input: one clear message naming what and
where, a non-zero exit, never a traceback (tests/badinput.py); and the good path."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact
from tests.badinput import GOOD_SITE, Case, assert_clean, check, run_cli, run_real

SITE = GOOD_SITE.replace(
    "from callflow import",
    "from callflow.model.campaigns import CallingWindow, Campaign\n"
    "from callflow.model.schedule import Hours\nfrom callflow import",
).replace(
    "    nodes=[",
    """    campaigns=[Campaign(id="recall", kind="followup", connect_to="desk",
                        caller_id="+862112345678", dial_mode="preview",
                        preview_seconds=600, abandon_message="custom/sorry",
                        window=CallingWindow(hours=(Hours("mon-sun", "09:00", "18:00"),)))],
    nodes=[""",
)


@lru_cache(maxsize=1)
def migrated_db() -> bytes:
    """An empty migrated store (migrating is the slow part: once per worker)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cf.db"
        upgrade(f"sqlite:///{path}")
        return path.read_bytes()


def offers_db(now: dt.datetime) -> bytes:
    """A store with attempts offered at *now*: ``open1`` offered to ann, ``gone1`` whose
    offer expired, ``plain1`` claimed but not offered."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cf.db"
        path.write_bytes(migrated_db())
        engine = make_engine(f"sqlite:///{path}")
        with make_sessionmaker(engine).begin() as session:
            for i, (attempt, state, offered, disposition) in enumerate(
                (
                    ("open1", "reserved", "ann", None),
                    ("gone1", "ended", "ann", "offer_expired"),
                    ("plain1", "reserved", None, None),
                )
            ):
                number = f"+8613800000{i:03d}"
                contact = CampaignContact(site="good", campaign="recall", number=number,
                                          name=f"Customer {i}", source="csv")  # fmt: skip
                session.add(contact)
                session.flush()
                session.add(
                    CampaignAttempt(
                        id=attempt,
                        contact_id=contact.id,
                        site="good",
                        campaign="recall",
                        number=number,
                        attempt_no=1,
                        state=state,
                        live_number=None if state == "ended" else number,
                        offered_to=offered,
                        offered_at=now if offered else None,
                        disposition=disposition,
                        created_at=now,
                    )
                )
        engine.dispose()
        return path.read_bytes()


FILES: dict[str, str | bytes] = {"site.py": SITE}


@pytest.fixture(autouse=True)
def offered_now() -> dt.datetime:
    """Each test's store is made when the test starts: offers made at import time expired
    during a long suite (preview_seconds is 600)."""
    now = dt.datetime.now(dt.UTC)
    FILES["cf.db"] = offers_db(now)
    return now


DB = ["--db", "sqlite:///{tmp}/cf.db"]
CASES = [
    Case(
        "accept-unknown-attempt",
        ["campaign", "accept", "nope", "--agent", "ann", *DB],
        expect=["no attempt 'nope'"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "accept-hostile-attempt-id",
        ["campaign", "accept", "x'; DROP TABLE campaign_attempts;--\n", "--agent", "ann", *DB],
        expect=['no attempt "x\'; DROP TABLE campaign_attempts;--\\n"'],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "accept-wrong-agent",
        ["campaign", "accept", "open1", "--agent", "bob", *DB],
        expect=["attempt open1 is offered to ann, not to bob", "only ann can accept"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "skip-wrong-agent",
        ["campaign", "skip", "open1", "--agent", "bob", *DB],
        expect=["offered to ann, not to bob", "only ann can skip"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "accept-expired",
        ["campaign", "accept", "gone1", "--agent", "ann", *DB],
        expect=["attempt gone1 cannot be accepted", "its offer expired"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "skip-expired",
        ["campaign", "skip", "gone1", "--agent", "ann", *DB],
        expect=["attempt gone1 cannot be skipped", "its offer expired"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "accept-not-offered",
        ["campaign", "accept", "plain1", "--agent", "ann", *DB],
        expect=["attempt plain1 was not offered to anyone"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "accept-without-agent",
        ["campaign", "accept", "open1", *DB],
        expect=["--agent"],
        files=FILES,
        exit_code=2,
    ),
    Case(
        "accept-not-a-db-url",
        ["campaign", "accept", "open1", "--agent", "ann", "--db", "nonsense"],
        expect=["'nonsense' is not a database URL"],
        exit_code=1,
    ),
    Case(
        "offers-unknown-campaign",
        ["campaign", "offers", "site.py", "nope", *DB],
        expect=["site.py", "no campaign 'nope'", "recall"],
        files=FILES,
        exit_code=1,
    ),
    Case(
        "offers-unknown-agent",
        ["campaign", "offers", "site.py", "recall", "--agent", "zed", *DB],
        expect=["--agent", "no staff 'zed'"],
        files=FILES,
        exit_code=2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_fails_cleanly(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_the_real_entry_point_fails_cleanly(tmp_path: Path) -> None:
    case = CASES[2]
    assert_clean(case, tmp_path, run_real(case, tmp_path))


def test_offers_accept_and_skip_work(tmp_path: Path, offered_now: dt.datetime) -> None:
    written = run_cli(Case("write", ["campaign", "offers", "site.py", "recall", *DB],
                           files=FILES), tmp_path)  # fmt: skip
    assert written.exit_code == 0 and "open1" in written.output, written.output

    def run(*argv: str, code: int = 0) -> str:
        result = run_cli(Case("good", [*argv, *DB]), tmp_path)  # the same store each time
        assert result.exit_code == code, result.output
        return result.output

    listed = json.loads(run("campaign", "offers", "site.py", "recall", "--json"))
    assert [(o["attempt"], o["agent"], o["number"], o["name"]) for o in listed] == [
        ("open1", "ann", "+8613800000000", "Customer 0")
    ]
    elapsed = (dt.datetime.now(dt.UTC) - offered_now).total_seconds()
    assert abs(listed[0]["seconds_left"] - (600 - elapsed)) <= 2
    out = run("campaign", "accept", "open1", "--agent", "ann")
    assert "attempt open1 accepted by ann: the dialer dials it now" in out
    assert "was already accepted by ann" in run("campaign", "accept", "open1", "--agent", "ann")
    assert json.loads(run("campaign", "offers", "site.py", "recall", "--json")) == []
    assert "no open offers in campaign recall" in run("campaign", "offers", "site.py", "recall")
    late = run("campaign", "skip", "open1", "--agent", "ann", code=1)
    assert "cannot be skipped: it was already accepted by ann" in late
