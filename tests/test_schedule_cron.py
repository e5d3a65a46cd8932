"""`[schedule] ingest_cron` means what crontab(5) says, in `[schedule] timezone`, through DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.errors import ConfigError
from digest.schedule.crontab import crontab_trigger, weekday_field


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expression: str, zone: str, after: datetime, count: int) -> list[datetime]:
    trigger = crontab_trigger(expression, zone)
    out: list[datetime] = []
    previous = None
    now = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        out.append(fire.astimezone(UTC))
        previous, now = fire, fire
    return out


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("1", "mon"),  # crontab: 1 is Monday (APScheduler 3 alone would read Tuesday)
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "fri,sat,sun"),
        ("*/2", "tue,thu,sat,sun"),  # 0, 2, 4, 6 from Sunday
        ("mon,wed", "mon,wed"),
        ("Sat-Sun", "sat,sun"),
        ("1,3-4", "mon,wed,thu"),
    ],
)
def test_weekday_numbers_follow_crontab_not_apscheduler(field: str, names: str) -> None:
    assert weekday_field(field) == names


def test_monday_means_monday() -> None:
    # 2026-11-30 is a Monday.
    assert fires("0 6 * * 1", "UTC", utc(2026, 11, 27), 2) == [
        utc(2026, 11, 30, 6),
        utc(2026, 12, 7, 6),
    ]


def test_ingest_time_is_local_across_a_dst_change() -> None:
    # 06:00 in Paris: 05:00 UTC before 2026-03-29, 04:00 UTC from that day on.
    assert fires("0 6 * * *", "Europe/Paris", utc(2026, 3, 27, 12), 3) == [
        utc(2026, 3, 28, 5),
        utc(2026, 3, 29, 4),
        utc(2026, 3, 30, 4),
    ]


def test_a_time_inside_the_spring_gap_fires_once() -> None:
    fired = fires("30 2 * * *", "Europe/Paris", utc(2026, 3, 28, 12), 2)
    assert [f.date().isoformat() for f in fired] == ["2026-03-29", "2026-03-30"]


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("0 6 * *", "UTC", r"\[schedule\] ingest_cron: expected 5 fields"),
        ("61 6 * * *", "UTC", r"\[schedule\] ingest_cron: '61 6 \* \* \*'"),
        ("0 6 * * 9", "UTC", r"\[schedule\] ingest_cron: .*day of week '9'"),
        ("0 6 * * fri-mon", "UTC", r"\[schedule\] ingest_cron: .*runs backwards"),
        ("0 6 * * *", "Mars/Olympus", r"\[schedule\] timezone: unknown time zone"),
        ("0 6 1 * mon", "UTC", r"\[schedule\] ingest_cron: .*restrict only one"),
    ],
)
def test_bad_expressions_and_zones_name_the_setting(
    expression: str, zone: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        crontab_trigger(expression, zone)
