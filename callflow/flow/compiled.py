"""What the compiled contexts of queues, dials and voicemail do, for the simulator.

The live runtime hands these nodes to Asterisk (:class:`~callflow.flow.effects.HandOff`):
app_queue and app_dial do the waiting and ringing, following the steps
:class:`callflow.compiler.dialplan.DialplanCompiler` writes. The simulator has no Asterisk,
so it runs this model instead. It is the mirror of ``visit_dial``, ``visit_queue`` and
``visit_voicemail`` of the compiler, step for step: the queue priority from the tier
(``CF_TIER_KEY``, then one ``ExecIf`` per rule in sorted order), the account manager
rung first when the staff context has them, the overflow on the QUEUESTATUS values that
leave the caller with us. Change one and you change the other; the three-way tests
(tests/integration/test_live.py) place the same calls compiled and simulated::

    steps = CompiledModel(site).visit(queue_node)   # Enter, SetVar(CF_PATH, 'queue'), ...
"""

from __future__ import annotations

from callflow.contract import (
    CALLERID_NAME,
    CF_MANAGER,
    CF_PATH,
    CF_PRIO,
    CF_TIER,
    IDENT,
    asterisk_filter,
)
from callflow.flow.effects import (
    GetVar,
    JoinQueue,
    Note,
    Ring,
    RingManager,
    SetVar,
    Steps,
    Wait,
)
from callflow.flow.machine import enter, goto
from callflow.model import nodes
from callflow.model.site import Site
from callflow.model.visitor import NodeVisitor


def queue_priority(rule: nodes.PriorityRule, tier: str) -> int:
    """The ``QUEUE_PRIO`` a caller whose ``CF_TIER`` is ``tier`` joins at
    (:meth:`~callflow.model.nodes.PriorityRule.priority_for`)."""
    return rule.priority_for(tier)


class CompiledModel(NodeVisitor[Steps]):
    """The compiled context of each node the flow machine hands off (see the module)."""

    backend = "the compiled-context model"

    def __init__(self, site: Site) -> None:
        self.site = site

    @staticmethod
    def prefix_name(prefix: str) -> Steps:
        """``Set(CALLERID(name)=<prefix>${CALLERID(name)})``."""
        if prefix:
            name = yield GetVar(CALLERID_NAME)
            yield SetVar(CALLERID_NAME, prefix + name)
        return None

    def visit_dial(self, node: nodes.Dial) -> Steps:
        yield from enter(node)
        yield from self.prefix_name(node.cid_prefix)
        outcome = yield Ring(node)
        yield Note("ring", f"{node.target} for {node.ring}s: {outcome}")
        if outcome == "answer":
            return None
        if outcome == "noanswer":
            yield Wait(node.ring)
        return (yield from goto(node.no_answer, "no_answer"))

    def visit_queue(self, node: nodes.Queue) -> Steps:
        yield from enter(node)
        yield SetVar(CF_PATH, "queue")
        priority = queue_priority(self.site.rule_for(node), (yield GetVar(CF_TIER)))
        yield SetVar(CF_PRIO, str(priority))
        yield from self.prefix_name(node.cid_prefix)
        if node.manager_first:
            manager = asterisk_filter(IDENT, (yield GetVar(CF_MANAGER)))
            if manager and manager in self.site.staff_map:  # DIALPLAN_EXISTS(staff,...)
                yield SetVar(CF_PATH, "manager")
                rung = yield RingManager(node, manager)
                yield Note("manager", f"{manager} for {node.manager_first}s: {rung}")
                if rung == "answer":
                    return None
                if rung == "noanswer":
                    yield Wait(node.manager_first)
                yield SetVar(CF_PATH, "manager-then-queue")
        outcome = yield JoinQueue(node, priority)
        yield Note("queue", f"join at priority {priority}: {outcome}")
        if outcome == "wait":
            return None
        if outcome == "timeout":
            yield Wait(node.max_wait or 0)
        return (yield from goto(node.overflow, "overflow"))

    def visit_voicemail(self, node: nodes.Voicemail) -> Steps:
        yield from enter(node)
        yield Note("voicemail", f"{node.mailbox} ({node.greeting})")
        return None
