"""Phones and numbers: the carrier trunks a site's calls come in on, which of the
trunk's numbers (DIDs) reach which entry, and how the site's ``pjsip.conf`` is made.

Staff phones are the staff themselves (:class:`~callflow.model.staff.Staff` with an
``extension``); secrets are never part of the model (see :mod:`callflow.secrets`)::

    Trunk("carrier", host="sip.carrier.example", username="4000123",
          numbers={"+862155550100": "8000"}, default="8000")
    Phones(port=5060, trunks=False)   # the trunks stay in a hand-written pjsip.conf
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from callflow.model.limits import Label, Range
from callflow.model.prompts import as_tuple

Codec = Literal["alaw", "ulaw", "g722", "gsm", "opus", "g729"]
Port = Annotated[int, Range(1, 65535, integer=True)]


@dataclass(frozen=True)
class Trunk:
    """A carrier's SIP trunk.

    ``numbers`` maps the carrier's numbers (DIDs, as the carrier sends them in the
    request URI) to the site's entry numbers; a DID not in it goes to ``default`` (an
    entry number), or is refused when there is none. Only these entries are reachable
    from the trunk. ``register=True`` registers to ``host`` as ``username`` (the
    password is the secret ``trunk.<id>``); ``register=False`` is an IP trunk identified
    by the addresses in ``match`` (``host`` when empty). ``caller_id`` is the number
    presented on calls out through the trunk; ``presentation`` whether it is shown."""

    id: str
    host: str
    numbers: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    register: bool = True
    username: str = ""
    match: tuple[str, ...] = ()
    codecs: tuple[Codec, ...] = ("alaw", "ulaw")
    caller_id: str = ""
    presentation: Literal["allowed", "prohib"] = "allowed"
    port: Port = 5060
    label: Label = ""

    def __post_init__(self) -> None:
        if isinstance(self.numbers, Mapping):
            object.__setattr__(self, "numbers", dict(self.numbers))
        object.__setattr__(self, "match", as_tuple(self.match))
        object.__setattr__(self, "codecs", as_tuple(self.codecs))

    def addresses(self) -> tuple[str, ...]:
        """The source addresses that identify the trunk's calls."""
        return self.match or (self.host,)


@dataclass(frozen=True)
class Phones:
    """What the generated ``pjsip.conf`` holds. Each section can be switched off for a
    PBX whose hand-written pjsip.conf already has it: ``transport`` (one UDP transport on
    ``bind``:``port``), ``staff`` (an endpoint, aor and auth per staff phone) and
    ``trunks``. ``codecs`` are the staff phones' codecs."""

    bind: str = "0.0.0.0"  # noqa: S104 - phones and trunks reach it over the network
    port: Port = 5060
    codecs: tuple[Codec, ...] = ("alaw", "ulaw")
    transport: bool = True
    staff: bool = True
    trunks: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "codecs", as_tuple(self.codecs))
