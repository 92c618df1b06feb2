"""Report intervals: the database's UTC buckets roll up into local intervals exactly,
whatever the zone's offsets (whole hours, half hours, Nepal's 45 minutes, Lord Howe's
30-minute DST) and across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow.reports import Period, ReportError, zone
from callflow.reports.kpis import bucket_start

ZONES = ["America/Chicago", "Asia/Shanghai", "Asia/Kolkata", "Asia/Kathmandu",
         "Australia/Lord_Howe", "Europe/London", "Pacific/Chatham", "UTC"]  # fmt: skip
START = datetime(2026, 1, 1, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    interval=st.sampled_from(["15m", "30m", "hour", "day", "week"]),
    offset=st.integers(0, 365 * 24 * 3600 - 1),
)
def test_each_bucket_lies_inside_the_interval_of_its_calls(tz, interval, offset):
    period = Period(START, START + timedelta(days=366), zone(tz), interval)
    size = period.bucket_seconds
    instant = START + timedelta(seconds=offset)
    start = bucket_start(int(instant.timestamp()) // size, size)
    last = start + timedelta(seconds=size - 1)
    assert period.key_of(start) == period.key_of(instant) == period.key_of(last)
    # the SQLite form (text cut from the stored value) reads back the same bucket
    text = instant.strftime("%Y-%m-%d %H") + ("" if size == 3600 else f":{instant.minute // 15}")
    assert bucket_start(text, size) == start


def test_a_day_has_as_many_hours_as_the_clock_says():
    chicago = zone("America/Chicago")
    hours = {
        day: len(Period.parse(day, end, chicago, "hour").intervals())
        for day, end in (("2026-03-08", "2026-03-09"), ("2026-11-01", "2026-11-02"),
                         ("2026-06-01", "2026-06-02"))
    }  # fmt: skip
    assert hours == {"2026-03-08": 23, "2026-11-01": 25, "2026-06-01": 24}
    assert (
        Period.parse("2026-11-01", "2026-11-02", zone("Asia/Kathmandu"), "hour").bucket_seconds
        == 900
    )


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-13-01", "2026-12-02", "--from '2026-13-01' is not a date"),
        ("2026-11-02", "2026-11-01", "is not after --from"),
        ("2016-01-01", "2026-12-01", "at most ten years"),
    ],
)
def test_bad_periods_say_what_to_change(start, end, message):
    with pytest.raises(ReportError, match=message):
        Period.parse(start, end, zone("UTC"), "hour")
