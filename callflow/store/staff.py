"""Staff: every employee with an extension, and the groups they take calls for.

In a dealership everybody is an agent (DOMAIN §1): sales, service, customer care, front
desk. A staff member has one device and belongs to any number of groups::

    alice = Staff(id="alice", name="Alice Wang", device="PJSIP/1001")
    alice.group_names = {"sales", "care"}
    session.add(alice)
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from callflow.store.base import Base, Timestamped
from callflow.store.validators import validate_device, validate_name, validate_staff_id


class Staff(Timestamped, Base):
    """One employee who can take or make calls."""

    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    device: Mapped[str] = mapped_column(String(96))
    groups: Mapped[list[StaffGroup]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", order_by="StaffGroup.name"
    )

    @validates("id")
    def _check_id(self, _key: str, value: str) -> str:
        return validate_staff_id(value)

    @validates("device")
    def _check_device(self, _key: str, value: str) -> str:
        return validate_device(value)

    @property
    def group_names(self) -> frozenset[str]:
        """The names of this person's groups."""
        return frozenset(g.name for g in self.groups)

    @group_names.setter
    def group_names(self, names: set[str] | frozenset[str]) -> None:
        keep = {g.name: g for g in self.groups if g.name in names}
        self.groups = [keep.get(n) or StaffGroup(name=n) for n in sorted(names)]

    def __repr__(self) -> str:
        return f"Staff(id={self.id!r}, device={self.device!r})"


class StaffGroup(Base):
    """Membership of one staff member in one group (``sales``, ``service``, ``care``...).

    A child table rather than a `groups` table: group names are defined by the flow
    (queues in `callflow.model`), which the store must not know about.
    """

    __tablename__ = "staff_groups"

    staff_id: Mapped[str] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    staff: Mapped[Staff] = relationship(back_populates="groups")

    @validates("name")
    def _check_name(self, _key: str, value: str) -> str:
        return validate_name("group", value)
