"""A deliberately broken site: every line marked BAD is one diagnostic in broken_site.expected."""

from callflow import (
    Dial,
    Goto,
    Hours,
    Menu,
    Play,
    Queue,
    Site,
    Staff,
    TimeCondition,
    Trunk,
    Voicemail,
)

site = Site(
    name="Broken-Site",  # BAD: not an identifier
    timezone="Mars/Olympus",  # BAD: unknown time zone
    entries={"100": "main", "12a": "main", "200": "nowhere"},  # BAD: '12a', BAD: nowhere
    staff=[
        Staff("ann", name="Ann", device="PJSIP/1001,evil", groups=("sales",)),  # BAD: device
        Staff("ann", name="Ann again", device="PJSIP/1002"),  # BAD: duplicate
        Staff("bob", name="Bob", device="PJSIP/1003", extension="100"),  # BAD: an entry's number
    ],
    trunks=[
        Trunk("carrier", host="203.0.113.5", register=False, numbers={"5550100": "300"}),  # BAD
    ],
    nodes=[
        Menu(
            id="main",
            prompt="custom/menu;rm -rf",  # BAD: sound file
            options={"1": "sales", "2": "ghost", "12": "sales"},  # BAD: ghost, BAD: '12'
            tries=0,  # BAD
        ),
        Queue(id="sales", members=["sales", "nobody"]),  # BAD: nobody, no max_wait, no overflow
        Menu(id="lonely", prompt="x", options={"1": "spin"}),  # unreachable, no person
        Goto(id="spin", target="spin2"),
        Goto(id="spin2", target="spin"),
        Play(id="main", prompts="dup", next="sales"),  # BAD: duplicate id
        Dial(id="entry", target="sales"),  # BAD: reserved id, unreachable
        TimeCondition(
            id="tc", hours=[Hours("mon-xyz", "9:00", "18:00")], open="sales", closed="vm"
        ),
        Voicemail(id="vm", mailbox="12ab"),  # BAD: mailbox; both unreachable
    ],
)
