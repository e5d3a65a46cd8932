"""The suppression list as the operator sees it: read a page at a time, and lift an entry.

Entries are written where mail comes back (`store.bounces`, the ledger's hard bounces) and kept
when a reader is removed after a bounce or complaint; this module only reads and lifts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from digest.store.schema import BounceScoreRow, SuppressionRow
from digest.store.subscribers import email_key, get_row_by_email, set_status


@dataclass(frozen=True, slots=True)
class Suppression:
    email: str  # the casefolded address: the unit of suppression
    reason: str
    since: datetime


def _to_suppression(row: SuppressionRow) -> Suppression:
    return Suppression(email=row.email_key, reason=row.reason, since=row.created_at)


def suppression_of(session: Session, address: str) -> Suppression | None:
    row = session.get(SuppressionRow, email_key(address))
    return _to_suppression(row) if row is not None else None


def suppressions_page(session: Session, *, after: str = "", limit: int = 1000) -> list[Suppression]:
    """The next page by address (keyset pagination): flat memory however long the list."""
    rows = session.scalars(
        select(SuppressionRow)
        .where(SuppressionRow.email_key > after)
        .order_by(SuppressionRow.email_key)
        .limit(limit)
    )
    return [_to_suppression(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Lifted:
    suppression: Suppression
    reactivated: bool  # a reader held only by the bounce is active again


def lift(session: Session, address: str, now: datetime) -> Lifted | None:
    """Remove the entry; None when the address is not suppressed. A reader whose status is
    `bounced` becomes active again with a clean bounce score (the operator fixed the cause); one
    who unsubscribed or complained stays unsubscribed: lifting never resubscribes anyone."""
    row = session.get(SuppressionRow, email_key(address))
    if row is None:
        return None
    found = _to_suppression(row)
    session.delete(row)
    reader = get_row_by_email(session, address)
    reactivated = reader is not None and reader.status == "bounced"
    if reader is not None and reactivated:
        set_status(session, reader, "active", now)
        session.execute(delete(BounceScoreRow).where(BounceScoreRow.subscriber_id == reader.id))
    session.flush()
    return Lifted(found, reactivated)
