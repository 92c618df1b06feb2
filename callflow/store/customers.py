"""Customers: who is calling, how valuable they are, and who looks after them.

Customers are recognised by phone (DOMAIN §5) and ordered by value (DOMAIN §2): the tier
and value score decide queue priority, the account manager may take the call directly,
region/language/time zone/tags select a segment's flow::

    c = Customer(name="Li Lei", tier="vip", value=Decimal("98000"), timezone="Asia/Shanghai")
    c.phones.append(CustomerPhone(phone="+8613800138000"))
    c.tag_names = {"suv-owner", "upgrade-likely"}

Tags are a child table (`customer_tags`), not a JSON list: targeting a campaign at a tag
("everyone tagged upgrade-likely", DOMAIN §4) is then an indexed join that reads the same
on SQLite and PostgreSQL, and the primary key keeps each tag once per customer.

Campaign tables (outbound lists, attempts, results) are a later issue and are not here.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from callflow.store.base import Base, Timestamped
from callflow.store.errors import InvalidValue
from callflow.store.staff import Staff
from callflow.store.validators import (
    E164,
    validate_language,
    validate_name,
    validate_region,
    validate_tier,
    validate_timezone,
)


class Customer(Timestamped, Base):
    """A caller the business knows."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(32), default="standard", index=True)
    value: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    account_manager_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    region: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))

    account_manager: Mapped[Staff | None] = relationship()
    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerPhone.phone"
    )
    tags: Mapped[list[CustomerTag]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerTag.tag"
    )

    @validates("tier")
    def _check_tier(self, _key: str, value: str) -> str:
        return validate_tier(value)

    @validates("region")
    def _check_region(self, _key: str, value: str | None) -> str | None:
        return None if value is None else validate_region(value)

    @validates("language")
    def _check_language(self, _key: str, value: str | None) -> str | None:
        return None if value is None else validate_language(value)

    @validates("timezone")
    def _check_timezone(self, _key: str, value: str | None) -> str | None:
        return None if value is None else validate_timezone(value)

    @property
    def tag_names(self) -> frozenset[str]:
        """The customer's tags as a set."""
        return frozenset(t.tag for t in self.tags)

    @tag_names.setter
    def tag_names(self, names: set[str] | frozenset[str]) -> None:
        keep = {t.tag: t for t in self.tags if t.tag in names}
        self.tags = [keep.get(n) or CustomerTag(tag=n) for n in sorted(names)]

    def __repr__(self) -> str:
        return f"Customer(id={self.id!r}, tier={self.tier!r})"


class CustomerPhone(Base):
    """One E.164 number of a customer; a number belongs to at most one customer."""

    __tablename__ = "customer_phones"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    customer: Mapped[Customer] = relationship(back_populates="phones")

    @validates("phone")
    def _check_phone(self, _key: str, value: str) -> str:
        # Stored numbers must already be E.164; normalising here would hide a bug upstream.
        if not E164.fullmatch(value):
            raise InvalidValue(f"phone {value!r} is not in E.164 form; use normalize_phone()")
        return value


class CustomerTag(Base):
    """One tag of a customer (``upgrade-likely``, ``fleet``, ...)."""

    __tablename__ = "customer_tags"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    customer: Mapped[Customer] = relationship(back_populates="tags")

    @validates("tag")
    def _check_tag(self, _key: str, value: str) -> str:
        return validate_name("tag", value)
