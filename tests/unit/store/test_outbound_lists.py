"""Call lists from the audience and from CSV files, and the do-not-call list, on SQLite
and PostgreSQL: E.164 numbers, duplicates merged, loading twice changes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.model.campaigns import Audience, Campaign
from callflow.outbound import dnc
from callflow.outbound.lists import default_region, load_audience, load_csv
from callflow.store import CsvFormatError, Customer, CustomerPhone, InvalidValue, Staff
from callflow.store.campaigns import CampaignContact, DncNumber


def customer(name: str, phone: str, **fields: object) -> Customer:
    row = Customer(name=name, value=Decimal(0), **fields)
    row.phones.append(CustomerPhone(phone=phone))
    return row


@pytest.fixture
def crm(session: Session) -> Session:
    session.add(Staff(id="wang", name="Wang", device="PJSIP/1001"))
    session.flush()
    vip = customer("Li", "+8613800138000", tier="vip", region="Beijing", language="zh-CN")
    vip.account_manager_id = "wang"
    vip.timezone = "Asia/Shanghai"
    vip.tag_names = {"serviced", "suv"}
    gold = customer("Han", "+8613700137000", tier="gold", region="Shanghai", language="zh")
    gold.tag_names = {"serviced"}
    en = customer("Ann", "+12125550100", tier="vip", region="Beijing", language="en")
    en.tag_names = {"serviced"}
    nophone = Customer(name="Ghost", tier="vip", value=Decimal(0))
    session.add_all([vip, gold, en, nophone])
    session.commit()
    return session


def contacts(session: Session, campaign: str = "c") -> list[CampaignContact]:
    query = select(CampaignContact).where(CampaignContact.campaign == campaign)
    return list(session.scalars(query.order_by(CampaignContact.number)))


@pytest.mark.parametrize(
    ("audience", "names"),
    [
        (Audience(), ["Ann", "Han", "Li"]),
        (Audience(tiers=("VIP",)), ["Ann", "Li"]),
        (Audience(tags=("suv", "fleet")), ["Li"]),
        (Audience(regions=("Shanghai",)), ["Han"]),
        (Audience(languages=("zh",)), ["Han", "Li"]),  # zh matches zh-CN too
        (Audience(tiers=("vip",), languages=("zh",), tags=("serviced",)), ["Li"]),
    ],
)
def test_audience_selects_customers_with_every_condition(
    crm: Session, audience: Audience, names: list[str]
) -> None:
    report = load_audience(crm, "star", Campaign(id="c", kind="playback", audience=audience))
    crm.commit()
    assert sorted(c.name or "" for c in contacts(crm)) == names
    assert report.added == len(names)


def test_audience_contacts_carry_the_customer_and_reload_is_idempotent(crm: Session) -> None:
    campaign = Campaign(id="c", kind="playback", audience=Audience(tiers=("vip",)))
    load_audience(crm, "star", campaign)
    crm.commit()
    li = contacts(crm)[1]
    assert (li.number, li.manager, li.timezone, li.language) == (
        "+8613800138000",
        "wang",
        "Asia/Shanghai",
        "zh-CN",
    )
    assert (li.source, li.status, li.attempts, li.customer_id is not None) == (
        "audience",
        "pending",
        0,
        True,
    )
    li.status, li.attempts = "done", 1  # a contact already called keeps its state
    crm.commit()
    again = load_audience(crm, "star", campaign)
    crm.commit()
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert [(c.status, c.attempts) for c in contacts(crm)] == [("pending", 0), ("done", 1)]


def test_csv_list_normalises_merges_and_reports_bad_rows(crm: Session, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "phone,name,timezone,language\n"
        "138 0013 8000,,,\n"  # a customer's number: linked, details filled from the CRM
        "+8613800138000,Dup,,\n"  # the same number again: merged
        "(212) 555-0100,Ann NY,America/New_York,en\n"
        "12ab,Bad,,\n"
        "13900139000,Zone,Mars/Base,\n"
        "13600136000,Lang,,english please\n"
        "+80012345678,Freephone,,\n",
        encoding="utf-8",
    )
    report = load_csv(crm, "star", "c", path, region="CN")
    crm.commit()
    assert report.messages() == [
        "list.csv:5: phone '12ab' is not a valid number for region CN",
        "list.csv:6: time zone 'Mars/Base' is not an IANA name (e.g. Asia/Shanghai)",
        "list.csv:7: language 'english please' must be a BCP 47 tag such as zh or zh-CN",
    ]
    assert (report.added, report.merged) == (3, 1)
    rows = {c.number: c for c in contacts(crm)}
    # (212) read for region CN is not a US number: only +-prefixed or CN-national parse
    assert set(rows) == {"+8613800138000", "+80012345678", "+862125550100"}
    li = rows["+8613800138000"]
    # the duplicate row filled the name the first left empty; the CRM filled the rest
    assert (li.name, li.manager, li.timezone, li.source) == (
        "Dup",
        "wang",
        "Asia/Shanghai",
        "csv",
    )
    again = load_csv(crm, "star", "c", path, region="CN")
    assert (again.added, again.updated, again.unchanged, again.merged) == (0, 0, 3, 1)


def test_csv_that_cannot_be_read_names_file_and_line(crm: Session, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("number,name\n+8613800138000,x\n")
    with pytest.raises(CsvFormatError, match=r"list.csv:1: unknown column 'number'"):
        load_csv(crm, "star", "c", path)


def test_strict_csv_loads_nothing(crm: Session, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("phone\n+8613800138000\nnope\n")
    report = load_csv(crm, "star", "c", path, strict=True)
    crm.commit()
    assert len(report.errors) == 1
    assert contacts(crm) == []


def test_dnc_add_remove_import(session: Session, tmp_path: Path) -> None:
    assert dnc.add(session, "138 0013 8000", reason="asked\nnot\x1b[2J to")
    assert not dnc.add(session, "+8613800138000")  # same number, any form
    path = tmp_path / "dnc.csv"
    path.write_text("phone,reason\n+12125550100,complaint\n13800138000,\nxyz,\n")
    report = dnc.import_csv(session, path)
    session.commit()
    assert (report.added, report.unchanged, report.messages()) == (
        1,
        1,
        ["dnc.csv:4: phone 'xyz' is not a valid number for region CN"],
    )
    listed = [(r.number, r.source, r.reason) for r in dnc.entries(session)]
    assert listed == [
        ("+12125550100", "import", "complaint"),
        ("+8613800138000", "manual", "asked not[2J to"),  # ESC dropped
    ]
    assert dnc.listed(session, ["+12125550100", "+447700900000"]) == {"+12125550100"}
    assert dnc.remove(session, "13800138000")
    assert not dnc.remove(session, "13800138000")
    session.commit()
    assert [r.number for r in session.scalars(select(DncNumber))] == ["+12125550100"]
    with pytest.raises(InvalidValue, match="source"):
        dnc.add(session, "+12125550101", source="robot")


def test_default_region_comes_from_the_campaign_then_the_site_zone() -> None:
    us = Campaign(id="c", kind="playback", country="us")
    assert default_region("Asia/Shanghai", us) == "US"
    assert default_region("America/New_York") == "US"
    assert default_region("Europe/London", Campaign(id="c", kind="playback")) == "GB"
    assert default_region("UTC") == "CN"
