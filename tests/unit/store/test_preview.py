"""Preview offers on SQLite and PostgreSQL: offer, accept, skip and expire move the
claimed attempt and its contact honestly (a skipped or expired offer was never dialled:
the contact gets its attempt back, `progress` does not count it as dialled, the per-day
caps do not see it), and the CallflowOffer event cannot be broken by a hostile name."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from callflow.contract import OFFER_EVENT, OFFER_FIELDS
from callflow.outbound import attempts as api
from callflow.outbound.compliance import check_contact
from callflow.outbound.dispositions import OFFER_EXPIRED, SKIPPED
from callflow.outbound.preview import (
    PreviewError,
    accept,
    declined_by,
    expire,
    header_value,
    offer,
    offer_event,
    open_offers,
    skip,
    withdraw,
)
from callflow.store import make_sessionmaker
from callflow.store.campaigns import CampaignAttempt, CampaignContact

from .test_outbound_attempts import NOW, add_contacts, rules

RULES = rules(max_attempts=2, max_per_day=1)


def claimed(engine: Engine, n: int = 1, at: dt.datetime = NOW) -> list[str]:
    return [
        c.attempt_id
        for c in api.claim(make_sessionmaker(engine), RULES, now=at, dialer_id="d1", limit=n)
    ]


def contact_of(session, attempt_id: str) -> CampaignContact:
    row = session.get(CampaignAttempt, attempt_id)
    return session.get(CampaignContact, row.contact_id)


def test_offer_then_accept_by_the_agent_only(engine: Engine) -> None:
    add_contacts(engine, 1)
    [attempt] = claimed(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        made = offer(s, attempt, "ann", NOW)
        assert (made.agent, made.number, made.site, made.campaign) == (
            "ann", "+8613800000000", "star", "survey")  # fmt: skip
        assert offer(s, attempt, "ann", NOW).offered_at == NOW  # again: unchanged
        with pytest.raises(PreviewError, match="already offered to ann"):
            offer(s, attempt, "bob", NOW)
    with Session.begin() as s:
        assert [o.attempt_id for o in open_offers(s, "star", "survey")] == [attempt]
        assert open_offers(s, "star", "survey", agent="bob") == []
        with pytest.raises(PreviewError, match="offered to ann, not to bob"):
            accept(s, attempt, "bob", NOW)
    later = NOW + dt.timedelta(seconds=5)
    with Session.begin() as s:
        assert accept(s, attempt, "ann", later)
        assert not accept(s, attempt, "ann", later)  # idempotent
        row = s.get(CampaignAttempt, attempt)
        assert (row.agent, row.accepted_at, row.state) == ("ann", later, "reserved")
        assert open_offers(s, "star", "survey") == []
        with pytest.raises(PreviewError, match="already accepted by ann"):
            skip(s, attempt, "ann", later)
        assert api.progress(s, "star", "survey")["offered"] == 0


def test_skip_gives_the_attempt_back_and_is_not_counted_as_dialled(engine: Engine) -> None:
    add_contacts(engine, 1)
    [attempt] = claimed(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        offer(s, attempt, "ann", NOW)
        assert api.progress(s, "star", "survey")["offered"] == 1
        assert contact_of(s, attempt).attempts == 1
    with Session.begin() as s:
        with pytest.raises(PreviewError, match="only ann can skip"):
            skip(s, attempt, "bob", NOW)
        assert skip(s, attempt, "ann", NOW)
        assert not skip(s, attempt, "ann", NOW)
    with Session.begin() as s:
        row = s.get(CampaignAttempt, attempt)
        assert (row.state, row.disposition, row.live_number) == ("ended", SKIPPED, None)
        contact = contact_of(s, attempt)
        assert (contact.status, contact.attempts) == ("pending", 0)
        counts = api.progress(s, "star", "survey")
        assert counts["attempts"] == 0 and counts["skipped"] == 1 and counts["live"] == 0
        assert counts["remaining"] == 1 and counts["dispositions"] == {SKIPPED: 1}
        # max_per_day=1: the skipped offer used none of the day's one call
        assert check_contact(s, RULES, contact, NOW).allowed
        assert declined_by(s, contact.id) == {"ann"}
        with pytest.raises(PreviewError, match="skipped by ann"):
            accept(s, attempt, "ann", NOW)
    # due again at once, with the same attempt number
    [again] = claimed(engine)
    with Session() as s:
        assert s.get(CampaignAttempt, again).attempt_no == 1


def test_expire_ends_unanswered_offers_only(engine: Engine) -> None:
    add_contacts(engine, 3)
    first, second, third = claimed(engine, 3)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        offer(s, first, "ann", NOW)
        offer(s, second, "bob", NOW + dt.timedelta(seconds=50))
        offer(s, third, "cat", NOW)
        accept(s, third, "cat", NOW + dt.timedelta(seconds=1))
    at = NOW + dt.timedelta(seconds=61)
    with Session.begin() as s:
        assert expire(s, at, 60, site="star", campaign="other") == []
        assert expire(s, at, 60, site="star", campaign="survey") == [first]
        assert expire(s, at, 60) == []
    with Session.begin() as s:
        row = s.get(CampaignAttempt, first)
        assert (row.state, row.disposition) == ("ended", OFFER_EXPIRED)
        assert contact_of(s, first).attempts == 0
        with pytest.raises(PreviewError, match="offer expired"):
            accept(s, first, "ann", at)
        # an accept that comes late is refused when the caller knows the limit
        with pytest.raises(PreviewError, match=r"expired \(offered 61 s ago, 60 s allowed"):
            accept(s, second, "bob", NOW + dt.timedelta(seconds=111), seconds=60)
        counts = api.progress(s, "star", "survey")
        assert counts["skipped"] == 1 and counts["attempts"] == 2 and counts["offered"] == 1


def test_unknown_and_unoffered_attempts_are_clear_errors(engine: Engine) -> None:
    add_contacts(engine, 1)
    [attempt] = claimed(engine)
    with make_sessionmaker(engine).begin() as s:
        with pytest.raises(PreviewError, match="no attempt 'nope'"):
            accept(s, "nope", "ann", NOW)
        with pytest.raises(PreviewError, match="not offered to anyone"):
            skip(s, attempt, "ann", NOW)
        assert s.scalars(select(CampaignAttempt)).one().offered_to is None


def test_finish_refuses_the_never_dialled_dispositions(engine: Engine) -> None:
    add_contacts(engine, 1)
    [attempt] = claimed(engine)
    with make_sessionmaker(engine).begin() as s, pytest.raises(api.AttemptError, match="skip"):
        api.finish(s, attempt, disposition=SKIPPED, cause=None, at=NOW)


HOSTILE = "Evil\r\n\r\nAction: Originate\r\nChannel: Local/1@x\x01\x1b[31m\u2028\x85end"


def test_the_offer_event_carries_a_hostile_name_on_one_header_line(engine: Engine) -> None:
    add_contacts(engine, 1)
    [attempt] = claimed(engine)
    with make_sessionmaker(engine).begin() as s:
        contact_of(s, attempt).name = HOSTILE
    with make_sessionmaker(engine).begin() as s:
        made = offer(s, attempt, "ann", NOW)
    event = offer_event(made, expires=NOW + dt.timedelta(seconds=60))
    assert list(event) == ["Action", "UserEvent", *OFFER_FIELDS]
    assert event["UserEvent"] == OFFER_EVENT and event["Attempt"] == attempt
    assert event["Name"] == "Evil Action: Originate Channel: Local/1@x [31m end"
    assert event["Expires"] == "2026-12-01T06:01:00+00:00"
    wire = "".join(f"{k}: {v}\r\n" for k, v in event.items()) + "\r\n"
    assert wire.count("\r\n") == len(event) + 1 and "\n\r\n" not in wire[:-2]
    assert not any(c in v for v in event.values() for c in "\r\n\x00\x1b\x85\u2028")


def test_header_values_are_cut_on_a_character_boundary() -> None:
    name = "王" * 400  # 1,200 bytes of UTF-8
    cut = header_value(name)
    assert cut == "王" * 170 and len(cut.encode()) == 510
    assert header_value("  a\tb  ") == "a b"


def test_withdraw_gives_back_only_open_offers(engine: Engine) -> None:
    add_contacts(engine, 3)
    opened, accepted, plain = claimed(engine, 3)
    with make_sessionmaker(engine).begin() as s:
        offer(s, opened, "ann", NOW)
        offer(s, accepted, "bob", NOW)
        accept(s, accepted, "bob", NOW)
    with make_sessionmaker(engine).begin() as s:
        assert withdraw(s, opened, NOW)
        assert not withdraw(s, opened, NOW)
        assert not withdraw(s, accepted, NOW)  # may have been dialled: a call to reconcile
        assert not withdraw(s, plain, NOW)
    with make_sessionmaker(engine)() as s:
        assert s.get(CampaignAttempt, opened).disposition == OFFER_EXPIRED
        assert contact_of(s, opened).attempts == 0
        assert s.get(CampaignAttempt, accepted).state == "reserved"
