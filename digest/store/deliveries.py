"""The delivery ledger: one row per (subscriber, edition), and the only SQL the sender runs.

Exactly-once rests on the unique key (subscriber_id, edition). Claiming a delivery is an INSERT
committed on its own before any SMTP traffic: of two processes racing for the same edition, the
second gets IntegrityError (PostgreSQL makes it wait for the first to commit; SQLite serialises
writers) and skips it. Rows move

    queued ──▶ sent          only after the server answered 250 to the end of DATA
          ├──▶ deferred      transient failure; claimable again by the next run
          ├──▶ failed        refused for good (message rejected, invalid address)
          └──▶ bounced       recipient refused with 5xx; the address is suppressed
    skipped                  empty edition with `[digest] send_empty = false` (written directly)

The crash rule. A live sender renews `claimed_at` on its `queued` rows every third of
`[smtp] claim_lease_seconds`. A `queued` row older than the lease was left by a process that
died between claiming and recording: the next run re-claims it (an UPDATE guarded on the old
state, so only one process wins) and sends it again with the same Message-ID. If the dead
process had already had it accepted, the reader gets one duplicate; otherwise nothing is lost.
So a crash costs at most one extra copy of each message that was in flight, and never a digest.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from digest.models import Edition, Subscriber
from digest.store import Store
from digest.store.schema import DeliveryPaperRow, DeliveryRow, SubscriberRow, SuppressionRow
from digest.store.subscribers import suppress, to_subscriber

Status = Literal["queued", "sent", "deferred", "failed", "bounced", "skipped"]
Outcome = Literal["sent", "deferred", "failed", "bounced"]
EditionState = Literal["open", "held", "done"]


def wall_clock() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """Who holds a claim: host, pid and a nonce (a restarted process never reuses a claim)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    subscriber_id: int
    edition: date
    status: Status


