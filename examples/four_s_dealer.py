"""A 4S car dealership: Sales, Service, Spare parts and Survey under one roof.

What the field articles asked for (DOMAIN.md):
- the first voice in opening hours is a person: the front desk answers, the menu only
  comes if nobody picks up within 15 seconds (§3);
- a shallow menu: sales, service, customer care, front desk; 0 always reaches a person;
- customers are looked up in the CRM; VIPs wait ahead of everyone else and first ring
  their own account manager (§2);
- after hours and on public holidays, callers can leave a message or book a callback;
- after-sales follow-ups and a satisfaction survey run as outbound campaigns (§4).

Compile it with ``callflow compile examples/four_s_dealer.py -o out/``.
"""

import datetime as dt

from callflow import (
    Audience,
    Branch,
    CallingWindow,
    Campaign,
    Hangup,
    Hours,
    Lookup,
    Member,
    Menu,
    Play,
    PriorityRule,
    Prompt,
    Queue,
    Site,
    Staff,
    SurveyQuestion,
    TimeCondition,
    Trunk,
    Voicemail,
    human_first,
)

OPEN = (Hours("mon-fri", "08:30", "18:00"), Hours("sat-sun", "09:00", "17:00"))
HOLIDAYS = (dt.date(2027, 1, 1), dt.date(2027, 2, 6), dt.date(2027, 2, 7), dt.date(2027, 10, 1))

staff = [
    Staff(
        "lily",
        name="Lily Zhang (front desk)",
        device="PJSIP/1001",
        groups=("front_desk",),
        extension="1001",
    ),
    Staff(
        "max",
        name="Max Li (front desk)",
        device="PJSIP/1002",
        groups=("front_desk",),
        extension="1002",
    ),
    Staff(
        "wang",
        name="Wang Wei (sales)",
        device="PJSIP/2001",
        groups=("sales",),
        extension="2001",
        did="+862155550121",
        mailbox="2001",
    ),
    Staff(
        "chen", name="Chen Jie (sales)", device="PJSIP/2002", groups=("sales",), extension="2002"
    ),
    Staff(
        "zhao",
        name="Zhao Lei (service adviser)",
        device="PJSIP/3001",
        groups=("service",),
        extension="3001",
    ),
    Staff(
        "sun",
        name="Sun Mei (service adviser)",
        device="PJSIP/3002",
        groups=("service",),
        extension="3002",
    ),
    Staff(
        "liu",
        name="Liu Fang (customer care)",
        device="PJSIP/4001",
        groups=("care",),
        extension="4001",
    ),
    Staff("he", name="He Yu (finance)", device="PJSIP/5001", groups=("care",), extension="5001"),
]

nodes = [
    Lookup(id="identify", next="vip_check", label="who is calling?"),
    Branch(
        id="vip_check",
        attribute="tier",
        cases={"vip": "vip_sales"},
        default="hours",
        label="VIPs skip the greeting",
    ),
    TimeCondition(
        id="hours",
        hours=OPEN,
        holidays=HOLIDAYS,
        open="greeting",
        closed="after_hours",
        holiday="holiday_notice",
    ),
    human_first("greeting", target="front_desk", ring=15, then="main"),
    Menu(
        id="main",
        prompt=Prompt(
            "custom/star-main-menu", text="For sales press 1, service 2, customer care 3"
        ),
        options={"1": "sales", "2": "service", "3": "care", "9": "front_desk_queue"},
        operator="front_desk_queue",
        timeout=5,
        tries=2,
        invalid_prompt="invalid",
        failure="front_desk_queue",
    ),
    Queue(
        id="vip_sales",
        label="VIP line: your account manager first",
        members=[Member("sales"), Member("care", penalty=1)],
        strategy="ringall",
        manager_first=15,
        max_wait=60,
        overflow="sales_voicemail",
        cid_prefix="VIP ",
    ),
    Queue(
        id="sales",
        members=["sales"],
        strategy="rrmemory",
        manager_first=15,
        max_wait=180,
        overflow="sales_voicemail",
    ),
    Queue(id="service", members=["service"], max_wait=180, overflow="service_voicemail"),
    Queue(id="care", members=["care"], max_wait=240, overflow="care_voicemail"),
    Queue(
        id="front_desk_queue",
        members=["front_desk", Member("care", penalty=2)],
        max_wait=120,
        overflow="care_voicemail",
    ),
    Menu(
        id="after_hours",
        prompt=Prompt("custom/star-closed", text="We are closed. 1 for a message, 2 for service"),
        options={"1": "sales_voicemail", "2": "service_voicemail"},
        operator="care",
        failure="goodbye",
    ),
    Play(id="holiday_notice", prompts=Prompt("custom/star-holiday"), next="after_hours"),
    Voicemail(id="sales_voicemail", mailbox="2000"),
    Voicemail(id="service_voicemail", mailbox="3000"),
    Voicemail(id="care_voicemail", mailbox="4000"),
    Hangup(id="goodbye", prompts="vm-goodbye"),
]

campaigns = [
    Campaign(
        id="service_followup",
        kind="followup",
        caller_id="+862161234567",  # required to launch (docs/outbound.md)
        label="call owners three days after a repair",
        audience=Audience(tags=("serviced",)),
        window=CallingWindow(hours=(Hours("mon-sat", "10:00", "19:00"),)),
        connect_to="care",
    ),
    Campaign(
        id="satisfaction_survey",
        kind="survey",
        caller_id="+862161234567",  # required to launch (docs/outbound.md)
        audience=Audience(tags=("purchased",)),
        window=CallingWindow(hours=(Hours("mon-fri", "10:00", "20:00"),)),
        questions=(
            SurveyQuestion("overall", "custom/survey-overall", answers="12345"),
            SurveyQuestion("recommend", "custom/survey-recommend", answers="12"),
        ),
    ),
    Campaign(
        id="new_model_message",
        kind="playback",
        caller_id="+862161234567",  # required to launch (docs/outbound.md)
        label="a consultant's own recording, played to VIP and gold owners",
        audience=Audience(tiers=("vip", "gold")),
        window=CallingWindow(hours=(Hours("sat-sun", "10:00", "18:00"),)),
        message=Prompt("custom/new-model-wang", text="recorded by Wang Wei"),
    ),
]

site = Site(
    name="star_motors",
    label="Star Motors 4S dealership",
    timezone="Asia/Shanghai",
    language="en",
    entries={"8000": "identify", "8001": "main"},
    staff=staff,
    nodes=nodes,
    campaigns=campaigns,
    priority=PriorityRule({"vip": 10, "gold": 5, "silver": 2}, default=0),
    # The carrier's numbers: the main number reaches the CRM-aware entry; 8001 (the
    # internal entry: no lookup, no opening hours) has no number, so no caller reaches it.
    trunks=[
        Trunk(
            "carrier",
            host="sip.carrier.example",
            username="862155550100",
            numbers={"+862155550100": "8000", "862155550100": "8000"},
            default="8000",
            caller_id="+862155550100",
        )
    ],
    country="cn",  # Chinese ringback and busy tones
)
