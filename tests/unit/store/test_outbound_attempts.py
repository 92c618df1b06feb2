"""The attempts API on SQLite and a real PostgreSQL: one live attempt per number is the
database's rule, claims never hand out a contact twice, leases expire and are taken over,
finish is idempotent and moves contacts through retries to their final status."""

from __future__ import annotations

import datetime as dt
import json
import threading
from uuid import uuid4

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callflow.model.campaigns import Campaign
from callflow.model.site import Site
from callflow.outbound import attempts as api
from callflow.outbound.compliance import Rules
from callflow.store import make_engine, make_sessionmaker
from callflow.store.campaigns import CampaignAttempt, CampaignContact, Dialer, DncNumber

NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)  # 14:00 in Shanghai


def rules(**overrides: object) -> Rules:
    fields: dict[str, object] = {
        "id": "survey",
        "kind": "survey",
        "caller_id": "+8602112345678",
        "max_attempts": 2,
        "retry_after_minutes": 30,
    }
    fields.update(overrides)
    campaign = Campaign(**fields)  # type: ignore[arg-type]
    site = Site(name="star", entries={}, nodes=(), campaigns=(campaign,), timezone="Asia/Shanghai")
    return Rules.for_campaign(site, campaign)


def add_contacts(engine: Engine, n: int, campaign: str = "survey") -> list[int]:
    with make_sessionmaker(engine).begin() as session:
        rows = [
            CampaignContact(site="star", campaign=campaign, number=f"+86138{i:08d}", source="csv")
            for i in range(n)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def live_attempt(contact_id: int, number: str, campaign: str = "survey") -> CampaignAttempt:
    return CampaignAttempt(
        id=uuid4().hex,
        contact_id=contact_id,
        site="star",
        campaign=campaign,
        number=number,
        attempt_no=1,
        live_number=number,
        state="dialling",
        created_at=NOW,
    )


def test_database_refuses_a_second_live_attempt_for_a_number(engine: Engine) -> None:
    (first,) = add_contacts(engine, 1)
    (other,) = add_contacts(engine, 1, campaign="followup")  # same number, other campaign
    number = "+8613800000000"
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        session.add(live_attempt(first, number))
    with pytest.raises(IntegrityError), Session.begin() as session:
        session.add(live_attempt(other, number, campaign="followup"))
    # once the first attempt ended (live_number NULL), the number may be dialled again
    with Session.begin() as session:
        row = session.scalars(select(CampaignAttempt)).one()
        row.state, row.live_number = "ended", None
    with Session.begin() as session:
        session.add(live_attempt(other, number, campaign="followup"))
    # and an ended row that still claims the number breaks the check constraint
    bad = live_attempt(first, number)
    bad.state = "ended"
    with pytest.raises(IntegrityError), Session.begin() as session:
        session.add(bad)


def test_claim_commits_reserved_rows_and_never_hands_out_a_live_contact(engine: Engine) -> None:
    ids = add_contacts(engine, 3)
    Session = make_sessionmaker(engine)
    first = api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=2, lease_seconds=60)
    second = api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=2, lease_seconds=60)
    third = api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=2, lease_seconds=60)
    assert [c.contact_id for c in first + second] == ids
    assert third == []
    with Session() as session:
        rows = session.scalars(select(CampaignAttempt)).all()
        assert {(r.state, r.live_number == r.number, r.dialer_id) for r in rows} == {
            ("reserved", True, "d1")
        }
        assert {r.lease_until for r in rows} == {NOW + dt.timedelta(seconds=60)}
        assert first[0].variables == {"CF_ATTEMPT": first[0].attempt_id}
        assert {json.loads(r.verdict or "")["rule"] for r in rows} == {"ok"}
        assert first[0].caller_id == "+8602112345678"
        assert [c.attempts for c in session.scalars(select(CampaignContact))] == [1, 1, 1]
        assert len(api.live(session, "star", "survey")) == 3


