"""Everything stored about readers, a page at a time: for moving to another instance, and for
a reader's data request. Keyset pages by id, each with its ledger rows in one statement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Subscriber
from digest.store.schema import DeliveryRow, SubscriberRow
from digest.store.subscribers import to_subscriber


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    edition: date
    status: str
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Exported:
    subscriber: Subscriber
    origin: str
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    deliveries: list[DeliveryLine] = field(default_factory=list)


def export_page(session: Session, *, after_id: int, limit: int) -> list[Exported]:
    """The next `limit` readers after `after_id`, by id, with their deliveries oldest first."""
    rows = list(
        session.scalars(
            select(SubscriberRow)
            .where(SubscriberRow.id > after_id)
            .order_by(SubscriberRow.id)
            .limit(limit)
        )
    )
    lines: dict[int, list[DeliveryLine]] = {row.id: [] for row in rows}
    if lines:
        found = session.execute(
            select(
                DeliveryRow.subscriber_id,
                DeliveryRow.edition,
                DeliveryRow.status,
                DeliveryRow.sent_at,
            )
            .where(DeliveryRow.subscriber_id.in_(list(lines)))
            .order_by(DeliveryRow.subscriber_id, DeliveryRow.edition)
        )
        for subscriber_id, edition, status, sent_at in found:
            lines[subscriber_id].append(DeliveryLine(edition, status, sent_at))
    return [
        Exported(
            subscriber=to_subscriber(row),
            origin=row.origin,
            created_at=row.created_at,
            updated_at=row.updated_at,
            confirmed_at=row.confirmed_at,
            unsubscribed_at=row.unsubscribed_at,
            deliveries=lines[row.id],
        )
        for row in rows
    ]
