"""What the operator's pages read and change: pages of readers, one reader's history, editions
with their delivery counts, suppressions. Every list is a keyset page (a bounded query however
many readers there are); nothing here loads a whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, lazyload

from digest.store.schema import (
    BounceScoreRow,
    DeliveryPaperRow,
    DeliveryRow,
    IngestRunRow,
    SubscriberRow,
    SuppressionRow,
)
from digest.store.subscribers import get_row_by_public_id

STATUSES = ("pending", "active", "unsubscribed", "bounced")
DELIVERY_STATUSES = ("sent", "deferred", "failed", "bounced", "skipped", "queued")


@dataclass(frozen=True, slots=True)
class ReaderLine:
    id: int
    public_id: str
    email: str
    name: str | None
    status: str
    cadence: str
    created_at: datetime
    suppressed: bool


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    edition: date
    status: str
    attempts: int
    papers: int
    message_id: str | None
    last_error: str | None
    sent_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReaderDetail:
    reader: ReaderLine
    timezone: str
    send_time: str
    max_papers: int
    min_upvotes: int
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    topics: tuple[tuple[str, str], ...]
    suppression: str | None
    bounce_score: float
    deliveries: tuple[DeliveryLine, ...]


@dataclass(frozen=True, slots=True)
class EditionLine:
    edition: date
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class SuppressionLine:
    email_key: str
    reason: str
    since: datetime


def _suppressed() -> ColumnElement[bool]:
    return (
        select(SuppressionRow.email_key)
        .where(SuppressionRow.email_key == SubscriberRow.email_key)
        .exists()
    )


def _line(row: SubscriberRow, suppressed: bool) -> ReaderLine:
    return ReaderLine(
        id=row.id,
        public_id=row.public_id,
        email=row.email,
        name=row.name,
        status=row.status,
        cadence=row.cadence,
        created_at=row.created_at,
        suppressed=suppressed,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def reader_page(
    session: Session,
    *,
    search: str = "",
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[ReaderLine]:
    """Newest readers first, `limit` at a time, after the cursor `before_id`. `search` matches
    part of the address or the name, case-insensitively."""
    query = (
        select(SubscriberRow, _suppressed())
        .options(lazyload(SubscriberRow.topics))  # a list page shows no topics: one query
        .order_by(SubscriberRow.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(SubscriberRow.status == status)
    if before_id is not None:
        query = query.where(SubscriberRow.id < before_id)
    needle = search.strip()
    if needle:
        pattern = _like(needle.casefold())
        query = query.where(
            or_(
                SubscriberRow.email_key.like(pattern, escape="\\"),
                func.lower(SubscriberRow.name).like(pattern, escape="\\"),
            )
        )
    return [_line(row, bool(flag)) for row, flag in session.execute(query)]


def status_counts(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    query = select(SubscriberRow.status, func.count()).group_by(SubscriberRow.status)
    for status, count in session.execute(query):
        counts[str(status)] = int(count)
    return counts


def reader_detail(session: Session, public_id: str, *, editions: int = 20) -> ReaderDetail | None:
    """One reader with their last `editions` deliveries (newest first) and the server's answer
    to each: the "why did nothing arrive" view."""
    row = get_row_by_public_id(session, public_id)
    if row is None:
        return None
    suppression = session.get(SuppressionRow, row.email_key)
    score = session.get(BounceScoreRow, row.id)
    papers = (
        select(func.count())
        .where(DeliveryPaperRow.delivery_id == DeliveryRow.id)
        .correlate(DeliveryRow)
        .scalar_subquery()
    )
    rows = session.execute(
        select(DeliveryRow, papers)
        .where(DeliveryRow.subscriber_id == row.id)
        .order_by(DeliveryRow.edition.desc())
        .limit(editions)
    )
    deliveries = tuple(
        DeliveryLine(
            edition=delivery.edition,
            status=delivery.status,
            attempts=delivery.attempts,
            papers=int(count or 0),
            message_id=delivery.message_id,
            last_error=delivery.last_error,
            sent_at=delivery.sent_at,
            updated_at=delivery.updated_at,
        )
        for delivery, count in rows
    )
    return ReaderDetail(
        reader=_line(row, suppression is not None),
        timezone=row.timezone,
        send_time=row.send_time,
        max_papers=row.max_papers,
        min_upvotes=row.min_upvotes,
        confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
        topics=tuple((topic.name, topic.query) for topic in row.topics),
        suppression=suppression.reason if suppression is not None else None,
        bounce_score=score.score if score is not None else 0.0,
        deliveries=deliveries,
    )


def edition_page(
    session: Session, *, before: date | None = None, limit: int = 30
) -> list[EditionLine]:
    """The most recent edition dates (before the cursor) with their ledger counts by status."""
    dates = select(DeliveryRow.edition).distinct().order_by(DeliveryRow.edition.desc())
    if before is not None:
        dates = dates.where(DeliveryRow.edition < before)
    wanted = [day for (day,) in session.execute(dates.limit(limit))]
    if not wanted:
        return []
    lines = {day: dict.fromkeys(DELIVERY_STATUSES, 0) for day in wanted}
    counts = session.execute(
        select(DeliveryRow.edition, DeliveryRow.status, func.count())
        .where(DeliveryRow.edition >= wanted[-1], DeliveryRow.edition <= wanted[0])
        .group_by(DeliveryRow.edition, DeliveryRow.status)
    )
    for day, status, count in counts:
        if day in lines:
            lines[day][str(status)] = int(count)
    return [EditionLine(day, lines[day]) for day in wanted]


def delivery_counts(session: Session) -> dict[str, int]:
    """Every ledger row by status (for /metrics)."""
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    query = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
    for status, count in session.execute(query):
        counts[str(status)] = int(count)
    return counts


def last_sent_at(session: Session) -> datetime | None:
    value = session.scalar(select(func.max(DeliveryRow.sent_at)))
    return None if value is None else _aware(value)


def suppression_page(
    session: Session, *, after: str | None = None, search: str = "", limit: int = 50
) -> list[SuppressionLine]:
    query = select(SuppressionRow).order_by(SuppressionRow.email_key).limit(limit)
    if after is not None:
        query = query.where(SuppressionRow.email_key > after)
    if search.strip():
        query = query.where(
            SuppressionRow.email_key.like(_like(search.strip().casefold()), escape="\\")
        )
    return [
        SuppressionLine(row.email_key, row.reason, row.created_at) for row in session.scalars(query)
    ]


def email_of(session: Session, public_id: str) -> str | None:
    row = get_row_by_public_id(session, public_id)
    return row.email if row is not None else None


def suppression_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(SuppressionRow)) or 0)


def last_ingest_success(session: Session) -> dict[str, datetime]:
    """Per source, when its newest error-free ingest finished."""
    query = (
        select(IngestRunRow.source, func.max(IngestRunRow.finished_at))
        .where(IngestRunRow.error.is_(None))
        .group_by(IngestRunRow.source)
    )
    return {str(source): _aware(value) for source, value in session.execute(query)}


def _aware(value: object) -> datetime:
    # An aggregate bypasses the column type: the stored value is naive UTC.
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