def test_retry_then_max_attempts_then_failed(engine: Engine) -> None:
    (cid,) = add_contacts(engine, 1)
    Session = make_sessionmaker(engine)
    (c1,) = api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=5)
    with Session.begin() as session:
        assert api.mark_dialling(session, c1.attempt_id, NOW)
        assert api.finish(session, c1.attempt_id, disposition="busy", cause=17, at=NOW)
    with Session() as session:
        contact = session.get(CampaignContact, cid)
        assert contact is not None
        assert (contact.status, contact.last_disposition) == ("pending", "busy")
        assert contact.next_attempt_at == NOW + dt.timedelta(minutes=30)
    # not due before retry_after_minutes
    early = NOW + dt.timedelta(minutes=29)
    assert api.claim(Session, rules(), now=early, dialer_id="d1", limit=5) == []
    later = NOW + dt.timedelta(minutes=30)
    (c2,) = api.claim(Session, rules(), now=later, dialer_id="d1", limit=5)
    assert c2.attempt_no == 2
    with Session.begin() as session:
        assert api.finish(session, c2.attempt_id, disposition="no_answer", cause=19, at=later)
    with Session() as session:
        contact = session.get(CampaignContact, cid)
        assert contact is not None
        assert (contact.status, contact.attempts) == ("failed", 2)
    assert (
        api.claim(Session, rules(), now=later + dt.timedelta(days=1), dialer_id="d1", limit=5) == []
    )


def test_finish_is_idempotent_and_final_dispositions_end_the_contact(engine: Engine) -> None:
    add_contacts(engine, 3)
    Session = make_sessionmaker(engine)
    claims = api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=3)
    ends = [("human", 16), ("optout", 16), ("invalid_number", 1)]
    with Session.begin() as session:
        api.mark_answered(session, claims[0].attempt_id, NOW, amd="HUMAN")
        for c, (disposition, cause) in zip(claims, ends, strict=True):
            assert api.finish(session, c.attempt_id, disposition=disposition, cause=cause, at=NOW)
    later = NOW + dt.timedelta(minutes=5)
    with Session.begin() as session:
        # a second finish (a duplicate ChannelDestroyed, a reconcile) changes nothing
        assert not api.finish(session, claims[0].attempt_id, disposition="busy", cause=17, at=later)
        assert not api.mark_answered(session, claims[1].attempt_id, later)
    with Session() as session:
        statuses = [c.status for c in session.scalars(select(CampaignContact).order_by("id"))]
        assert statuses == ["done", "optout", "failed"]
        first = session.get(CampaignAttempt, claims[0].attempt_id)
        assert first is not None
        assert (first.disposition, first.hangup_cause, first.ended_at) == ("human", 16, NOW)
        assert (first.amd_status, first.live_number, first.state) == ("HUMAN", None, "ended")
        progress = api.progress(session, "star", "survey")
    assert progress["dispositions"] == {"human": 1, "invalid_number": 1, "optout": 1}
    assert progress["statuses"] == {"done": 1, "failed": 1, "optout": 1}
    assert (progress["attempts"], progress["answered"], progress["live"]) == (3, 1, 0)
    assert progress["remaining"] == 0
    with Session.begin() as session, pytest.raises(api.AttemptError, match="unknown disposition"):
        api.finish(session, claims[0].attempt_id, disposition="nope", cause=None, at=NOW)


def test_dnc_is_reread_at_claim_time(engine: Engine) -> None:
    add_contacts(engine, 2)
    Session = make_sessionmaker(engine)
    with Session.begin() as session:  # added after the list was loaded
        session.add(DncNumber(number="+8613800000001", source="manual"))
    claims = api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=5)
    assert [c.number for c in claims] == ["+8613800000000"]
    with Session() as session:
        blocked = session.scalars(
            select(CampaignContact).where(CampaignContact.number == "+8613800000001")
        ).one()
        assert blocked.status == "dnc"
        assert '"rule": "dnc"' in (blocked.verdict or "")


def test_a_campaign_without_caller_id_cannot_claim(engine: Engine) -> None:
    add_contacts(engine, 1)
    with pytest.raises(api.AttemptError, match="caller ID"):
        api.claim(make_sessionmaker(engine), rules(caller_id=None), now=NOW, dialer_id="d", limit=1)


def test_an_expired_lease_is_taken_over(engine: Engine) -> None:
    add_contacts(engine, 2)
    Session = make_sessionmaker(engine)
    claims = api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=2, lease_seconds=60)
    with Session.begin() as session:
        assert api.expired(session, NOW + dt.timedelta(seconds=30)) == []
        # d1 is alive: it renews; then it dies and the lease runs out
        assert api.renew_lease(session, "d1", NOW + dt.timedelta(seconds=90)) == 2
        assert api.expired(session, NOW + dt.timedelta(seconds=61)) == []
    dead = NOW + dt.timedelta(seconds=91)
    with Session.begin() as session:
        gone = api.expired(session, dead)
        assert sorted(a.id for a in gone) == sorted(c.attempt_id for c in claims)
        until = dead + dt.timedelta(seconds=60)
        assert api.take_over(session, claims[0].attempt_id, "d2", dead, until)
        # a third dialer arriving second finds the lease valid again
        assert not api.take_over(session, claims[0].attempt_id, "d3", dead, until)
    with Session() as session:
        row = session.get(CampaignAttempt, claims[0].attempt_id)
        assert row is not None and (row.dialer_id, row.lease_until) == ("d2", until)
        assert [a.id for a in api.expired(session, dead)] == [claims[1].attempt_id]


