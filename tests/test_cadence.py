"""Edition dates and local send slots, across time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from digest.profiles.cadence import Schedule, parse_cadence


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 15), utc(2026, 1, 15, 7, 0)),  # CET, UTC+1
        (date(2026, 7, 15), utc(2026, 7, 15, 6, 0)),  # CEST, UTC+2
        (date(2026, 3, 29), utc(2026, 3, 29, 6, 0)),  # the spring-forward day itself
        (date(2026, 10, 25), utc(2026, 10, 25, 7, 0)),  # the fall-back day
    ],
)
def test_eight_in_paris_is_eight_in_paris_winter_and_summer(day: date, expected: datetime) -> None:
    assert Schedule.parse("daily", "08:00", "Europe/Paris").slot(day) == expected


def test_a_send_time_skipped_by_dst_fires_once_just_after_the_gap() -> None:
    schedule = Schedule.parse("daily", "02:30", "Europe/Paris")
    slot = schedule.slot(date(2026, 3, 29))
    assert slot == utc(2026, 3, 29, 1, 30)  # 03:30 CEST, the first instant after the gap
    assert schedule.current_edition(slot) == date(2026, 3, 29)


def test_a_repeated_autumn_time_fires_at_its_first_occurrence() -> None:
    schedule = Schedule.parse("daily", "02:30", "Europe/Paris")
    assert schedule.slot(date(2026, 10, 25)) == utc(2026, 10, 25, 0, 30)


def test_current_edition_switches_exactly_at_the_slot() -> None:
    schedule = Schedule.parse("daily", "08:00", "Asia/Tokyo")  # 23:00 UTC the day before
    assert schedule.current_edition(utc(2026, 5, 1, 22, 59)) == date(2026, 5, 1)
    assert schedule.current_edition(utc(2026, 5, 1, 23, 0)) == date(2026, 5, 2)


def test_weekly_editions_fall_on_the_chosen_weekday() -> None:
    schedule = Schedule.parse("weekly:mon", "08:00", "America/New_York")
    assert schedule.current_edition(utc(2026, 12, 2, 12)) == date(2026, 11, 30)
    assert schedule.current_edition(utc(2026, 11, 30, 12, 59)) == date(2026, 11, 23)
    assert schedule.current_edition(utc(2026, 11, 30, 13, 0)) == date(2026, 11, 30)
    assert schedule.edition_for_hand_send(utc(2026, 12, 5, 12)) == date(2026, 11, 30)


@pytest.mark.parametrize("bad", ["hourly", "weekly", "weekly:funday", "", "daily:mon"])
def test_bad_cadences_name_the_accepted_forms(bad: str) -> None:
    with pytest.raises(ValueError, match="weekly:<mon"):
        parse_cadence(bad)


@pytest.mark.parametrize(
    ("cadence", "send_time", "zone", "message"),
    [
        ("daily", "8am", "UTC", "HH:MM"),
        ("daily", "24:00", "UTC", "HH:MM"),
        ("daily", "08:00", "Europe/Atlantis", "IANA"),
    ],
)
def test_bad_schedules_are_rejected(cadence: str, send_time: str, zone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule.parse(cadence, send_time, zone)
