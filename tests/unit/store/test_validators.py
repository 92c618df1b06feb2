"""Field validators: identifiers and devices that end up in dialplan must be strict."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callflow.store import InvalidValue
from callflow.store.inputs import customer_data, staff_data
from callflow.store.validators import (
    DEVICE,
    parse_value,
    validate_device,
    validate_region,
    validate_staff_id,
    validate_tier,
    validate_timezone,
)


@pytest.mark.parametrize("good", ["alice", "bob_2", "a", "a" * 32])
def test_staff_ids_accepted(good: str) -> None:
    assert validate_staff_id(good) == good


@pytest.mark.parametrize("bad", ["Alice", "2bob", "", "a" * 33, "al ice", "al-ice", "alice\n"])
def test_staff_ids_rejected(bad: str) -> None:
    with pytest.raises(InvalidValue, match="staff id"):
        validate_staff_id(bad)


@pytest.mark.parametrize(
    "good", ["PJSIP/1001", "SIP/alice", "IAX2/peer-1", "Local/1001@agents", "DAHDI/g1/5551234"]
)
def test_devices_accepted(good: str) -> None:
    assert validate_device(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "1001",
        "PJSIP/",
        "PJSIP/1001&PJSIP/1002",
        "PJSIP/1001,30",
        "PJSIP/${SHELL(touch /tmp/pwned)}",
        "PJSIP/10 01",
        "PJSIP/1001\n",
        "PJ SIP/1001",
    ],
)
def test_devices_rejected(bad: str) -> None:
    with pytest.raises(InvalidValue, match="TECH/resource"):
        validate_device(bad)


@given(st.text(max_size=30))
def test_accepted_devices_carry_no_dialplan_syntax(text: str) -> None:
    if DEVICE.fullmatch(text):
        assert not set(text) & set(",&$(){}[];|'\"\\ \t\r\n")


def test_timezones() -> None:
    assert validate_timezone("Asia/Shanghai") == "Asia/Shanghai"
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "Asia/Shanghai\x00"):
        with pytest.raises(InvalidValue, match="IANA"):
            validate_timezone(bad)


def test_values() -> None:
    assert parse_value("12000.5") == Decimal("12000.50")
    for bad in ("lots", "-1", "NaN", "Infinity", "1e20"):
        with pytest.raises(InvalidValue, match="value"):
            parse_value(bad)


def test_customer_data_canonicalises() -> None:
    data = customer_data(
        name="  Li Lei ",
        phones=["138 0013 8000", "+8613800138000", "010 6552 9988"],
        tier="VIP",
        tags=["SUV", "suv", " ", "fleet"],
        region=" ",
        timezone="Asia/Shanghai",
    )
    assert data.name == "  Li Lei "  # verbatim
    assert data.phones == ("+861065529988", "+8613800138000")
    assert (data.tier, data.tags, data.region) == ("vip", frozenset({"suv", "fleet"}), None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phones": []}, "no phone number"),
        ({"phones": ["12ab"]}, "phone '12ab' is not a valid number for region CN"),
        ({"name": " "}, "name is empty"),
        ({"name": "a\x00b"}, "NUL"),
        ({"tier": "V I P"}, "tier 'V I P'"),
        ({"manager": "Bob"}, "staff id 'Bob'"),
        ({"language": "chinese!"}, "language"),
        ({"tags": ["ok", "not ok"]}, "tag 'not ok'"),
    ],
)
def test_customer_data_errors(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"name": "Li", "phones": ["13800138000"]}
    with pytest.raises(InvalidValue, match=message):
        customer_data(**(base | kwargs))  # type: ignore[arg-type]


def test_staff_data() -> None:
    data = staff_data(id="alice", name="Alice", device="PJSIP/1001", groups=["Sales", "care"])
    assert data.groups == frozenset({"sales", "care"})


@pytest.mark.parametrize(("raw", "tier"), [("vip", "vip"), (" VIP ", "vip"), ("gold_2", "gold_2")])
def test_tier_is_an_identifier(raw: str, tier: str) -> None:
    assert validate_tier(raw) == tier


@pytest.mark.parametrize("raw", ["gold-plus", "2nd", "", "v i p", "vip!", "a" * 33, "ví p"])
def test_tier_refuses_what_the_dialplan_cannot_match(raw: str) -> None:
    with pytest.raises(InvalidValue, match="must be an identifier"):
        validate_tier(raw)


def test_region_refuses_control_characters_and_keeps_text() -> None:
    assert validate_region("广东 深圳") == "广东 深圳"
    for bad in ("a\nb", "a\rb", "a\tb", "a\x00b", "\x1b[31m", "a\x7fb"):
        with pytest.raises(InvalidValue, match="contains a control character"):
            validate_region(bad)
    with pytest.raises(InvalidValue, match="at most 64 characters"):
        validate_region("x" * 65)
