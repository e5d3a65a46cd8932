"""Who is due when: a simulated month of scheduler ticks across DST, restarts and the ledger.

The tick here is the scheduler's: ask `due_editions` at an instant, then record each due edition
in the ledger as sent at that instant (what the delivery pipeline does once SMTP accepted it). The
database is a real SQLite file; only the clock is simulated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session

from digest.app.due import Due, due_pages
from digest.models import Profile, Subscriber
from digest.settings import Settings
from digest.store import Store
from digest.store.schema import DeliveryRow, SuppressionRow
from digest.store.subscribers import Status, create

JOINED = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def add_subscriber(
    store: Store,
    email: str,
    timezone: str,
    cadence: str,
    send_time: str,
    *,
    status: Status = "active",
    joined: datetime = JOINED,
) -> int:
    profile = Profile(email=email, timezone=timezone, cadence=cadence, send_time=send_time)
    with store.session() as session:
        return create(session, profile, status=status, origin="import", now=joined).id


def record(session: Session, due: Due, at: datetime, status: str = "sent") -> None:
    session.add(
        DeliveryRow(
            subscriber_id=due.subscriber.id,
            edition=due.edition,
            status=status,
            attempts=1,
            claimed_at=at,
            created_at=at,
            updated_at=at,
            sent_at=at if status == "sent" else None,
        )
    )


def due_editions(store: Store, at: datetime, settings: Settings) -> list[Due]:
    """The whole due set at `at`, over every page of readers."""
    return [due for page in due_pages(store, at, settings) for due in page.due]


def ticks(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    at = start
    while at <= end:
        yield at
        at += every


Sends = dict[str, list[tuple[date, datetime]]]


def simulate(
    store: Store, settings: Settings, instants: Iterator[datetime], *, status: str = "sent"
) -> Sends:
    """Run the scheduler's tick at each instant; return, per address, (edition, sent at)."""
    sends: Sends = {}
    for at in instants:
        with store.session() as session:
            for due in due_editions(store, at, settings):
                record(session, due, at, status)
                sends.setdefault(due.subscriber.email, []).append((due.edition, at))
    return sends


def days(first: date, last: date, step: int = 1) -> list[date]:
    return [first + timedelta(days=n) for n in range(0, (last - first).days + 1, step)]


