"""Compliance rules: the calling window on the callee's wall clock across DST changes,
ambiguous and unplaceable numbers, public holidays with China's make-up working days,
site-declared days, and the per-number caps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from callflow.model.campaigns import CallingWindow, Campaign
from callflow.model.schedule import Hours
from callflow.model.site import Site
from callflow.outbound.compliance import (
    ComplianceError,
    Rules,
    callee_zones,
    check_contact,
    next_open,
    number_zones,
    window_open,
)
from callflow.store import make_engine, make_sessionmaker, upgrade
from callflow.store.campaigns import CampaignAttempt, CampaignContact, DncNumber

UTC = dt.UTC
TSR = (Hours("mon-sun", "08:00", "21:00"),)  # US TSR 16 CFR 310.4(c): 8 am to 9 pm


def rules(hours: tuple[Hours, ...] | None = TSR, **fields: object) -> Rules:
    window = CallingWindow(hours=hours) if hours is not None else None
    campaign = Campaign(id="c", kind="playback", caller_id="+862112345678", window=window, **fields)  # type: ignore[arg-type]
    site = Site(name="star", entries={}, nodes=(), campaigns=(campaign,), timezone="Asia/Shanghai")
    return Rules.for_campaign(site, campaign)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


NY = ("America/New_York",)
LONDON = ("Europe/London",)


@pytest.mark.parametrize(
    ("zones", "moment", "open_"),
    [
        # New York springs forward on 2026-03-08: 12:30Z is 08:30 EDT (07:30 in EST)
        (NY, "2026-03-08T12:30:00+00:00", True),
        (NY, "2026-03-08T11:59:00+00:00", False),  # 07:59 EDT
        (NY, "2026-03-07T12:30:00+00:00", False),  # the day before: 07:30 EST
        # and falls back on 2026-11-01: 12:30Z is 07:30 EST
        (NY, "2026-11-01T12:30:00+00:00", False),
        (NY, "2026-11-01T13:00:00+00:00", True),
        (NY, "2026-11-02T01:59:00+00:00", True),  # 20:59 EST
        (NY, "2026-11-02T02:00:00+00:00", False),  # 21:00: end excluded
        # London: BST from 2026-03-29, GMT from 2026-10-25
        (LONDON, "2026-03-29T07:30:00+00:00", True),
        (LONDON, "2026-03-28T07:30:00+00:00", False),
        (LONDON, "2026-10-25T07:30:00+00:00", False),
        (LONDON, "2026-10-25T08:00:00+00:00", True),
        (("Asia/Shanghai",), "2026-12-01T00:00:00+00:00", True),  # 08:00 CST
        (("Asia/Shanghai",), "2026-12-01T13:00:00+00:00", False),  # 21:00
    ],
)
def test_window_is_read_on_the_callee_wall_clock(
    zones: tuple[str, ...], moment: str, open_: bool
) -> None:
    assert window_open(rules(), zones, at(moment)) is open_


def test_every_candidate_zone_must_be_inside() -> None:
    r = rules()
    freephone = callee_zones(r, "+18005550199", None)
    assert len(freephone) > 20 and "America/New_York" in freephone
    # 16:00Z: New York 11:00, but Guam (UTC+10) 02:00 and Pago Pago (UTC-11) 05:00
    assert window_open(r, NY, at("2026-06-10T16:00:00+00:00"))
    assert not window_open(r, freephone, at("2026-06-10T16:00:00+00:00"))
    opens = next_open(r, freephone, at("2026-06-10T16:00:00+00:00"))
    assert opens is not None
    assert all(8 <= opens.astimezone(ZoneInfo(z)).hour < 21 for z in freephone), (
        "opened outside some zone's window"
    )
    before = opens - dt.timedelta(minutes=1)
    assert not window_open(r, freephone, before)


def test_a_stored_zone_wins_and_unplaceable_numbers_use_the_campaign_zone() -> None:
    r = rules()
    assert callee_zones(r, "+18005550199", "Europe/Berlin") == ("Europe/Berlin",)
    assert number_zones("+80012345678") == ("Etc/Unknown",)
    assert callee_zones(r, "+80012345678", None) == ("Asia/Shanghai",)
    assert callee_zones(r, "+8613800138000", None) == ("Asia/Shanghai",)


def test_next_open_across_a_dst_gap_is_the_first_open_minute() -> None:
    r = rules((Hours("mon-sun", "02:30", "04:00"),))
    # 02:30 does not exist in New York on 2026-03-08 (02:00 -> 03:00 EDT): the window
    # opens at 03:00 EDT = 07:00Z, the first wall minute inside it
    opens = next_open(r, NY, at("2026-03-08T05:00:00+00:00"))
    assert opens == at("2026-03-08T07:00:00+00:00")


def test_china_holidays_and_make_up_working_days() -> None:
    r = rules((Hours("mon-fri", "09:00", "18:00"),), country="CN")
    sh = ("Asia/Shanghai",)
    assert not window_open(r, sh, at("2026-10-01T02:00:00+00:00"))  # National Day (Thu)
    assert r.holiday_name(dt.date(2026, 10, 1)) == "National Day"
    # Sunday 2026-09-20 is a make-up working day: called with Monday's hours
    assert window_open(r, sh, at("2026-09-20T02:00:00+00:00"))
    assert not window_open(r, sh, at("2026-09-27T02:00:00+00:00"))  # an ordinary Sunday
    # after the Golden Week the next opening is Thursday 2026-10-08 09:00 CST
    assert next_open(r, sh, at("2026-10-01T02:00:00+00:00")) == at("2026-10-08T09:00:00+08:00")


def test_site_declared_holidays_and_workdays_beat_the_package() -> None:
    # the package has no 2027 make-up days; the site declares one, and an extra holiday
    r = rules(
        (Hours("mon-fri", "09:00", "18:00"),),
        country="CN",
        holidays=(dt.date(2027, 3, 3),),
        workdays=(dt.date(2027, 10, 9), dt.date(2027, 10, 1)),
    )
    sh = ("Asia/Shanghai",)
    assert not window_open(r, sh, at("2027-03-03T02:00:00+00:00"))
    assert r.holiday_name(dt.date(2027, 3, 3)) == "site holiday"
    assert window_open(r, sh, at("2027-10-09T02:00:00+00:00"))  # a Saturday, declared
    assert window_open(r, sh, at("2027-10-01T02:00:00+00:00"))  # declared working


def test_a_country_the_package_does_not_know_is_refused() -> None:
    with pytest.raises(ComplianceError, match="'XX' is not an ISO 3166 code"):
        rules(country="XX")


@pytest.fixture
def session(tmp_path: object) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path}/c.db"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as opened:
        yield opened
    engine.dispose()


def _contact(session: Session, number: str, **fields: object) -> CampaignContact:
    row = CampaignContact(site="star", campaign="c", number=number, source="csv", **fields)
    session.add(row)
    session.flush()
    return row


def _attempt(session: Session, contact: CampaignContact, when: dt.datetime) -> None:
    session.add(
        CampaignAttempt(
            id=f"a{when.timestamp():.0f}{contact.id}",
            contact_id=contact.id,
            site="star",
            campaign="other",
            number=contact.number,
            attempt_no=1,
            state="ended",
            created_at=when,
        )
    )
    session.flush()


def test_caps_per_local_day_and_rolling_24h(session: Session) -> None:
    now = at("2026-12-01T05:00:00+00:00")  # 13:00 in Shanghai
    c = _contact(session, "+8613800138000")
    daily = rules(max_per_day=1)
    assert check_contact(session, daily, c, now).allowed
    _attempt(session, c, at("2026-11-30T16:30:00+00:00"))  # 00:30 local today
    verdict = check_contact(session, daily, c, now)
    assert (verdict.allowed, verdict.rule) == (False, "cap_day")
    assert verdict.not_before == at("2026-12-02T08:00:00+08:00")  # tomorrow's window
    rolling = rules(max_per_24h=2)
    assert check_contact(session, rolling, c, now).allowed
    _attempt(session, c, at("2026-11-30T09:00:00+00:00"))  # yesterday 17:00 local
    verdict = check_contact(session, rolling, c, now)
    assert (verdict.rule, verdict.not_before) == ("cap_24h", at("2026-12-01T09:00:01+00:00"))


def test_dnc_and_campaign_cap_have_no_next_time(session: Session) -> None:
    now = at("2026-12-01T05:00:00+00:00")
    capped = _contact(session, "+8613800138000", attempts=3)
    verdict = check_contact(session, rules(max_attempts=3), capped, now)
    assert (verdict.rule, verdict.not_before) == ("cap_campaign", None)
    listed = _contact(session, "+8613700137000")
    session.add(DncNumber(number=listed.number, source="optout"))
    verdict = check_contact(session, rules(), listed, now)
    assert (verdict.allowed, verdict.rule, verdict.not_before) == (False, "dnc", None)
    assert '"rule": "dnc"' in verdict.as_json()


# -- property: never a dial outside any candidate zone's window -----------------------
NUMBERS = [
    "+12125550100",  # New York
    "+442071234567",  # London
    "+8613800138000",  # Shanghai
    "+18005550199",  # toll free: 40+ zones
    "+61881234567",  # Adelaide and Perth
    "+19075550100",  # Adak and Anchorage
    "+80012345678",  # Etc/Unknown -> the campaign's zone
    "+917012345678",  # Asia/Calcutta (+05:30)
]
WINDOWS = [
    (Hours("mon-sun", "08:00", "21:00"),),
    (Hours("mon-fri", "09:00", "18:00"), Hours("sat", "10:00", "14:30")),
    (Hours("mon-sun", "22:00", "02:00"),),  # past midnight
]


def _inside(hours: tuple[Hours, ...], local: dt.datetime) -> bool:
    """Reference check, written independently of schedule.week_key/ranges."""
    minute = local.hour * 60 + local.minute
    for h in hours:
        sh, sm = map(int, h.start.split(":"))
        eh, em = map(int, h.end.split(":"))
        start, end = sh * 60 + sm, eh * 60 + em
        days = h.days.replace("mon-sun", "1234567").replace("mon-fri", "12345").replace("sat", "6")
        today, yesterday = str(local.isoweekday()), str((local.isoweekday() + 5) % 7 + 1)
        if start < end and today in days and start <= minute < end:
            return True
        if end < start and (
            (today in days and minute >= start) or (yesterday in days and minute < end)
        ):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(
    number=st.sampled_from(NUMBERS),
    hours=st.sampled_from(WINDOWS),
    moment=st.datetimes(
        min_value=dt.datetime(2026, 1, 1),
        max_value=dt.datetime(2028, 12, 31),
        timezones=st.just(UTC),
    ),
)
def test_window_never_allows_a_dial_outside_any_candidate_zone(
    number: str, hours: tuple[Hours, ...], moment: dt.datetime
) -> None:
    r = rules(hours)
    zones = callee_zones(r, number, None)

    def local(z: str, t: dt.datetime) -> dt.datetime:
        return t.astimezone(ZoneInfo(z)).replace(tzinfo=None)

    if window_open(r, zones, moment):
        assert all(_inside(hours, local(z, moment)) for z in zones)
    opens = next_open(r, zones, moment)
    if opens is not None:
        assert opens >= moment
        assert all(_inside(hours, local(z, opens)) for z in zones)
        if opens > moment:
            assert not window_open(r, zones, opens - dt.timedelta(minutes=1)) or (
                opens - moment < dt.timedelta(minutes=1)
            )


def test_validate_reports_an_unknown_country() -> None:
    from callflow.validate import validate

    campaign = Campaign(
        id="c",
        kind="playback",
        message="custom/recall",
        country="XX",
        window=CallingWindow(hours=TSR),
    )
    site = Site(name="star", entries={}, nodes=(), campaigns=(campaign,))
    problems = [str(d) for d in validate(site) if d.code == "CF122"]
    assert problems == [
        "site.campaigns['c'].country: country 'XX' is not an ISO 3166 code with public "
        "holidays (e.g. CN, US, GB) [CF122]"
    ]


@settings(max_examples=40, deadline=None)
@given(
    moment=st.datetimes(
        min_value=dt.datetime(2026, 1, 1),
        max_value=dt.datetime(2027, 12, 31),
        timezones=st.just(UTC),
    ),
    hours=st.sampled_from(WINDOWS),
)
def test_claim_never_reserves_a_number_outside_its_window(
    tmp_path_factory: pytest.TempPathFactory, moment: dt.datetime, hours: tuple[Hours, ...]
) -> None:
    from callflow.outbound.attempts import claim

    url = f"sqlite:///{tmp_path_factory.mktemp('claim')}/c.db"
    upgrade(url)
    engine = make_engine(url)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        s.add_all(
            CampaignContact(site="star", campaign="c", number=n, source="csv") for n in NUMBERS
        )
    r = rules(hours, country="US")
    claimed = claim(Session, r, now=moment, dialer_id="d", limit=len(NUMBERS))
    for c in claimed:
        for z in callee_zones(r, c.number, None):
            local = moment.astimezone(ZoneInfo(z)).replace(tzinfo=None)
            assert _inside(hours, local), (c.number, z, local)
            assert r.holiday_name(local.date()) is None
    with Session() as s:  # every contact not claimed got its verdict and next time
        held = [x for x in s.query(CampaignContact) if x.attempts == 0]
        assert len(held) + len(claimed) == len(NUMBERS)
        for x in held:
            assert x.verdict and (x.next_attempt_at is None or x.next_attempt_at > moment)
    engine.dispose()


@settings(max_examples=60, deadline=None)
@given(
    number=st.sampled_from([n for n in NUMBERS if not n.startswith("+1800")]),
    hours=st.sampled_from(WINDOWS),
    moment=st.datetimes(
        min_value=dt.datetime(2026, 1, 1),
        max_value=dt.datetime(2027, 12, 31),
        timezones=st.just(UTC),
    ).map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_next_open_is_the_earliest_open_minute(
    number: str, hours: tuple[Hours, ...], moment: dt.datetime
) -> None:
    r = rules(hours)
    zones = callee_zones(r, number, None)
    opens = next_open(r, zones, moment)
    assert opens is not None
    # brute force, minute by minute, with the reference check
    t = moment
    while t < opens:
        assert not all(
            _inside(hours, t.astimezone(ZoneInfo(z)).replace(tzinfo=None)) for z in zones
        ), f"{t} is open but next_open said {opens}"
        t += dt.timedelta(minutes=1)
    assert all(_inside(hours, opens.astimezone(ZoneInfo(z)).replace(tzinfo=None)) for z in zones)