@pytest.mark.postgres
def test_two_postgres_sessions_never_claim_the_same_contact(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    add_contacts(engine, 120)
    Session = make_sessionmaker(engine)
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def dial(name: str) -> None:
        try:
            start.wait()
            while True:
                claims = api.claim(Session, rules(), now=NOW, dialer_id=name, limit=7)
                if not claims:
                    return
                got[name].extend(c.contact_id for c in claims)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=dial, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    both = got["a"] + got["b"]
    assert len(both) == len(set(both)) == 120
    assert got["a"] and got["b"]  # both really took part
    with Session() as session:
        rows = session.scalars(select(CampaignAttempt)).all()
        assert len(rows) == 120
        assert {r.dialer_id for r in rows} == {"a", "b"}
    engine.dispose()


@pytest.mark.postgres
def test_skip_locked_leaves_a_locked_contact_to_the_other_dialer(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    ids = add_contacts(engine, 2)
    Session = make_sessionmaker(engine)
    with Session() as holder:  # a dialer in the middle of its claim transaction
        holder.execute(
            select(CampaignContact).where(CampaignContact.id == ids[0]).with_for_update()
        )
        claims = api.claim(Session, rules(), now=NOW, dialer_id="b", limit=5)
        assert [c.contact_id for c in claims] == [ids[1]]
        holder.rollback()
    assert [c.contact_id for c in api.claim(Session, rules(), now=NOW, dialer_id="a", limit=5)] == [
        ids[0]
    ]
    engine.dispose()


@pytest.mark.postgres
def test_two_dialers_starting_one_campaign_both_set_its_status(postgres_url: str) -> None:
    """Both starting dialers find no status row and insert one: the second insert waits
    for the first transaction, then takes the row instead of failing on the primary key
    (two dialers on one campaign once died on pk_campaign_states)."""
    engine = make_engine(postgres_url)
    Session = make_sessionmaker(engine)
    try:
        with Session() as first, Session() as second:
            assert api.campaign_status(first, "star", "race") == "idle"
            assert api.campaign_status(second, "star", "race") == "idle"
            assert api.set_campaign_status(first, "star", "race", "running", NOW) == "idle"
            later = NOW + dt.timedelta(seconds=1)
            result: list[object] = []

            def start_second() -> None:
                try:
                    result.append(api.set_campaign_status(second, "star", "race", "paused", later))
                    second.commit()
                except BaseException as exc:  # reported by the main thread
                    result.append(exc)

            thread = threading.Thread(target=start_second)
            thread.start()
            thread.join(timeout=1.0)
            assert thread.is_alive(), "the second insert did not wait for the first"
            first.commit()
            thread.join(timeout=30)
            assert result == ["running"]
        with Session() as session:
            assert api.campaign_status(session, "star", "race") == "paused"
    finally:
        engine.dispose()


def test_a_claim_cut_short_leaves_no_attempt_behind(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim is one transaction: a dialer that dies inside it (here: an error after
    the first reservation) leaves neither attempt rows nor counted attempts. On SQLite
    the reservation's SAVEPOINT, outside a transaction, once committed the first row
    alone: a kill -9 then left an attempt whose contact never counted it, and the
    contact was dialled a second time past max_attempts."""
    add_contacts(engine, 3)
    Session = make_sessionmaker(engine)
    reserve = api._reserve
    made: list[object] = []

    def dies_after_one(*args: object, **kwargs: object) -> object:
        if made:
            raise RuntimeError("killed")
        made.append(reserve(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(api, "_reserve", dies_after_one)
    with pytest.raises(RuntimeError, match="killed"):
        api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=3)
    assert made and made[0] is not None  # the first reservation did happen
    with Session() as session:
        assert session.scalars(select(CampaignAttempt)).all() == []
        assert [c.attempts for c in session.scalars(select(CampaignContact))] == [0, 0, 0]


def test_sqlite_runs_one_dialer_postgres_many(engine: Engine) -> None:
    Session = make_sessionmaker(engine)
    kw = {"host": "pbx1", "pid": 4242}
    api.register_dialer(Session, "d1", "star", "survey", now=NOW, **kw)  # type: ignore[arg-type]
    soon = NOW + dt.timedelta(seconds=5)
    if engine.dialect.name == "sqlite":
        with pytest.raises(api.DialerRefused, match=r"'d1' .*pid 4242 on pbx1.*PostgreSQL"):
            api.register_dialer(Session, "d2", "star", "other", now=soon, **kw)  # type: ignore[arg-type]
        # d1 died (no heartbeat for DIALER_STALE): d2 may start
        late = NOW + api.DIALER_STALE + dt.timedelta(seconds=1)
        api.register_dialer(Session, "d2", "star", "other", now=late, **kw)  # type: ignore[arg-type]
    else:
        api.register_dialer(Session, "d2", "star", "survey", now=soon, **kw)  # type: ignore[arg-type]
    with Session() as session:
        assert sorted(session.scalars(select(Dialer.dialer_id))) == ["d1", "d2"]
    with Session.begin() as session:
        api.unregister_dialer(session, "d1")
    with Session() as session:
        assert list(session.scalars(select(Dialer.dialer_id))) == ["d2"]


def test_claim_needs_an_aware_clock(engine: Engine) -> None:
    with pytest.raises(api.AttemptError, match="aware"):
        api.claim(
            make_sessionmaker(engine), rules(), now=NOW.replace(tzinfo=None), dialer_id="d", limit=1
        )


def test_store_times_must_be_aware(engine: Engine) -> None:
    (cid,) = add_contacts(engine, 1)
    with pytest.raises(Exception, match="naive datetime"), Session(engine) as session:
        row = session.get(CampaignContact, cid)
        assert row is not None
        row.next_attempt_at = dt.datetime(2026, 1, 1)
        session.commit()


def test_campaign_status_round_trip(engine: Engine) -> None:
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        assert api.campaign_status(session, "star", "survey") == "idle"
        assert api.set_campaign_status(session, "star", "survey", "running", NOW) == "idle"
    with Session.begin() as session:
        assert api.set_campaign_status(session, "star", "survey", "paused", NOW) == "running"
        with pytest.raises(api.AttemptError, match="'asleep' must be one of"):
            api.set_campaign_status(session, "star", "survey", "asleep", NOW)
    with Session() as session:
        assert api.campaign_status(session, "star", "survey") == "paused"


def test_a_number_live_in_another_campaign_is_not_claimed_even_past_the_query(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    (survey,) = add_contacts(engine, 1)
    (followup,) = add_contacts(engine, 1, campaign="followup")
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        session.add(live_attempt(followup, "+8613800000000", campaign="followup"))
    assert api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=5) == []

    # the same race, as if the live row was committed after the query ran: the UNIQUE
    # live_number refuses the insert and claim skips the contact without failing
    def blind(
        site: str, campaign: str, now: dt.datetime, limit: int, postgres: bool, tiers: object
    ) -> object:
        return _without_live_filter(site, campaign, limit)

    monkeypatch.setattr(api, "_due", blind)
    assert api.claim(Session, rules(), now=NOW, dialer_id="d1", limit=5) == []
    with Session() as session:
        contact = session.get(CampaignContact, survey)
        assert contact is not None and (contact.attempts, contact.status) == (0, "pending")
        assert session.scalars(select(CampaignAttempt.campaign)).all() == ["followup"]


def _without_live_filter(site: str, campaign: str, limit: int) -> object:
    return (
        select(CampaignContact)
        .where(CampaignContact.site == site, CampaignContact.campaign == campaign)
        .limit(limit)
    )


def test_a_claim_narrowed_by_tier_takes_only_those_customers(engine: Engine) -> None:
    from callflow.store.customers import Customer

    ids = add_contacts(engine, 4)
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        tiers = ("vip", "standard", "gold")
        for contact_id, tier in zip(ids, tiers, strict=False):  # the 4th is a bare number
            customer = Customer(name=f"c{contact_id}", tier=tier)
            session.add(customer)
            session.flush()
            session.get_one(CampaignContact, contact_id).customer_id = customer.id
    Sessions = make_sessionmaker(engine)
    protected = api.claim(
        Sessions, rules(), now=NOW, dialer_id="d1", limit=5, tiers=(True, ("vip", "gold"))
    )
    assert sorted(c.tier or "" for c in protected) == ["gold", "vip"]
    rest = api.claim(Sessions, rules(), now=NOW, dialer_id="d1", limit=5, tiers=(False, ("vip",)))
    # the vip and gold contacts are live now; the standard one and the bare number remain
    assert sorted(c.tier or "-" for c in rest) == ["-", "standard"]
    with Session() as session:
        stored = {a.id: a.tier for a in session.scalars(select(CampaignAttempt))}
    assert stored == {c.attempt_id: c.tier for c in protected + rest}
