"""A site with a wrongly typed value in many fields: each is one diagnostic, never a traceback."""

from callflow import (
    Dial,
    Hangup,
    Hours,
    Menu,
    PriorityRule,
    Queue,
    Site,
    Staff,
    TimeCondition,
    Voicemail,
)

site = Site(
    name="bad",
    timezone=8,
    language=1,
    priority=None,
    entries={"100": "main", "101": None},
    staff=[
        Staff("ann", name="Ann\nagi_callerid: 13800000001", device="PJSIP/1", groups=("sales",)),
        "bob",
    ],
    nodes=[
        Menu(
            id="main",
            prompt=[1, 2],
            options={"1": None, "2": "q"},
            timeout=float("inf"),
            tries=float("nan"),
        ),
        Queue(
            id="q",
            members=["sales"],
            max_wait=1e30,
            overflow="bye",
            priority=PriorityRule(None),
            cid_prefix="x\u2028",
        ),
        Dial(id="d", target=["ann"], ring=-5),
        TimeCondition(
            id="t", hours="mon-fri", open="main", closed="bye", holidays=[20261001, "2026-10-01"]
        ),
        TimeCondition(id="t2", hours=[Hours(1, "09:00", "18:00")], open="main", closed="bye"),
        Voicemail(id="vm", mailbox="1", greeting="x"),
        Hangup(id="bye", label="\ud800"),
        "not a node",
    ],
)
