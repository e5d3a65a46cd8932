"""Who is due for which edition at an instant: the one question the scheduler asks the database.

A subscriber is due when the slot of their *current* edition (the newest whose local send time has
passed, `Schedule.current_edition`) is at most `[schedule] catch_up_hours` old and the ledger holds
no final outcome for that (subscriber, edition). Only the current edition is ever considered, so a
long outage costs the missed editions instead of mailing them in a burst, and each subscriber is
due for one edition at most.

The answer depends only on the database state and the instant passed in (no clock is read here),
so a test can walk months of minutes through it, and two processes asking at once get the same
answer: which of them actually sends is settled by the ledger's unique (subscriber, edition) claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from digest.errors import ConfigError
from digest.models import Subscriber
from digest.profiles.cadence import Schedule, parse_cadence, parse_local_time, parse_timezone
from digest.settings import Settings
from digest.store.schema import DeliveryRow, SubscriberRow, SuppressionRow
from digest.store.subscribers import by_ids

# Outcomes that settle an edition for good. `deferred` (the SMTP server said "later") and `queued`
# rows whose claim went stale (a process died mid-send) are due again.
FINAL_STATUSES = ("sent", "skipped", "bounced", "failed")
_SCHEDULE_COLUMNS = (
    SubscriberRow.id,
    SubscriberRow.email,
    SubscriberRow.cadence,
    SubscriberRow.send_time,
    SubscriberRow.timezone,
)


@dataclass(frozen=True, slots=True)
class Due:
    """One subscriber's edition that should be sent now; `slot` is when it was meant to go (UTC)."""

    subscriber: Subscriber
    edition: date
    slot: datetime


def parse_schedule(email: str, cadence: str, send_time: str, timezone: str) -> Schedule:
    """A stored profile's schedule, or a ConfigError naming the subscriber and the field."""
    fields = (
        ("cadence", cadence, parse_cadence),
        ("send_time", send_time, parse_local_time),
        ("timezone", timezone, parse_timezone),
    )
    for name, value, parse in fields:
        try:
            parse(value)
        except ValueError as exc:
            raise ConfigError(f"subscriber {email}: {name}: {exc}") from None
    return Schedule.parse(cadence, send_time, timezone)


def schedule_of(subscriber: Subscriber) -> Schedule:
    profile = subscriber.profile
    return parse_schedule(profile.email, profile.cadence, profile.send_time, profile.timezone)


def validate_stored_schedules(session: Session) -> int:
    """Check every stored profile (whatever its status) so a service never starts with a profile
    it would choke on later; returns how many were checked."""
    rows = session.execute(select(*_SCHEDULE_COLUMNS).order_by(SubscriberRow.id)).all()
    for _id, email, cadence, send_time, timezone in rows:
        parse_schedule(email, cadence, send_time, timezone)
    return len(rows)


def catch_up_window(settings: Settings) -> timedelta:
    return timedelta(hours=settings.schedule.catch_up_hours)


def due_editions(session: Session, at: datetime, settings: Settings) -> list[Due]:
    """Every active subscriber's current edition that is due at `at` (aware), oldest slot first."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("due_editions needs an aware datetime (naive instants are ambiguous)")
    window = catch_up_window(settings)
    # Runs every minute: read only the schedule columns of every active subscriber, and load whole
    # profiles (with topics) just for the few whose slot falls inside the window.
    rows = session.execute(
        select(*_SCHEDULE_COLUMNS)
        .where(SubscriberRow.status == "active")
        # A suppressed address (hard bounce, complaint) is never mailed, as in the sender.
        .where(~exists().where(SuppressionRow.email_key == SubscriberRow.email_key))
        .order_by(SubscriberRow.id)
    )
    slots: dict[int, tuple[date, datetime]] = {}
    # Readers share a few hundred (cadence, send time, zone) triples at most: resolve each once.
    current: dict[tuple[str, str, str], tuple[date, datetime]] = {}
    for subscriber_id, email, cadence, send_time, timezone in rows:
        key = (cadence, send_time, timezone)
        if key not in current:
            schedule = parse_schedule(email, cadence, send_time, timezone)
            edition = schedule.current_edition(at)
            current[key] = (edition, schedule.slot(edition))
        edition, slot = current[key]
        if at - slot <= window:
            slots[subscriber_id] = (edition, slot)
    lease = timedelta(seconds=settings.smtp.claim_lease_seconds)
    settled = _settled(session, slots, at, lease)
    pending = [i for i, (edition, _) in slots.items() if (i, edition) not in settled]
    due = [Due(s, *slots[s.id]) for s in by_ids(session, pending)] if pending else []
    due.sort(key=lambda d: (d.slot, d.subscriber.id))
    return due


def _settled(
    session: Session, slots: Mapping[int, tuple[date, datetime]], at: datetime, lease: timedelta
) -> set[tuple[int, date]]:
    """(subscriber, edition) pairs the ledger says are done or in flight elsewhere.

    A `queued` row claimed less than `[smtp] claim_lease_seconds` ago is a send in flight: not
    due. An older claim belongs to a sender that died; the ledger lets the next claimant take it
    over (`digest.store.deliveries`), so it is due again.

    One query over the few distinct edition dates in play (a week at most), not one per subscriber.
    """
    editions = {edition for edition, _ in slots.values()}
    if not editions:
        return set()
    rows = session.execute(
        select(
            DeliveryRow.subscriber_id,
            DeliveryRow.edition,
            DeliveryRow.status,
            DeliveryRow.claimed_at,
        ).where(DeliveryRow.edition.in_(sorted(editions)))
    )
    settled: set[tuple[int, date]] = set()
    for subscriber_id, edition, status, claimed_at in rows:
        in_flight = status == "queued" and claimed_at is not None and at - claimed_at < lease
        if status in FINAL_STATUSES or in_flight:
            settled.add((subscriber_id, edition))
    return settled
