"""The delivery ledger: one row per (subscriber, edition); every statement on the deliveries table.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.models import Edition
from digest.store.db import Store
from digest.store.schema import DeliveryPaperRow, DeliveryRow, PaperRow
from digest.store.subscribers import suppress

Status = Literal["queued", "sent", "deferred", "failed", "bounced", "skipped"]
# An edition that was sent or skipped hands its `candidates_until` to the next one.
CLOSED_STATUSES = ("sent", "skipped")
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

    def edition_states(self, wanted: Mapping[int, date]) -> dict[int, EditionState]:
        """For each subscriber id in `wanted`, where their edition stands: `open` (never
        claimed, or deferred, or left by a dead sender: worth building), `held` (queued by a
        sender whose lease still runs) or `done` (sent, skipped, failed or bounced). A cheap
        read before the real claim, which alone decides."""
        states: dict[int, EditionState] = dict.fromkeys(wanted, "open")
        with self.store.session() as session:
            for subscriber_id, edition, status, claimable in edition_rows(
                session, wanted, self.clock() - self.lease
            ):
                if wanted[subscriber_id] == edition and not claimable:
                    states[subscriber_id] = "held" if status == "queued" else "done"
        return states

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
        return self._take(
            edition.subscriber.id,
            edition.date,
            status=status,
            message_id=message_id,
            candidates_until=edition.candidates_until,
            error=error,
            papers=lambda delivery_id: _paper_rows(delivery_id, edition),
        )

    def fail(self, subscriber_id: int, day: date, reason: str) -> bool:
        """Record that a reader's edition could not even be built (a stored value no longer
        validates): one `failed` row per edition, so a tick every minute warns once, not
        sixty times an hour. False when the edition is held or finished already."""
        claim = self._take(
            subscriber_id,
            day,
            status="failed",
            message_id=None,
            candidates_until=None,
            error=reason,
            papers=lambda _delivery_id: [],
        )
        return claim is not None

    def _take(
        self,
        subscriber_id: int,
        day: date,
        *,
        status: Status,
        message_id: str | None,
        candidates_until: datetime | None,
        error: str | None,
        papers: Callable[[int], list[DeliveryPaperRow]],
    ) -> Claim | None:
        now = self.clock()
        values = {
            "status": status,
            "message_id": message_id,
            "candidates_until": candidates_until,
            "claimed_by": self.worker,
            "claimed_at": now,
            "updated_at": now,
            "last_error": error,
        }
        try:
            with self.store.session() as session:
                row = DeliveryRow(
                    subscriber_id=subscriber_id, edition=day, attempts=0, created_at=now, **values
                )
                session.add(row)
                session.flush()
                session.add_all(papers(row.id))
                return Claim(row.id, subscriber_id, day, status)
        except IntegrityError:
            pass
        # The row exists: take it over only if it is deferred or its claimer is dead. The
        # guard is in the WHERE clause, so of two processes trying this, one updates a row.
        with self.store.session() as session:
            delivery_id = session.scalar(
                update(DeliveryRow)
                .where(DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.edition == day)
                .where(claimable(now - self.lease))
                .values(**values)
                .returning(DeliveryRow.id)
            )
            if delivery_id is None:
                return None
            session.execute(
                delete(DeliveryPaperRow).where(DeliveryPaperRow.delivery_id == delivery_id)
            )
            session.add_all(papers(delivery_id))
            return Claim(delivery_id, subscriber_id, day, status)

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
