"""What the ledger says about editions: the lease rule, their states, a page of histories.

Reads only; every write to the ledger goes through `digest.store.deliveries.Ledger`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import cast

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from digest.store.schema import DeliveryPaperRow, DeliveryRow, PaperRow

# An edition that was sent or skipped hands its `candidates_until` to the next one.
CLOSED_STATUSES = ("sent", "skipped")
FINAL_STATUSES = ("sent", "skipped", "failed", "bounced")


def claimable(stale: datetime) -> ColumnElement[bool]:
    """The lease rule, the one place it is written: a delivery may be (re)claimed when it was
    deferred, or queued by a sender that has not renewed it since `stale` (it died)."""
    return or_(
        DeliveryRow.status == "deferred",
        and_(
            DeliveryRow.status == "queued",
            or_(DeliveryRow.claimed_at.is_(None), DeliveryRow.claimed_at < stale),
        ),
    )


def edition_rows(
    session: Session, wanted: Mapping[int, date], stale: datetime
) -> Iterable[tuple[int, date, str, bool]]:
    """(subscriber id, edition, status, claimable) of the ledger rows for a page of readers and
    the few edition dates they want; the caller keeps the rows for the edition each wants."""
    if not wanted:
        return []
    return cast(
        Iterable[tuple[int, date, str, bool]],
        session.execute(
            select(
                DeliveryRow.subscriber_id,
                DeliveryRow.edition,
                DeliveryRow.status,
                claimable(stale),
            ).where(
                DeliveryRow.subscriber_id.in_(list(wanted)),
                DeliveryRow.edition.in_(set(wanted.values())),
            )
        ),
    )


def settled(session: Session, wanted: Mapping[int, date], stale: datetime) -> set[int]:
    """The readers of `wanted` whose edition needs nothing now: final, or in flight elsewhere."""
    return {
        subscriber_id
        for subscriber_id, edition, _status, open_ in edition_rows(session, wanted, stale)
        if wanted[subscriber_id] == edition and not open_
    }


@dataclass(slots=True)
class History:
    """What the ledger says about a reader's earlier editions, as an edition build needs it."""

    previous_until: datetime | None = None  # candidates_until of the latest earlier closed one
    sent: set[str] = field(default_factory=set)  # ids of papers ever sent, among recent ones


def histories(
    session: Session, wanted: Mapping[int, date], *, papers_seen_after: datetime
) -> dict[int, History]:
    """The history of a page of readers in two statements, whatever the page size.

    Sent papers are read only among papers first seen after `papers_seen_after` (the edition's
    index window): older ones can never be candidates again, and a reader of years would
    otherwise drag every paper ever sent to them through each build."""
    found = {subscriber_id: History() for subscriber_id in wanted}
    if not wanted:
        return found
    ids = list(wanted)
    for day in set(wanted.values()):
        same_day = [i for i in ids if wanted[i] == day]
        latest = (
            select(DeliveryRow.subscriber_id, func.max(DeliveryRow.edition).label("edition"))
            .where(
                DeliveryRow.subscriber_id.in_(same_day),
                DeliveryRow.status.in_(CLOSED_STATUSES),
                DeliveryRow.candidates_until.is_not(None),
                DeliveryRow.edition < day,
            )
            .group_by(DeliveryRow.subscriber_id)
            .subquery()
        )
        rows = session.execute(
            select(DeliveryRow.subscriber_id, DeliveryRow.candidates_until).join(
                latest,
                and_(
                    DeliveryRow.subscriber_id == latest.c.subscriber_id,
                    DeliveryRow.edition == latest.c.edition,
                ),
            )
        )
        for subscriber_id, until in rows:
            found[subscriber_id].previous_until = until
    sent = session.execute(
        select(DeliveryRow.subscriber_id, DeliveryPaperRow.paper_id)
        .join(DeliveryRow, DeliveryRow.id == DeliveryPaperRow.delivery_id)
        .join(PaperRow, PaperRow.id == DeliveryPaperRow.paper_id)
        .where(
            DeliveryRow.subscriber_id.in_(ids),
            DeliveryRow.status == "sent",
            PaperRow.first_seen_at > papers_seen_after,
        )
    )
    for subscriber_id, paper_id in sent:
        found[subscriber_id].sent.add(paper_id)
    return found


@dataclass(frozen=True, slots=True)
class Carried:
    """What one sent edition carried, from the ledger: paper ids in the order mailed."""

    personal: tuple[str, ...]
    trending: tuple[str, ...]
    candidates_until: datetime | None


def carried(session: Session, subscriber_id: int, edition: date) -> Carried | None:
    """The papers a reader's edition carried when it was sent, or None if it was not sent."""
    row = session.execute(
        select(DeliveryRow.id, DeliveryRow.candidates_until).where(
            DeliveryRow.subscriber_id == subscriber_id,
            DeliveryRow.edition == edition,
            DeliveryRow.status == "sent",
        )
    ).first()
    if row is None:
        return None
    papers = session.execute(
        select(DeliveryPaperRow.section, DeliveryPaperRow.paper_id)
        .where(DeliveryPaperRow.delivery_id == row.id)
        .order_by(DeliveryPaperRow.section, DeliveryPaperRow.position)
    ).all()
    return Carried(
        personal=tuple(p for section, p in papers if section == "personal"),
        trending=tuple(p for section, p in papers if section == "trending"),
        candidates_until=row.candidates_until,
    )
