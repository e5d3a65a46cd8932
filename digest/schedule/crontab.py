"""Standard crontab expressions for APScheduler 3, whose weekday numbers are off by one.

APScheduler 3's `CronTrigger.from_crontab` reads day-of-week 0 as Monday, while cron (and every
operator) reads 0 as Sunday: `0 6 * * 1` would ingest on Tuesdays. Weekday numbers are therefore
rewritten to names before the trigger is built, so `[schedule] ingest_cron` means what crontab(5)
says. Steps are expanded first, because `*/2` counts from a different day in each convention.
An expression restricting both day of month and day of week is refused: cron ORs the two,
APScheduler ANDs them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from digest.errors import ConfigError, map_value_errors
from digest.zones import parse_zone

# crontab(5) numbering: 0 and 7 are Sunday.
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day(token: str) -> int:
    text = token.strip().lower()
    if text in CRON_DAYS:
        return CRON_DAYS.index(text)
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text) % 7
    raise ValueError(f"day of week {token!r} is not 0-7 or sun..sat")


def _expand(part: str) -> set[int]:
    spec, _, step_text = part.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"bad step {step_text!r} in day of week {part!r}")
        step = int(step_text)
    if spec == "*":
        first, last = 0, 6
    elif "-" in spec:
        low, high = spec.split("-", 1)
        first, last = _day(low), _day(high)
        if last == 0 and first > 0:
            last = 7  # `5-7` and `fri-sun` run to Sunday
        if first > last:
            raise ValueError(f"day-of-week range {spec!r} runs backwards")
    else:
        first = last = _day(spec)
        if step_text:
            last = 6
    return {day % 7 for day in range(first, last + 1, step)}


def weekday_field(field: str) -> str:
    """A crontab day-of-week field as explicit APScheduler day names (`*` stays `*`)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        days |= _expand(part)
    # APScheduler accepts names in any order; keep Monday-first for readable logs.
    order = [1, 2, 3, 4, 5, 6, 0]
    return ",".join(CRON_DAYS[day] for day in order if day in days)


def crontab_trigger(expression: str, timezone: str) -> CronTrigger:
    """The trigger for a 5-field crontab expression in an IANA zone; ConfigError names the key."""
    with map_value_errors(where="[schedule] timezone", error=ConfigError):
        zone = parse_zone(timezone)
    fields = expression.split()
    if len(fields) != 5:
        raise ConfigError(
            f"[schedule] ingest_cron: expected 5 fields (minute hour day month weekday), "
            f"got {expression!r}"
        )
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        # crontab(5) fires when either matches; APScheduler 3 requires both. Refuse rather than
        # silently ingest on fewer days than the operator expects.
        raise ConfigError(
            f"[schedule] ingest_cron: {expression!r} restricts both day of month and day of "
            "week, which cron and APScheduler read differently; restrict only one"
        )
    with map_value_errors(where=f"[schedule] ingest_cron: {expression!r}", error=ConfigError):
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=weekday_field(weekday),
            timezone=zone,
        )


def fired_since(trigger: CronTrigger, since: datetime | None, now: datetime) -> bool:
    """Whether `trigger` had a fire time after `since` and at or before `now` (always, when
    `since` is None: a job never run is due)."""
    if since is None:
        return True
    upcoming = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    return upcoming is not None and upcoming <= now
