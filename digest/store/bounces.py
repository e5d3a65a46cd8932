"""What mail that comes back changes: bounces on the ledger, bounce scores, complaints, and
the per-address reply limit of commands by mail. Every statement of it is here.

A hard bounce marks its delivery `bounced` and suppresses the reader at once. A soft bounce
notes itself on its delivery (which stays `sent`: the reader may well have it tomorrow) and
adds to the reader's bounce score, Mailman's way: at most one step per day on which bounces
arrive, the score forgotten after `reset_days` without one, the reader suppressed when it
reaches the threshold. A complaint unsubscribes and suppresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from digest.models import Subscriber
from digest.store.schema import (
    BounceScoreRow,
    DeliveryRow,
    ReplyWindowRow,
    SubscriberRow,
    SuppressionRow,
)
from digest.store.subscribers import (
    email_key,
    get_row_by_public_id,
    set_status,
    suppress,
    to_subscriber,
)


@dataclass(frozen=True, slots=True)
class ScorePolicy:
    per_day: float
    threshold: float
    reset_days: int


@dataclass(frozen=True, slots=True)
class BounceOutcome:
    subscriber: Subscriber
    score: float  # the soft-bounce score after this bounce (0 for a hard bounce)
    suppressed: bool


def _reader_of(
    session: Session, delivery_id: int, now: datetime
) -> tuple[DeliveryRow, SubscriberRow] | None:
    delivery = session.get(DeliveryRow, delivery_id)
    if delivery is None:
        return None
    # Touching the reader's row first takes its lock (PostgreSQL) or the write lock (SQLite):
    # two reports about one reader arriving at once are counted one after the other.
    session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.id == delivery.subscriber_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    subscriber = session.get(SubscriberRow, delivery.subscriber_id)
    if subscriber is None:
        return None
    return delivery, subscriber


def record_hard_bounce(
    session: Session, delivery_id: int, reason: str, now: datetime
) -> BounceOutcome | None:
    """None when no such delivery (or reader) exists any more."""
    found = _reader_of(session, delivery_id, now)
    if found is None:
        return None
    delivery, subscriber = found
    delivery.status = "bounced"
    delivery.last_error = reason
    delivery.updated_at = now
    suppress(session, subscriber.email, reason, now)
    return BounceOutcome(to_subscriber(subscriber), 0.0, True)


def record_soft_bounce(
    session: Session, delivery_id: int, reason: str, now: datetime, policy: ScorePolicy
) -> BounceOutcome | None:
    found = _reader_of(session, delivery_id, now)
    if found is None:
        return None
    delivery, subscriber = found
    delivery.last_error = reason
    delivery.updated_at = now
    today = now.date()
    row = session.get(BounceScoreRow, subscriber.id)
    if row is None:
        row = BounceScoreRow(subscriber_id=subscriber.id, score=0.0, last_bounce_on=today)
        session.add(row)
    elif (today - row.last_bounce_on).days > policy.reset_days:
        row.score = 0.0
    if row.score == 0.0 or row.last_bounce_on != today:
        row.score += policy.per_day
    row.last_bounce_on = today
    row.last_reason = reason
    row.updated_at = now
    session.flush()
    suppressed = row.score >= policy.threshold
    if suppressed:
        suppress(session, subscriber.email, f"bounce score {row.score:g}: {reason}", now)
    return BounceOutcome(to_subscriber(subscriber), row.score, suppressed)


def record_complaint(
    session: Session,
    delivery_id: int | None,
    public_ids: Sequence[str],
    reason: str,
    now: datetime,
) -> Subscriber | None:
    """Unsubscribe and suppress the reader a complaint names, by its delivery or else by the
    public id of a link we signed (a bounced reader stays bounced). None when it names nobody
    we know."""
    row: SubscriberRow | None = None
    if delivery_id is not None:
        delivery = session.get(DeliveryRow, delivery_id)
        if delivery is not None:
            row = session.get(SubscriberRow, delivery.subscriber_id)
    for public_id in public_ids:
        if row is not None:
            break
        row = get_row_by_public_id(session, public_id)
    if row is None:
        return None
    key = email_key(row.email)
    if session.get(SuppressionRow, key) is None:
        session.add(SuppressionRow(email_key=key, reason=reason, created_at=now))
    if row.status in ("pending", "active"):
        set_status(session, row, "unsubscribed", now)
    return to_subscriber(row)


def claim_reply(
    session: Session, address: str, now: datetime, *, limit: int, window: timedelta
) -> bool:
    """Count one reply to `address` if its window has room: True means send it."""
    key = email_key(address)
    row = session.get(ReplyWindowRow, key, with_for_update=True)
    if row is None:
        session.add(ReplyWindowRow(email_key=key, started_at=now, count=1))
        session.flush()
        return True
    if row.started_at <= now - window:
        row.started_at = now
        row.count = 1
        return True
    if row.count >= limit:
        return False
    row.count += 1
    return True
