"""Cadence and local send time: which edition is current, and when its slot falls.

An edition is keyed by a local date: for `daily`, each local day; for `weekly:<day>`, the date of
that weekday. Its slot is the subscriber's send time on that date in their time zone, resolved
through DST: a time skipped by a spring-forward gap fires once, just after the gap; a time that
occurs twice in autumn fires at its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.errors import InvalidValue
from digest.zones import parse_zone


def parse_local_time(value: str) -> time:
    """`HH:MM` on a 24-hour clock."""
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise InvalidValue(f"expected HH:MM on a 24-hour clock, got {value!r}")
    hour, minute = int(parts[0]), int(parts[1])
    if hour > 23 or minute > 59:
        raise InvalidValue(f"expected HH:MM on a 24-hour clock, got {value!r}")
    return time(hour, minute)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Cadence:
    weekday: int | None  # None for daily; 0 = Monday for weekly

    @property
    def period(self) -> timedelta:
        return timedelta(days=1 if self.weekday is None else 7)

    def __str__(self) -> str:
        return "daily" if self.weekday is None else f"weekly:{WEEKDAYS[self.weekday]}"


def parse_cadence(value: str) -> Cadence:
    """`daily` or `weekly:<mon..sun>`; ValueError with the accepted forms otherwise."""
    text = value.strip().lower()
    if text == "daily":
        return Cadence(None)
    if text.startswith("weekly:") and text[7:] in WEEKDAYS:
        return Cadence(WEEKDAYS.index(text[7:]))
    raise InvalidValue(f"expected 'daily' or 'weekly:<mon|tue|wed|thu|fri|sat|sun>', got {value!r}")


def parse_timezone(value: str) -> ZoneInfo:
    """A place's IANA zone; `Factory`, `localtime` and the like are refused (digest.zones)."""
    return parse_zone(value)


def local_slot(edition: date, send_time: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of `send_time` on `edition` in `zone`, resolved through DST."""
    # fold=0 picks the first of two autumn occurrences; for a spring-forward gap it applies the
    # offset from before the jump, which lands just after the gap (02:30 → 03:30): once.
    return datetime.combine(edition, send_time, tzinfo=zone).replace(fold=0).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A subscriber's cadence, send time and zone, parsed once."""

    cadence: Cadence
    send_time: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, cadence: str, send_time: str, timezone: str) -> Schedule:
        return cls(parse_cadence(cadence), parse_local_time(send_time), parse_timezone(timezone))

    def edition_on_or_before(self, local_day: date) -> date:
        """The edition date that `local_day` belongs to (the latest slot date not after it)."""
        if self.cadence.weekday is None:
            return local_day
        return local_day - timedelta(days=(local_day.weekday() - self.cadence.weekday) % 7)

    def slot(self, edition: date) -> datetime:
        return local_slot(edition, self.send_time, self.zone)

    def current_edition(self, instant: datetime) -> date:
        """The newest edition whose slot is at or before `instant` (UTC-aware)."""
        local_day = instant.astimezone(self.zone).date()
        edition = self.edition_on_or_before(local_day)
        if self.slot(edition) > instant:
            edition = self.edition_on_or_before(edition - timedelta(days=1))
        return edition

    def edition_for_hand_send(self, instant: datetime) -> date:
        """`digest send` by hand: today's local edition (daily) or this week's, slot or not."""
        return self.edition_on_or_before(instant.astimezone(self.zone).date())


def parse_schedule(cadence: str, send_time: str, timezone: str) -> Schedule:
    """A stored profile's schedule; InvalidValue naming the field that no longer validates."""
    fields = (
        ("cadence", cadence, parse_cadence),
        ("send_time", send_time, parse_local_time),
        ("timezone", timezone, parse_timezone),
    )
    for name, value, parse in fields:
        try:
            parse(value)
        except InvalidValue as exc:
            raise exc.within(name) from None
    return Schedule.parse(cadence, send_time, timezone)


def hand_send_edition(cadence: str, send_time: str, timezone: str, instant: datetime) -> date:
    """The edition a send by hand (or a preview) is for: the one place this rule is written."""
    return parse_schedule(cadence, send_time, timezone).edition_for_hand_send(instant)
