"""An online shop's customer hotline: order status, complaints, returns, a person on 0.

What the field articles asked for (DOMAIN.md):
- the CRM is the base: every call starts with a lookup, so the agent's screen shows the
  buyer's orders and history, and the flow knows the customer's tier and tags (§5, 004);
- customer value orders the queues: VIP and gold buyers wait ahead of everyone else,
  and key-account buyers ring their own account manager before a complaint queue (§2);
- one short menu: order status 1, complaints 2, returns and after-sales 3, and 0 (or
  silence, or a wrong key twice) reaches a person (§3);
- like the telecom hotline of seed 003, customers whose tags mark them as likely to
  upgrade hear one extra option that leads to a sales-offer queue (§4);
- a second number for overseas buyers asks for Chinese or English first (§2: segment by
  language);
- opening hours are Shanghai time; after hours and on Spring Festival callers leave a
  message; every queue gives up after a bounded wait into a voicemail box;
- delivered orders are followed by a satisfaction survey, complaints by a call back
  from customer care (§4).

Compile it with ``callflow compile examples/ecommerce_hotline.py -o out/``.
"""

import datetime as dt

from callflow import (
    Audience,
    Branch,
    CallingWindow,
    Campaign,
    Hours,
    LanguageSelect,
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
    Voicemail,
)

# Online shoppers call in the evening and at weekends too.
OPEN = (Hours("mon-fri", "09:00", "21:00"), Hours("sat-sun", "10:00", "18:00"))
SPRING_FESTIVAL = tuple(dt.date(2027, 2, 6) + dt.timedelta(days=n) for n in range(4))

staff = [
    # order-status desk: the first line, also the operator's pool
    Staff("xu", name="Xu Ting (order desk)", device="PJSIP/1101", groups=("orders",)),
    Staff("gao", name="Gao Yan (order desk)", device="PJSIP/1102", groups=("orders",)),
    Staff("ma", name="Ma Lin (order desk)", device="PJSIP/1103", groups=("orders",)),
    # complaints: senior customer-care staff, who also look after key accounts
    Staff("song", name="Song Jia (customer care)", device="PJSIP/1201", groups=("care",)),
    Staff("tang", name="Tang Hui (customer care)", device="PJSIP/1202", groups=("care",)),
    # returns and after-sales, with the warehouse lead who can check a parcel
    Staff("lin", name="Lin Bo (after-sales)", device="PJSIP/1301", groups=("after_sales",)),
    Staff("feng", name="Feng Qi (warehouse)", device="PJSIP/1302", groups=("after_sales",)),
    # sales: upgrade and trade-in offers
    Staff("cao", name="Cao Rui (sales)", device="PJSIP/1401", groups=("sales",)),
    Staff("yuan", name="Yuan Fei (sales)", device="PJSIP/1402", groups=("sales",)),
    # the shift supervisor backs up every queue at a higher penalty
    Staff("luo", name="Luo Min (supervisor)", device="PJSIP/1501", groups=("supervisors",)),
]

