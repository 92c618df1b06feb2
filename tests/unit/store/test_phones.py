"""normalize_phone: every shape a caller's number arrives in maps to one E.164 string."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from callflow.store import InvalidPhone, normalize_phone, try_normalize_phone

E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("13800138000", "CN", "+8613800138000"),
        ("013800138000", "CN", "+8613800138000"),
        ("008613800138000", "CN", "+8613800138000"),
        ("+86 138-0013-8000", "CN", "+8613800138000"),
        ("(010) 6552 9988", "CN", "+861065529988"),
        ('"Li Lei" <13800138000>', "CN", "+8613800138000"),
        ("sip:+8613800138000@pbx.example;user=phone", "CN", "+8613800138000"),
        ("tel:+86-138-0013-8000", "CN", "+8613800138000"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+8613800138000", "US", "+8613800138000"),
    ],
)
def test_formats_asterisk_sends_normalise(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    "raw", ["12ab", "", "anonymous", "1001", "+86 138", "13800138000#", "*67 13800138000", "1" * 65]
)
def test_junk_is_rejected_naming_the_input(raw: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw)
    assert repr(raw) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert try_normalize_phone(raw) is None


def test_message_is_actionable() -> None:
    with pytest.raises(InvalidPhone, match=r"^phone '12ab' is not a valid number for region CN$"):
        normalize_phone("12ab", "CN")


@given(st.text(max_size=40), st.sampled_from(["CN", "US", "GB", "DE"]))
@example("+8613800138000", "CN")
@example("\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10", "CN")  # fullwidth
def test_any_text_gives_e164_or_invalid_phone(raw: str, region: str) -> None:
    try:
        result = normalize_phone(raw, region)
    except InvalidPhone:
        return
    assert E164.fullmatch(result), result
    assert normalize_phone(result, region) == result  # idempotent


mobile = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
separator = st.sampled_from(["", " ", "-", ".", "  "])


@given(mobile, separator)
def test_every_rendering_of_a_number_normalises_to_the_same_e164(digits: str, sep: str) -> None:
    try:
        expected = normalize_phone(digits, "CN")
    except InvalidPhone:
        return  # an unallocated range: nothing to compare
    parsed = phonenumbers.parse(expected)
    renderings = [
        phonenumbers.format_number(parsed, fmt)
        for fmt in (
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.RFC3966,
        )
    ]
    renderings += [sep.join([digits[:3], digits[3:7], digits[7:]]), "0086" + digits, "0" + digits]
    renderings += [f'"Caller" <{digits}>', f"sip:{expected}@pbx"]
    for rendering in renderings:
        assert normalize_phone(rendering, "CN") == expected, rendering
        # ...and from another default region, when written internationally
    assert normalize_phone(renderings[1], "US") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10",  # full-width digits
        "\uff0b\uff18\uff16\u3000\uff11\uff13\uff18\uff0d\uff10\uff10\uff11\uff13\uff0d"
        "\uff18\uff10\uff10\uff10",  # full-width plus, ideographic space, full-width minus
    ],
)
def test_full_width_forms_are_normalised(raw: str) -> None:
    assert normalize_phone(raw) == "+8613800138000"
    assert try_normalize_phone(raw) == "+8613800138000"
