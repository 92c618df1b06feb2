"""Call lists: build a campaign's contacts from its audience in the store, or from a CSV.

Numbers are stored in E.164 (national numbers read for the given region); one contact
per number per campaign, so duplicates merge. Loading again is idempotent: existing
contacts keep their status and attempts, and only changed details are updated::

    report = load_audience(session, "star", campaign, region="CN")
    report = load_csv(session, "star", "survey", Path("list.csv"), region="CN")
    print(report)   # survey: 120 added, 3 updated, 0 unchanged, 2 duplicates merged
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from callflow.model.campaigns import Audience, Campaign
from callflow.store.campaigns import CampaignContact
from callflow.store.csv_import import RowError, csv_rows
from callflow.store.customers import Customer, CustomerPhone
from callflow.store.errors import InvalidValue
from callflow.store.migrate import require_schema
from callflow.store.phones import normalize_phone
from callflow.store.validators import validate_language, validate_timezone

LIST_COLUMNS = ("phone", "name", "language", "timezone", "manager")
#: Contact fields a load sets (and compares, for "unchanged").
_DETAILS = ("customer_id", "name", "language", "manager", "timezone")


@dataclass
class LoadReport:
    """What a load did; `messages()` gives ``file:line: reason`` for each bad CSV row."""

    campaign: str
    path: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0  # input rows whose number was already in this input
    errors: list[RowError] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        """Contacts the input gave (added, updated or unchanged)."""
        return self.added + self.updated + self.unchanged

    def messages(self) -> list[str]:
        """Each rejected row as ``list.csv:17: reason``."""
        name = Path(self.path).name if self.path else self.campaign
        return [f"{name}:{e.line}: {e.reason}" for e in self.errors]

    def as_dict(self) -> dict[str, object]:
        return {
            "campaign": self.campaign,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "merged": self.merged,
            "errors": self.messages(),
        }

    def __str__(self) -> str:
        return (
            f"{self.campaign}: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.merged} duplicates merged"
            + (f", {len(self.errors)} rows rejected" if self.errors else "")
        )


def _language_matches(wanted: tuple[str, ...], language: str | None) -> bool:
    if not wanted:
        return True
    if language is None:
        return False
    low = language.lower()
    return any(low == w.lower() or low.startswith(w.lower() + "-") for w in wanted)


def audience_customers(session: Session, audience: Audience) -> list[Customer]:
    """Customers the audience selects; every non-empty condition must hold: tier in
    ``tiers``, at least one of ``tags``, region in ``regions``, language in ``languages``
    (``zh`` also matches ``zh-CN``). Customers without a phone are left out."""
    query = select(Customer).options(selectinload(Customer.phones), selectinload(Customer.tags))
    if audience.tiers:
        query = query.where(Customer.tier.in_([t.lower() for t in audience.tiers]))
    if audience.regions:
        query = query.where(Customer.region.in_(audience.regions))
    wanted_tags = {t.lower() for t in audience.tags}
    out = []
    for customer in session.scalars(query.order_by(Customer.id)):
        if wanted_tags and not wanted_tags & customer.tag_names:
            continue
        if not _language_matches(audience.languages, customer.language):
            continue
        if customer.phones:
            out.append(customer)
    return out


@dataclass
class _Entry:
    number: str
    source: str
    details: dict[str, object]


def _store(
    session: Session, site: str, campaign: str, entries: list[_Entry], report: LoadReport
) -> None:
    existing = {
        c.number: c
        for c in session.scalars(
            select(CampaignContact).where(
                CampaignContact.site == site, CampaignContact.campaign == campaign
            )
        )
    }
    for entry in entries:
        row = existing.get(entry.number)
        if row is None:
            row = CampaignContact(
                site=site,
                campaign=campaign,
                number=entry.number,
                source=entry.source,
                status="pending",
                attempts=0,
                **entry.details,
            )
            session.add(row)
            existing[entry.number] = row
            report.added += 1
            continue
        changed = {k: v for k, v in entry.details.items() if getattr(row, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(row, key, value)
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()


def _merge(
    entries: list[_Entry], entry: _Entry, seen: dict[str, _Entry], report: LoadReport
) -> None:
    first = seen.get(entry.number)
    if first is None:
        seen[entry.number] = entry
        entries.append(entry)
        return
    report.merged += 1
    for key, value in entry.details.items():  # fill what the first row left empty
        if first.details.get(key) is None and value is not None:
            first.details[key] = value


def load_audience(
    session: Session, site: str, campaign: Campaign, *, region: str = "CN"
) -> LoadReport:
    """Add the customers *campaign*'s audience selects to its call list (one contact per
    customer: its first number in E.164 order); the caller commits."""
    require_schema(session.connection())
    report = LoadReport(campaign.id)
    entries: list[_Entry] = []
    seen: dict[str, _Entry] = {}
    for customer in audience_customers(session, campaign.audience):
        number = customer.phones[0].phone
        details: dict[str, object] = {
            "customer_id": customer.id,
            "name": customer.name,
            "language": customer.language,
            "manager": customer.account_manager_id,
            "timezone": customer.timezone,
        }
        _merge(entries, _Entry(number, "audience", details), seen, report)
    _store(session, site, campaign.id, entries, report)
    return report


def load_csv(
    session: Session,
    site: str,
    campaign: str,
    path: Path,
    *,
    region: str = "CN",
    encoding: str | None = None,
    strict: bool = False,
) -> LoadReport:
    """Add the numbers of the CSV file *path* to *campaign*'s call list.

    Columns: ``phone`` (required), ``name``, ``language`` (BCP 47), ``timezone`` (IANA),
    ``manager`` (staff id). A number that belongs to a customer is linked to it, and the
    customer's details fill the columns the file leaves empty. Bad rows are reported as
    ``file:line: reason`` and skipped (*strict*: nothing is written). A file that cannot
    be read at all raises `CsvFormatError`. The caller commits.
    """
    require_schema(session.connection())
    report = LoadReport(campaign, str(path))
    owners = dict(session.execute(select(CustomerPhone.phone, CustomerPhone.customer_id)).all())
    entries: list[_Entry] = []
    seen: dict[str, _Entry] = {}
    for line, cells in csv_rows(path, LIST_COLUMNS, {"phone"}, encoding):
        if "" in cells:
            report.errors.append(RowError(line, cells[""]))
            continue
        try:
            number = normalize_phone(cells["phone"].strip(), region)
            language = (cells.get("language") or "").strip() or None
            zone = (cells.get("timezone") or "").strip() or None
            details: dict[str, object] = {
                "customer_id": owners.get(number),
                "name": (cells.get("name") or "").strip()[:200] or None,
                "language": validate_language(language) if language else None,
                "manager": (cells.get("manager") or "").strip()[:32] or None,
                "timezone": validate_timezone(zone) if zone else None,
            }
        except InvalidValue as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        _merge(entries, _Entry(number, "csv", details), seen, report)
    if strict and report.errors:
        return report
    customer_ids = {e.details["customer_id"] for e in entries if e.details["customer_id"]}
    if customer_ids:
        customers = {
            c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
        }
        for entry in entries:
            owner = entry.details["customer_id"]
            customer = customers.get(owner) if isinstance(owner, int) else None
            if customer is None:
                continue
            fill = {
                "name": customer.name,
                "language": customer.language,
                "manager": customer.account_manager_id,
                "timezone": customer.timezone,
            }
            for key, value in fill.items():
                if entry.details.get(key) is None:
                    entry.details[key] = value
    _store(session, site, campaign, entries, report)
    return report


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO 3166 country, from the system's tzdata ``zone.tab``."""
    out: dict[str, str] = {}
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone.tab"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and not line.startswith("#"):
                out.setdefault(parts[2], parts[0])
        break
    return out


def default_region(site_timezone: str, campaign: Campaign | None = None) -> str:
    """How national numbers are read when no region is given: the campaign's country,
    else the country of the site's time zone (``Asia/Shanghai`` -> CN), else CN."""
    if campaign is not None and campaign.country:
        return campaign.country.upper()
    return _zone_countries().get(site_timezone, "CN")
