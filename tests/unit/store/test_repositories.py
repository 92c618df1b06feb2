"""Repositories on SQLite and PostgreSQL: lookups by any number format, idempotent writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callflow.store import (
    CallRecord,
    Customer,
    CustomerPhone,
    InvalidValue,
    Staff,
    SurveyResponse,
    make_lookup_engine,
    make_sessionmaker,
)
from callflow.store.inputs import Change, CustomerData, customer_data, staff_data
from callflow.store.repositories import (
    CallerFinder,
    CallRecordRepository,
    CustomerRepository,
    CustomerView,
    PhoneConflict,
    StaffRepository,
    UnknownCall,
)

customers = CustomerRepository("CN")
staff = StaffRepository()
calls = CallRecordRepository("CN")


@pytest.fixture
def alice(session: Session) -> None:
    staff.upsert(
        session, staff_data(id="alice", name="Alice", device="PJSIP/1001", groups=["sales"])
    )


def li_lei(**changes: Any) -> CustomerData:
    fields: dict[str, Any] = {
        "name": "Li Lei",
        "phones": ["13800138000", "010 6552 9988"],
        "tier": "vip",
        "value": "98000",
        "manager": "alice",
        "region": "Beijing",
        "language": "zh-CN",
        "timezone": "Asia/Shanghai",
        "tags": ["suv-owner", "upgrade-likely"],
    }
    return customer_data(**(fields | changes))


@pytest.mark.usefixtures("alice")
def test_find_by_phone_in_any_format(session: Session, engine: Engine) -> None:
    customer_id, change = customers.upsert(session, li_lei())
    session.commit()
    assert change is Change.INSERTED
    expected = CustomerView(
        id=customer_id,
        name="Li Lei",
        tier="vip",
        value=Decimal("98000.00"),
        manager_id="alice",
        manager_device="PJSIP/1001",
        region="Beijing",
        language="zh-CN",
        timezone="Asia/Shanghai",
        tags=("suv-owner", "upgrade-likely"),
    )
    bare_id, _ = customers.upsert(  # no manager, no tags, no optional columns
        session, customer_data(name="Ma Jun", phones=["13700137000"], tier="standard")
    )
    session.commit()
    bare = CustomerView(
        id=bare_id, name="Ma Jun", tier="standard", value=Decimal("0.00"), manager_id=None,
        manager_device=None, region=None, language=None, timezone=None, tags=(),
    )  # fmt: skip
    finder = CallerFinder(engine, "CN")  # the call path's session-less lookup
    for raw in ("13800138000", "+86 138 0013 8000", "008613800138000", '"Li" <01065529988>'):
        assert customers.find_by_phone(session, raw) == expected
        assert finder(raw) == expected
    assert customers.find_by_phone(session, "137 0013 7000") == finder("137 0013 7000") == bare
    for unknown in ("13900139000", "anonymous", "", None, "1001"):
        assert customers.find_by_phone(session, unknown) is None
        assert finder(unknown) is None


@pytest.mark.postgres
def test_caller_finder_replaces_a_connection_the_server_dropped(postgres_url: str) -> None:
    engine = make_lookup_engine(postgres_url)  # no pre-ping: the finder must cope
    with make_sessionmaker(engine).begin() as session:
        customers.upsert(session, customer_data(name="Ma Jun", phones=["13700137000"]))
    find = CallerFinder(engine)
    assert find("13700137000") is not None  # a pooled connection now exists
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed == (1,)  # the finder's idle pooled connection, as in a server restart
    view = find("13700137000")  # dead connection discarded, the query retried once
    assert view is not None and view.name == "Ma Jun"
    engine.dispose()


def test_find_by_phone_is_parameterised(session: Session, engine: Engine) -> None:
    hostile = "13800138000' OR '1'='1"
    assert customers.find_by_phone(session, hostile) is None
    assert CallerFinder(engine)(hostile) is None
    statement = select(CustomerPhone).where(CustomerPhone.phone == "+8613800138000")
    assert "+8613800138000" not in str(statement.compile())


@pytest.mark.usefixtures("alice")
def test_upsert_updates_and_reports_unchanged(session: Session) -> None:
    first, _ = customers.upsert(session, li_lei())
    assert customers.upsert(session, li_lei()) == (first, Change.UNCHANGED)
    changed = li_lei(phones=["13800138000", "13700137000"], tier="gold", tags=["fleet"])
    assert customers.upsert(session, changed) == (first, Change.UPDATED)
    session.commit()
    found = customers.get(session, first)
    assert found is not None
    assert found.tier == "gold" and found.tag_names == {"fleet"}
    # phones are only added, never dropped by an upsert
    assert sorted(p.phone for p in found.phones) == [
        "+861065529988",
        "+8613700137000",
        "+8613800138000",
    ]
    assert session.scalar(select(func.count()).select_from(Customer)) == 1


@pytest.mark.usefixtures("alice")
def test_upsert_refuses_phones_of_two_customers(session: Session) -> None:
    customers.upsert(session, li_lei(phones=["13800138000"]))
    customers.upsert(session, li_lei(phones=["13700137000"]))
    with pytest.raises(PhoneConflict, match="belong to customers #1, #2"):
        customers.upsert(session, li_lei(phones=["13800138000", "13700137000"]))


def test_upsert_refuses_unknown_manager(session: Session) -> None:
    with pytest.raises(InvalidValue, match="manager 'alice' is not a known staff id"):
        customers.upsert(session, li_lei())


@pytest.mark.usefixtures("alice")
def test_deleting_a_manager_keeps_the_customer(session: Session) -> None:
    customer_id, _ = customers.upsert(session, li_lei())
    session.commit()
    session.delete(session.get(Staff, "alice"))
    session.commit()
    session.expire_all()
    view = customers.find_by_phone(session, "13800138000")
    assert view is not None and view.id == customer_id and view.manager_id is None


def test_phone_belongs_to_one_customer(session: Session) -> None:
    session.add_all(
        [
            Customer(name="a", phones=[CustomerPhone(phone="+8613800138000")]),
            Customer(name="b", phones=[CustomerPhone(phone="+8613800138000")]),
        ]
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(Customer(name="x", account_manager_id="nobody"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_orm_rejects_non_e164_phone() -> None:
    with pytest.raises(InvalidValue, match=r"E\.164"):
        CustomerPhone(phone="13800138000")


def test_staff_upsert_and_groups(session: Session) -> None:
    assert (
        staff.upsert(
            session, staff_data(id="bob", name="Bob", device="PJSIP/1002", groups=["sales"])
        )
        is Change.INSERTED
    )
    same = staff_data(id="bob", name="Bob", device="PJSIP/1002", groups=["sales"])
    assert staff.upsert(session, same) is Change.UNCHANGED
    moved = staff_data(id="bob", name="Bob", device="PJSIP/1002", groups=["service", "care"])
    assert staff.upsert(session, moved) is Change.UPDATED
    session.commit()
    assert [s.id for s in staff.in_group(session, "care")] == ["bob"]
    assert staff.in_group(session, "sales") == []
    bob = staff.get(session, "bob")
    assert bob is not None and bob.group_names == {"service", "care"}


@pytest.mark.usefixtures("alice")
def test_one_call_record_per_linkedid(session: Session) -> None:
    customers.upsert(session, li_lei())
    view = customers.find_by_phone(session, "013800138000")
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    first = calls.start(
        session,
        linkedid="1712.7",
        uniqueid="1712.7",
        site="dealer",
        direction="inbound",
        caller="013800138000",
        dialled="4001234567",
        customer=view,
        started_at=start,
    )
    again = calls.start(
        session,
        linkedid="1712.7",
        uniqueid="1712.9",
        site="dealer",
        direction="inbound",
        caller="garbage",
    )
    assert again.id == first.id and again.uniqueid == "1712.7"
    assert (first.caller, first.tier) == ("+8613800138000", "vip")
    done = calls.finish(
        session,
        "1712.7",
        disposition="ANSWERED",
        agent="alice",
        answered_at=start + timedelta(seconds=20),
        ended_at=start + timedelta(minutes=4),
        wait_seconds=20,
        node_trace="entry vip-check manager",
        path="manager",
        queue=None,
    )
    calls.finish(session, "1712.7", disposition="ANSWERED")  # a repeated hang-up event
    session.commit()
    assert done.talk_seconds == 220 and done.path == "manager"
    assert session.scalar(select(func.count()).select_from(CallRecord)) == 1
    record = calls.get_by_linkedid(session, "1712.7")
    assert record is not None and record.agent == "alice"


def test_unparsable_caller_is_kept_verbatim(session: Session) -> None:
    record = calls.start(
        session, linkedid="9.1", uniqueid="9.1", site="s", direction="inbound", caller="anonymous"
    )
    assert record.caller == "anonymous" and record.customer_id is None


def test_call_record_errors(session: Session) -> None:
    with pytest.raises(UnknownCall, match="'nope'"):
        calls.finish(session, "nope", disposition="ANSWERED")
    with pytest.raises(InvalidValue, match="direction 'sideways'"):
        calls.start(session, linkedid="1", uniqueid="1", site="s", direction="sideways")


def test_survey_answers_are_digits(session: Session) -> None:
    record = calls.start(session, linkedid="5.5", uniqueid="5.5", site="s", direction="outbound")
    session.add(
        SurveyResponse(
            call_record_id=record.id, campaign="after-service", question="q1", answer="5"
        )
    )
    session.commit()
    with pytest.raises(InvalidValue, match="DTMF"):
        SurveyResponse(call_record_id=record.id, campaign="c", question="q", answer="5; DROP")


def test_engine_fixture_is_isolated(engine: Engine) -> None:
    with Session(engine) as fresh:
        assert fresh.scalar(select(func.count()).select_from(Customer)) == 0
