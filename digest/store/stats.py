"""Counts for the operator (subscribers by status, deliveries by edition and outcome) and one
reader's ledger rows.

Each count is one grouped query, whatever the number of subscribers; nothing there loads rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.editions import claimable
from digest.store.schema import DeliveryPaperRow, DeliveryRow, SubscriberRow

STATUSES = ("pending", "active", "unsubscribed", "bounced")
OUTCOMES = ("sent", "deferred", "failed", "bounced", "skipped", "queued")


@dataclass(frozen=True, slots=True)
class EditionCounts:
    """How the deliveries of one edition date stand, one count per ledger state."""

    edition: date
    counts: Mapping[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return int(self.counts.get(outcome, 0))


def subscribers_by_status(session: Session) -> dict[str, int]:
    """Every status, zeros included, so a dashboard's keys never come and go."""
    counts = dict.fromkeys(STATUSES, 0)
    query = select(SubscriberRow.status, func.count()).group_by(SubscriberRow.status)
    for status, n in session.execute(query):
        counts[status] = int(n)
    return counts


def editions(session: Session, *, limit: int = 30) -> list[EditionCounts]:
    """The `limit` most recent edition dates, newest first, with their counts by state."""
    recent = (
        select(DeliveryRow.edition)
        .group_by(DeliveryRow.edition)
        .order_by(DeliveryRow.edition.desc())
        .limit(limit)
        .subquery()
    )
    query = (
        select(DeliveryRow.edition, DeliveryRow.status, func.count())
        .where(DeliveryRow.edition.in_(select(recent.c.edition)))
        .group_by(DeliveryRow.edition, DeliveryRow.status)
    )
    by_date: dict[date, dict[str, int]] = {}
    for edition, status, n in session.execute(query):
        by_date.setdefault(edition, {})[status] = int(n)
    return [
        EditionCounts(edition=day, counts=by_date[day]) for day in sorted(by_date, reverse=True)
    ]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One ledger row of one reader, as `digest why` and the admin reader page show it.
    `open` is the lease rule's answer: a run may (re)claim it now."""

    edition: date
    status: str
    attempts: int
    last_error: str | None
    message_id: str | None
    sent_at: datetime | None
    updated_at: datetime
    candidates_until: datetime | None
    open: bool
    papers: frozenset[str] = frozenset()


def reader_deliveries(
    session: Session,
    subscriber_id: int,
    *,
    stale: datetime,
    edition: date | None = None,
    limit: int = 10,
) -> list[DeliveryRecord]:
    """A reader's ledger rows, newest edition first (only `edition`'s when given), each with
    the ids of the papers it carried."""
    query = (
        select(DeliveryRow, claimable(stale))
        .where(DeliveryRow.subscriber_id == subscriber_id)
        .order_by(DeliveryRow.edition.desc())
        .limit(limit)
    )
    if edition is not None:
        query = query.where(DeliveryRow.edition == edition)
    rows = [(row, open_) for row, open_ in session.execute(query)]
    carried: dict[int, set[str]] = {row.id: set() for row, _ in rows}
    if carried:
        pairs = session.execute(
            select(DeliveryPaperRow.delivery_id, DeliveryPaperRow.paper_id).where(
                DeliveryPaperRow.delivery_id.in_(list(carried))
            )
        )
        for delivery_id, paper_id in pairs:
            carried[delivery_id].add(paper_id)
    return [
        DeliveryRecord(
            edition=row.edition,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            message_id=row.message_id,
            sent_at=row.sent_at,
            updated_at=row.updated_at,
            candidates_until=row.candidates_until,
            open=bool(open_),
            papers=frozenset(carried[row.id]),
        )
        for row, open_ in rows
    ]
