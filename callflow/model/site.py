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
from functools import cached_property

from callflow.model.campaigns import Campaign
from callflow.model.nodes import Node, PriorityRule, Queue
from callflow.model.staff import Staff


@dataclass(frozen=True)
class LookupSettings:
    """Where the compiled dialplan asks the CRM who is calling (a FastAGI server)."""

    url: str = "agi://127.0.0.1:4573"
    script: str = "lookup"


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
    label: str = ""
    #: run every entry live (ARI), with the compiled flow as the fallback
    live: bool = False
    #: or only these entry numbers
    live_entries: tuple[str, ...] | list[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", dict(self.entries))
        object.__setattr__(self, "live_entries", tuple(self.live_entries))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "staff", tuple(self.staff))
        object.__setattr__(self, "campaigns", tuple(self.campaigns))

    # Derived views. Duplicated ids are reported by validation; these keep the first.
    @cached_property
    def node_map(self) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for n in self.nodes:
            out.setdefault(n.id, n)
        return out

    @cached_property
    def staff_map(self) -> dict[str, Staff]:
        out: dict[str, Staff] = {}
        for s in self.staff:
            out.setdefault(s.id, s)
        return out

    @cached_property
    def groups(self) -> dict[str, tuple[Staff, ...]]:
        """Group id -> its staff, in directory order."""
        out: dict[str, list[Staff]] = {}
        for s in self.staff_map.values():
            for g in s.groups:
                out.setdefault(g, []).append(s)
        return {g: tuple(members) for g, members in sorted(out.items())}

    def people(self, who: str) -> tuple[Staff, ...]:
        """The staff a dial or queue member ``who`` (a staff id or a group id) stands for."""
        if who in self.staff_map:
            return (self.staff_map[who],)
        return self.groups.get(who, ())

    def is_live(self, number: str) -> bool:
        """Whether calls to entry ``number`` go to the live runtime first
        (``Stasis(callflow-<site>,<number>)``), falling back to the compiled flow."""
        return self.live or number in self.live_entries

    def queues(self) -> Iterable[Queue]:
        return (n for n in self.nodes if isinstance(n, Queue))

    def rule_for(self, queue: Queue) -> PriorityRule:
        return queue.priority or self.priority