nodes = [
    # Overseas number: choose a language, then the same flow as the main number.
    LanguageSelect(
        id="language",
        prompt=Prompt("custom/shop-language", text="中文请按1, for English press 2"),
        languages={"1": "zh", "2": "en"},
        default="en",
        timeout=4,
        next="identify",
    ),
    Lookup(id="identify", next="hours", label="who is calling? screen pop with orders"),
    TimeCondition(
        id="hours",
        hours=OPEN,
        holidays=SPRING_FESTIVAL,
        open="offer_check",
        closed="closed_notice",
        holiday="holiday_notice",
    ),
    Branch(
        id="offer_check",
        attribute="tags",
        cases={"upgrade_candidate": "main_with_offer"},
        default="main",
        label="likely upgraders hear the offer",
    ),
    Menu(
        id="main",
        prompt=Prompt(
            "custom/shop-main-menu",
            text="Order status 1, complaints 2, returns and after-sales 3, an agent 0",
            seconds=6,
        ),
        options={"1": "order_status", "2": "complaints", "3": "returns"},
        operator="operator",
        timeout=5,
        tries=2,
        invalid_prompt="invalid",
        failure="operator",
    ),
    Menu(
        id="main_with_offer",
        prompt=Prompt(
            "custom/shop-main-menu-offer",
            text="Order status 1, complaints 2, returns 3, your upgrade offer 4, an agent 0",
            seconds=7,
        ),
        options={"1": "order_status", "2": "complaints", "3": "returns", "4": "sales_offer"},
        operator="operator",
        timeout=5,
        tries=2,
        invalid_prompt="invalid",
        failure="operator",
    ),
    Queue(
        id="order_status",
        label="where is my parcel?",
        members=["orders", Member("supervisors", penalty=2)],
        strategy="leastrecent",
        max_wait=180,
        overflow="orders_voicemail",
    ),
    Queue(
        id="complaints",
        label="complaints: key accounts ring their account manager first",
        members=["care", Member("supervisors", penalty=1)],
        strategy="rrmemory",
        manager_first=15,
        max_wait=240,
        overflow="care_voicemail",
        announce_holdtime=True,
    ),
    Queue(
        id="returns",
        label="returns, exchanges and repairs",
        members=["after_sales", Member("orders", penalty=1)],
        max_wait=180,
        overflow="after_sales_voicemail",
    ),
    Queue(
        id="sales_offer",
        label="upgrade and trade-in offers",
        members=["sales", Member("supervisors", penalty=2)],
        strategy="ringall",
        max_wait=90,
        overflow="sales_voicemail",
        cid_prefix="OFFER ",
    ),
    Queue(
        id="operator",
        label="a person, whatever the question",
        members=["orders", Member("care", penalty=1), Member("supervisors", penalty=2)],
        max_wait=120,
        overflow="care_voicemail",
    ),
    Play(
        id="closed_notice",
        prompts=Prompt(
            "custom/shop-closed",
            text="We are open 9 to 9 on weekdays, 10 to 6 at weekends; please leave a message",
        ),
        next="after_hours_voicemail",
    ),
    Play(
        id="holiday_notice",
        prompts=Prompt("custom/shop-holiday", text="Happy Spring Festival! Please leave a message"),
        next="after_hours_voicemail",
    ),
    Voicemail(id="after_hours_voicemail", mailbox="6000", email="service@example.com"),
    Voicemail(id="orders_voicemail", mailbox="6100"),
    Voicemail(id="care_voicemail", mailbox="6200", email="care@example.com"),
    Voicemail(id="after_sales_voicemail", mailbox="6300"),
    Voicemail(id="sales_voicemail", mailbox="6400"),
]

campaigns = [
    Campaign(
        id="delivery_survey",
        kind="survey",
        caller_id="+864008001234",  # required to launch (docs/outbound.md)
        label="satisfaction survey two days after delivery",
        audience=Audience(tags=("delivered",)),
        window=CallingWindow(hours=(Hours("mon-sat", "10:00", "20:00"),)),
        questions=(
            SurveyQuestion("delivery", "custom/survey-delivery", answers="12345"),
            SurveyQuestion("service", "custom/survey-service", answers="12345"),
            SurveyQuestion("recommend", "custom/survey-recommend", answers="12"),
        ),
        concurrency=4,
    ),
    Campaign(
        id="complaint_followup",
        kind="followup",
        caller_id="+864008001234",  # required to launch (docs/outbound.md)
        label="customer care calls back a day after a complaint is closed",
        audience=Audience(tags=("complaint_closed",)),
        window=CallingWindow(hours=(Hours("mon-fri", "10:00", "19:00"),)),
        connect_to="care",
    ),
]

site = Site(
    name="shop_hotline",
    label="Online shop customer hotline",
    timezone="Asia/Shanghai",
    language="zh",
    entries={"9000": "identify", "9001": "language"},
    staff=staff,
    nodes=nodes,
    campaigns=campaigns,
    priority=PriorityRule({"vip": 10, "gold": 5}, default=0),
)