class Ledger:
    """Hands out subscribers and claims, records results. Each method is its own transaction.

    Ledger times (claimed_at, sent_at, …) come from `clock`, the real time by default: leases
    are about process liveness, whatever `now` an edition was built for.
    """

    def __init__(
        self,
        store: Store,
        *,
        lease: timedelta,
        worker: str | None = None,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.store = store
        self.lease = lease
        self.worker = worker or worker_name()
        self.clock = clock

    def subscribers(
        self, *, after_id: int, limit: int, only_ids: Sequence[int] | None = None
    ) -> list[Subscriber]:
        """The next page of active, non-suppressed subscribers by id (keyset pagination)."""
        query = (
            _mailable(select(SubscriberRow), only_ids)
            .where(SubscriberRow.id > after_id)
            .order_by(SubscriberRow.id)
            .limit(limit)
        )
        with self.store.session() as session:
            return [to_subscriber(row) for row in session.scalars(query)]

    def count_subscribers(self, only_ids: Sequence[int] | None = None) -> int:
        query = _mailable(select(func.count(SubscriberRow.id)), only_ids)
        with self.store.session() as session:
            return int(session.scalar(query) or 0)

    def edition_states(self, wanted: dict[int, date]) -> dict[int, EditionState]:
        """For each subscriber id in `wanted`, where their edition stands: `open` (never
        claimed, or deferred, or left by a dead sender: worth building), `held` (queued by a
        sender whose lease still runs) or `done` (sent, skipped, failed or bounced). A cheap
        read before the real claim, which alone decides."""
        if not wanted:
            return {}
        stale = self.clock() - self.lease
        query = select(
            DeliveryRow.subscriber_id,
            DeliveryRow.edition,
            DeliveryRow.status,
            DeliveryRow.claimed_at,
        ).where(
            DeliveryRow.subscriber_id.in_(list(wanted)),
            DeliveryRow.edition.in_(set(wanted.values())),
        )
        states: dict[int, EditionState] = dict.fromkeys(wanted, "open")
        with self.store.session() as session:
            for subscriber_id, edition, status, claimed_at in session.execute(query):
                if wanted[subscriber_id] != edition or _claimable(status, claimed_at, stale):
                    continue
                states[subscriber_id] = "held" if status == "queued" else "done"
        return states

    def open_editions(self, wanted: dict[int, date]) -> set[int]:
        return {sid for sid, state in self.edition_states(wanted).items() if state == "open"}

    def claim(
        self,
        edition: Edition,
        *,
        message_id: str | None,
        status: Status = "queued",
        error: str | None = None,
    ) -> Claim | None:
        """Take (subscriber, edition) for this process, recording which papers it carries.

        `status` is `queued` for a message about to be sent, or a final state written without
        sending (`skipped`, or `failed` when no message could be made). None: someone else
        holds or finished it.
        """
        now = self.clock()
        subscriber_id = edition.subscriber.id
        values = {
            "status": status,
            "message_id": message_id,
            "candidates_until": edition.candidates_until,
            "claimed_by": self.worker,
            "claimed_at": now,
            "updated_at": now,
            "last_error": error,
        }
        try:
            with self.store.session() as session:
                row = DeliveryRow(
                    subscriber_id=subscriber_id,
                    edition=edition.date,
                    attempts=0,
                    created_at=now,
                    **values,
                )
                session.add(row)
                session.flush()
                session.add_all(_paper_rows(row.id, edition))
                return Claim(row.id, subscriber_id, edition.date, status)
        except IntegrityError:
            pass
        # The row exists: take it over only if it is deferred or its claimer is dead. The
        # guard is in the WHERE clause, so of two processes trying this, one updates a row.
        stale = now - self.lease
        with self.store.session() as session:
            delivery_id = session.scalar(
                update(DeliveryRow)
                .where(DeliveryRow.subscriber_id == subscriber_id)
                .where(DeliveryRow.edition == edition.date)
                .where(
                    or_(
                        DeliveryRow.status == "deferred",
                        and_(
                            DeliveryRow.status == "queued",
                            or_(DeliveryRow.claimed_at.is_(None), DeliveryRow.claimed_at < stale),
                        ),
                    )
                )
                .values(**values)
                .returning(DeliveryRow.id)
            )
            if delivery_id is None:
                return None
            session.execute(
                delete(DeliveryPaperRow).where(DeliveryPaperRow.delivery_id == delivery_id)
            )
            session.add_all(_paper_rows(delivery_id, edition))
            return Claim(delivery_id, subscriber_id, edition.date, status)

    def record(
        self,
        claim: Claim,
        outcome: Outcome,
        *,
        attempts: int,
        error: str | None = None,
        address: str | None = None,
    ) -> bool:
        """Store what the server said. `sent` is a fact and always lands; any other outcome
        only while this process still holds the claim. A bounce also suppresses `address`."""
        now = self.clock()
        query = update(DeliveryRow).where(DeliveryRow.id == claim.delivery_id)
        values: dict[str, object] = {
            "status": outcome,
            "attempts": DeliveryRow.attempts + attempts,
            "last_error": error,
            "updated_at": now,
        }
        if outcome == "sent":
            query = query.where(DeliveryRow.status != "sent")
            values["sent_at"] = now
        else:
            query = query.where(
                DeliveryRow.status == "queued", DeliveryRow.claimed_by == self.worker
            )
        with self.store.session() as session:
            result = cast(CursorResult[Any], session.execute(query.values(**values)))
            changed = result.rowcount == 1
            if changed and outcome == "bounced" and address is not None:
                suppress(session, address, error or "hard bounce", now)
        return changed

    def renew(self) -> int:
        """Heartbeat: push the lease of every row this process still has queued."""
        now = self.clock()
        with self.store.session() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.claimed_by == self.worker, DeliveryRow.status == "queued")
                    .values(claimed_at=now)
                ),
            )
            return int(result.rowcount)

    def release(self, claims: Iterable[Claim], reason: str) -> int:
        """Give back claims that were never attempted (graceful stop): deferred, so the next
        run takes them at once instead of waiting out the lease."""
        ids = [claim.delivery_id for claim in claims]
        if not ids:
            return 0
        with self.store.session() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.id.in_(ids))
                    .where(DeliveryRow.status == "queued", DeliveryRow.claimed_by == self.worker)
                    .values(status="deferred", last_error=reason, updated_at=self.clock())
                ),
            )
            return int(result.rowcount)


def _mailable(query: Select[Any], only_ids: Sequence[int] | None) -> Select[Any]:
    query = query.where(SubscriberRow.status == "active").where(
        ~exists().where(SuppressionRow.email_key == SubscriberRow.email_key)
    )
    if only_ids is not None:
        query = query.where(SubscriberRow.id.in_(list(only_ids)))
    return query


def _claimable(status: str, claimed_at: datetime | None, stale: datetime) -> bool:
    if status == "deferred":
        return True
    return status == "queued" and (claimed_at is None or claimed_at < stale)


def _paper_rows(delivery_id: int, edition: Edition) -> list[DeliveryPaperRow]:
    rows: dict[str, DeliveryPaperRow] = {}
    for position, match in enumerate(edition.papers):
        rows.setdefault(
            match.paper.id,
            DeliveryPaperRow(
                delivery_id=delivery_id,
                paper_id=match.paper.id,
                section="personal",
                position=position,
            ),
        )
    for position, paper in enumerate(edition.trending):
        rows.setdefault(
            paper.id,
            DeliveryPaperRow(
                delivery_id=delivery_id, paper_id=paper.id, section="trending", position=position
            ),
        )
    return list(rows.values())
