"""The staff directory: every employee with a phone, and the groups they belong to.

In a dealership everyone is an agent (DOMAIN.md §1): sales consultants, service advisers,
customer care, the front desk, even finance. Each person has a device and any number of
groups; queues and dials refer to people or groups by id::

    Staff("alice", name="Alice Wang", device="PJSIP/1001", groups=("sales",),
          extension="1001", did="+862155550101")

A ``PJSIP/<name>`` device with an ``extension`` gets an endpoint ``<name>`` in the
generated pjsip.conf (its password is the secret ``staff.<id>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from callflow.model.limits import StaffName
from callflow.model.prompts import as_tuple


@dataclass(frozen=True)
class Staff:
    """A person who can take calls: ``device`` is an Asterisk dial string such as
    ``PJSIP/1001`` (or ``Local/1001@agents`` for a local-channel agent)."""

    id: str
    name: StaffName
    device: str
    groups: tuple[str, ...] = ()
    mailbox: str | None = None
    #: what colleagues dial to reach this person from a staff phone (``"1001"``)
    extension: str | None = None
    #: the person's own direct number on a trunk (a DID), if any
    did: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", as_tuple(self.groups))