def test_a_month_across_dst_sends_one_digest_per_slot_at_the_local_send_time(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    # Europe springs forward on 2026-03-29, the US on 2026-03-08, Sydney falls back on 2026-04-05;
    # Tokyo has no DST. Ticks every five minutes from a Saturday afternoon, when nothing is due.
    add_subscriber(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    add_subscriber(store, "night@example.org", "Europe/Paris", "daily", "02:30")
    add_subscriber(store, "ny@example.org", "America/New_York", "weekly:sun", "02:30")
    add_subscriber(store, "tokyo@example.org", "Asia/Tokyo", "daily", "09:00")
    add_subscriber(store, "sydney@example.org", "Australia/Sydney", "weekly:mon", "06:00")
    settings = make_settings()

    start, end = utc(2026, 2, 28, 14, 0), utc(2026, 4, 8, 0, 0)
    sends = simulate(store, settings, ticks(start, end, timedelta(minutes=5)))

    paris = [
        (d, utc(d.year, d.month, d.day, 7 if d < date(2026, 3, 29) else 6))
        for d in days(date(2026, 3, 1), date(2026, 4, 7))
    ]
    assert sends["paris@example.org"] == paris
    # 02:30 does not exist in Paris on 2026-03-29: that edition goes once, at 03:30 CEST.
    night = [
        (d, utc(d.year, d.month, d.day, 1 if d <= date(2026, 3, 29) else 0, 30))
        for d in days(date(2026, 3, 1), date(2026, 4, 7))
    ]
    assert sends["night@example.org"] == night
    assert [at for d, at in sends["night@example.org"] if d == date(2026, 3, 29)] == [
        utc(2026, 3, 29, 1, 30)
    ]
    # Weekly on Sundays; 2026-03-08 02:30 falls in New York's gap and goes at 03:30 EDT.
    assert sends["ny@example.org"] == [
        (date(2026, 3, 1), utc(2026, 3, 1, 7, 30)),  # EST, UTC-5
        (date(2026, 3, 8), utc(2026, 3, 8, 7, 30)),  # the gap day: 03:30 EDT
        (date(2026, 3, 15), utc(2026, 3, 15, 6, 30)),  # EDT, UTC-4
        (date(2026, 3, 22), utc(2026, 3, 22, 6, 30)),
        (date(2026, 3, 29), utc(2026, 3, 29, 6, 30)),
        (date(2026, 4, 5), utc(2026, 4, 5, 6, 30)),
    ]
    # 09:00 in Tokyo is midnight UTC every day; the 2026-04-08 edition's slot is the last tick.
    assert sends["tokyo@example.org"] == [
        (d, utc(d.year, d.month, d.day)) for d in days(date(2026, 3, 1), date(2026, 4, 8))
    ]
    # Mondays 06:00 in Sydney: the evening before in UTC, AEDT (+11) then AEST (+10).
    assert sends["sydney@example.org"] == [
        (d, utc(d.year, d.month, d.day, 6) - timedelta(hours=11 if d < date(2026, 4, 5) else 10))
        for d in days(date(2026, 3, 2), date(2026, 4, 6), 7)
    ]
    assert all(d.weekday() == 0 for d, _ in sends["sydney@example.org"])


def test_a_repeated_autumn_hour_sends_once_at_its_first_occurrence(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    add_subscriber(store, "night@example.org", "Europe/Paris", "daily", "02:30")
    settings = make_settings()
    # Every minute through the night Paris falls back (02:00–03:00 local happens twice).
    sends = simulate(
        store, settings, ticks(utc(2026, 10, 24, 22), utc(2026, 10, 25, 4), timedelta(minutes=1))
    )
    assert sends == {"night@example.org": [(date(2026, 10, 25), utc(2026, 10, 25, 0, 30))]}


def test_the_skipped_spring_hour_sends_once_ticking_every_minute(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    add_subscriber(store, "night@example.org", "Europe/Paris", "daily", "02:30")
    settings = make_settings()
    sends = simulate(
        store, settings, ticks(utc(2026, 3, 28, 22), utc(2026, 3, 29, 4), timedelta(minutes=1))
    )
    assert sends == {"night@example.org": [(date(2026, 3, 29), utc(2026, 3, 29, 1, 30))]}


@pytest.mark.parametrize(
    ("back_at", "expected"),
    [
        # Down from 06:30 to 10:00 UTC across the 07:00 UTC slot: sent once, late, on restart.
        (
            utc(2026, 1, 14, 10, 0),
            [
                (date(2026, 1, 14), utc(2026, 1, 14, 10, 0)),
                (date(2026, 1, 15), utc(2026, 1, 15, 7)),
            ],
        ),
        # Back exactly catch_up_hours (6 h) after the slot: still sent.
        (
            utc(2026, 1, 14, 13, 0),
            [
                (date(2026, 1, 14), utc(2026, 1, 14, 13, 0)),
                (date(2026, 1, 15), utc(2026, 1, 15, 7)),
            ],
        ),
        # Back one tick after the window closed: that edition is skipped, the next goes on time.
        (utc(2026, 1, 14, 13, 1), [(date(2026, 1, 15), utc(2026, 1, 15, 7))]),
        # Down for three days: no burst of old editions, only the current one, within the window.
        (
            utc(2026, 1, 17, 8, 0),
            [(date(2026, 1, 17), utc(2026, 1, 17, 8, 0)), (date(2026, 1, 18), utc(2026, 1, 18, 7))],
        ),
    ],
)
def test_a_restart_catches_up_only_inside_the_grace_window(
    store: Store,
    make_settings: Callable[..., Settings],
    back_at: datetime,
    expected: list[tuple[date, datetime]],
) -> None:
    add_subscriber(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    settings = make_settings(schedule={"catch_up_hours": 6})
    minute = timedelta(minutes=1)
    # Running until 06:30 UTC: yesterday's edition is long past the window, today's not yet due.
    assert simulate(store, settings, ticks(utc(2026, 1, 14), utc(2026, 1, 14, 6, 30), minute)) == {}
    # Down, then back at `back_at`, running until 08:00 UTC the next day.
    next_morning = datetime.combine(back_at.date() + timedelta(days=1), time(8), tzinfo=UTC)
    after = simulate(store, settings, ticks(back_at, next_morning, minute))
    assert after == {"paris@example.org": expected}


def test_a_subscriber_who_joins_after_todays_slot_gets_todays_edition_within_the_window(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    add_subscriber(
        store, "late@example.org", "Europe/Paris", "daily", "08:00", joined=utc(2026, 1, 14, 9)
    )
    due = due_editions(store, utc(2026, 1, 14, 9, 1), make_settings())
    assert [(d.subscriber.email, d.edition, d.slot) for d in due] == [
        ("late@example.org", date(2026, 1, 14), utc(2026, 1, 14, 7))
    ]


@pytest.mark.parametrize(
    ("status", "claimed_ago", "due_again"),
    [
        ("sent", timedelta(0), False),
        ("skipped", timedelta(0), False),
        ("bounced", timedelta(0), False),
        ("failed", timedelta(0), False),
        ("deferred", timedelta(0), True),  # the server said "later": try again on the next tick
        ("queued", timedelta(minutes=1), False),  # another process is sending it right now
        ("queued", timedelta(seconds=121), True),  # its sender died (lease: 120 s)
    ],
)
def test_the_ledger_decides_whether_an_edition_is_still_due(
    store: Store,
    make_settings: Callable[..., Settings],
    status: str,
    claimed_ago: timedelta,
    due_again: bool,
) -> None:
    add_subscriber(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    settings = make_settings(smtp={"claim_lease_seconds": 120})
    at = utc(2026, 1, 14, 9)
    with store.session() as session:
        [due] = due_editions(store, at, settings)
        record(session, due, at - claimed_ago, status)
    with store.session() as session:
        assert bool(due_editions(store, at, settings)) is due_again


def test_a_previous_edition_in_the_ledger_does_not_settle_the_current_one(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    add_subscriber(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    settings = make_settings()
    with store.session() as session:
        [yesterday] = due_editions(store, utc(2026, 1, 13, 7), settings)
        record(session, yesterday, utc(2026, 1, 13, 7))
    with store.session() as session:
        [today] = due_editions(store, utc(2026, 1, 14, 7), settings)
    assert (yesterday.edition, today.edition) == (date(2026, 1, 13), date(2026, 1, 14))


@pytest.mark.parametrize("status", ["pending", "unsubscribed", "bounced"])
def test_only_active_subscribers_are_due(
    store: Store, make_settings: Callable[..., Settings], status: Status
) -> None:
    add_subscriber(store, "x@example.org", "UTC", "daily", "08:00", status=status)
    assert due_editions(store, utc(2026, 1, 14, 8), make_settings()) == []


def test_a_suppressed_address_is_never_due_even_if_its_row_says_active(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    add_subscriber(store, "gone@example.org", "UTC", "daily", "08:00")
    with store.session() as session:
        session.add(SuppressionRow(email_key="gone@example.org", reason="550", created_at=JOINED))
    assert due_editions(store, utc(2026, 1, 14, 8), make_settings()) == []


def test_due_editions_come_oldest_slot_first_with_the_subscriber(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    add_subscriber(store, "paris@example.org", "Europe/Paris", "daily", "08:00")
    add_subscriber(store, "tokyo@example.org", "Asia/Tokyo", "daily", "09:00")
    due = due_editions(
        store, utc(2026, 1, 14, 7, 30), make_settings(schedule={"catch_up_hours": 12})
    )
    assert [(d.subscriber.email, d.edition) for d in due] == [
        ("tokyo@example.org", date(2026, 1, 14)),  # slot 00:00 UTC
        ("paris@example.org", date(2026, 1, 14)),  # slot 07:00 UTC
    ]
    assert isinstance(due[0].subscriber, Subscriber)


def test_a_naive_instant_is_refused(store: Store, make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="aware"):
        due_editions(store, datetime(2026, 1, 14, 8), make_settings())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "subscriber bad@example.org: timezone: unknown time zone"),
        ("cadence", "hourly", "subscriber bad@example.org: cadence: expected 'daily'"),
        ("send_time", "25:00", "subscriber bad@example.org: send_time: expected HH:MM"),
    ],
)
def test_a_broken_stored_profile_is_named_and_everyone_else_is_due(
    store: Store, make_settings: Callable[..., Settings], field: str, value: str, message: str
) -> None:
    fields = {"timezone": "UTC", "cadence": "daily", "send_time": "08:00", field: value}
    add_subscriber(store, "good@example.org", "UTC", "daily", "08:00")
    add_subscriber(
        store, "bad@example.org", fields["timezone"], fields["cadence"], fields["send_time"]
    )
    pages = list(due_pages(store, utc(2026, 1, 14, 8), make_settings()))
    assert [d.subscriber.email for page in pages for d in page.due] == ["good@example.org"]
    [bad] = [u for page in pages for u in page.unschedulable]
    assert bad.describe().startswith(message)
