"""A site: one contact centre, everything the compiler and runtime need to run it.

site = Site(
    name="star_motors", timezone="Asia/Shanghai",
    entries={"8000": "greeting"},
    staff=[Staff("lily", name="Lily", device="PJSIP/1001", groups=("front_desk",))],
    nodes=[human_first("greeting", target="front_desk", then="bye"), Hangup(id="bye")],
    live_entries=("8000",),   # or live=True: run these live over ARI, compiled as fallback
)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, TypeVar

from callflow.model.campaigns import Campaign
from callflow.model.limits import Label, Range
from callflow.model.nodes import Node, PriorityRule, Queue
from callflow.model.phones import Phones, Trunk
from callflow.model.prompts import as_tuple
from callflow.model.recording import Recording
from callflow.model.staff import Staff


@dataclass(frozen=True)
class LookupSettings:
    """Where the compiled dialplan asks the CRM who is calling (a FastAGI server, or the
    classic ``callflow-agi`` script), and how long a caller waits for the answer before
    going on as unknown (``timeout`` seconds; a script started per call needs more than a
    FastAGI server that is already running)."""

    url: str = "agi://127.0.0.1:4573"
    script: str = "lookup"
    timeout: Annotated[float, Range(0.5, 30)] = 2.0


@dataclass(frozen=True, kw_only=True)
class Site:
    """A contact centre: entry points (dialled number -> node id), staff, flow nodes,
    campaigns, and the site-wide customer-value priority rule."""

    name: str
    entries: Mapping[str, str]
    nodes: tuple[Node, ...] | list[Node]
    staff: tuple[Staff, ...] | list[Staff] = ()
    campaigns: tuple[Campaign, ...] | list[Campaign] = ()
    timezone: str = "UTC"
    priority: PriorityRule = field(default_factory=PriorityRule)
    lookup: LookupSettings = field(default_factory=LookupSettings)
    language: str = "en"
    label: Label = ""
    #: run every entry live (ARI), with the compiled flow as the fallback
    live: bool = False
    #: or only these entry numbers
    live_entries: tuple[str, ...] | list[str] = ()
    #: carrier trunks and the numbers (DIDs) they bring in
    trunks: tuple[Trunk, ...] | list[Trunk] = ()
    #: which parts of pjsip.conf callflow generates
    phones: Phones = field(default_factory=Phones)
    #: ISO 3166 country of the site's locale (``"cn"``): its ringback and busy tones.
    #: Empty: the country of ``timezone``.
    country: str = ""
    #: call recording (docs/recording.md): off unless set; queues and campaigns override it
    recording: Recording = field(default_factory=Recording.off)

    def __post_init__(self) -> None:
        # Wrong types are left as they are: validation reports them with a path.
        if isinstance(self.entries, Mapping):
            object.__setattr__(self, "entries", dict(self.entries))
        for name in ("live_entries", "nodes", "staff", "campaigns", "trunks"):
            object.__setattr__(self, name, as_tuple(getattr(self, name)))

    # Derived views. Duplicated ids and wrongly typed items are reported by validation;
    # these keep the first of each id and skip what is not a node, a person or an id.
    @cached_property
    def node_map(self) -> dict[str, Node]:
        return _by_id(self.nodes, Node)

    @cached_property
    def staff_map(self) -> dict[str, Staff]:
        return _by_id(self.staff, Staff)

    @cached_property
    def groups(self) -> dict[str, tuple[Staff, ...]]:
        """Group id -> its staff, in directory order."""
        out: dict[str, list[Staff]] = {}
        for s in self.staff_map.values():
            for g in _items(s.groups):
                if isinstance(g, str):
                    out.setdefault(g, []).append(s)
        return {g: tuple(members) for g, members in sorted(out.items())}

    def people(self, who: str) -> tuple[Staff, ...]:
        """The staff a dial or queue member ``who`` (a staff id or a group id) stands for."""
        if not isinstance(who, str):
            return ()
        if who in self.staff_map:
            return (self.staff_map[who],)
        return self.groups.get(who, ())

    def is_live(self, number: str) -> bool:
        """Whether calls to entry ``number`` go to the live runtime first
        (``Stasis(callflow-<site>,<number>)``), falling back to the compiled flow."""
        return self.live or number in self.live_entries

    @cached_property
    def trunk_map(self) -> dict[str, Trunk]:
        return _by_id(self.trunks, Trunk)

    @property
    def tone_zone(self) -> str:
        """The indications zone (a country code) the site's calls hear tones from."""
        return (self.country or country_of(self.timezone) or "us").lower()

    def queues(self) -> Iterable[Queue]:
        return (n for n in _items(self.nodes) if isinstance(n, Queue))

    def rule_for(self, queue: Queue) -> PriorityRule:
        return queue.priority or self.priority


def country_of(timezone: str) -> str:
    """The country code the tz database gives ``timezone`` (``Asia/Shanghai`` -> ``cn``),
    or "" when it names none (``UTC``) or the table is missing."""
    return _zone_countries().get(timezone, "")


@cache
def _zone_countries() -> dict[str, str]:
    out: dict[str, str] = {}
    for table in ZONE_TABLES:
        try:
            lines = Path(table).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split("\t")
            if len(fields) >= 3 and not line.startswith("#"):
                out.setdefault(fields[2], fields[0].lower())
        break
    return out


#: the tz database's zone -> country table (Debian's tzdata)
ZONE_TABLES = ("/usr/share/zoneinfo/zone.tab",)


def _items(value: object) -> tuple[object, ...]:
    """``value`` if it is a tuple, else nothing (a wrong type validation reports)."""
    return value if isinstance(value, tuple) else ()


_Item = TypeVar("_Item", Node, Staff, Trunk)


def _by_id(value: object, kind: type[_Item]) -> dict[str, _Item]:
    """The items of ``value`` that are ``kind`` with a string id, by id; the first of
    each id (duplicates are reported by validation)."""
    out: dict[str, _Item] = {}
    for item in _items(value):
        if isinstance(item, kind) and isinstance(item.id, str):
            out.setdefault(item.id, item)
    return out
