"""Counts for the operator: subscribers by status and deliveries by edition and outcome.

Each is one grouped query, whatever the number of subscribers; nothing here loads rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.schema import DeliveryRow, SubscriberRow

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


def deliveries_by_outcome(session: Session) -> dict[str, int]:
    """Every ledger state over all editions, zeros included (the metrics' counters)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    query = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
    for status, n in session.execute(query):
        counts[status] = int(n)
    return counts
