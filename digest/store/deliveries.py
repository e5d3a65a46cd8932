"""The delivery ledger: one row per (subscriber, edition); every write to the deliveries table.

Exactly-once rests on the unique key (subscriber_id, edition). A sender claims a whole page of
deliveries *before* building any of them: one INSERT … ON CONFLICT DO NOTHING RETURNING for the
editions nobody claimed yet, and one guarded UPDATE for those it may take over (deferred, or
queued by a sender that is dead). Of several processes walking the same readers, each gets a
disjoint set of claims, so N processes do the work of one; a loser's page costs it the INSERT
and one SELECT of where the rest stand.
Rows move

    queued ──▶ sent          only after the server answered 250 to the end of DATA
          ├──▶ deferred      transient failure; claimable again by the next run
          ├──▶ failed        refused for good (message rejected, invalid address, a stored
          │                  profile that no longer validates)
          ├──▶ bounced       recipient refused with 5xx; the address is suppressed
          └──▶ skipped       empty edition with `[digest] send_empty = false`

The crash rule. A live sender renews `claimed_at` on its `queued` rows every third of
`[smtp] claim_lease_seconds`. A `queued` row is taken over by the next run at once when its
owner is provably dead (`digest.store.workers.Liveness`), else once the lease ran out; it is sent
again with the same Message-ID. If the dead process had already had it accepted, the reader gets
one duplicate; otherwise nothing is lost. So a crash costs at most one extra copy of each
message that was in flight, and never a digest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Table, delete, select, update
from sqlalchemy.orm import Session

from digest.models import Edition
from digest.store.db import Store
from digest.store.editions import FINAL_STATUSES, claimable
from digest.store.page_writes import (
    insert_claims,
    insert_papers,
    mark_outcomes,
    mark_sent,
    set_prepared,
)
from digest.store.schema import DeliveryPaperRow, DeliveryRow
from digest.store.subscribers import suppress
from digest.store.workers import Liveness, wall_clock, worker_name

Status = Literal["queued", "sent", "deferred", "failed", "bounced", "skipped"]
Outcome = Literal["sent", "deferred", "failed", "bounced", "skipped"]
EditionState = Literal["open", "held", "done"]
_TABLE = cast(Table, DeliveryRow.__table__)
_PAPERS = cast(Table, DeliveryPaperRow.__table__)


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    subscriber_id: int
    edition: date


@dataclass(slots=True)
class PageClaims:
    """What claiming a page gave this process, and why it did not get the rest."""

    claims: dict[int, Claim] = field(default_factory=dict)  # subscriber id → its claim
    live: list[int] = field(default_factory=list)  # held by a sender that is provably alive
    unknown: list[int] = field(default_factory=list)  # held by one we cannot ask, within lease
    done: list[int] = field(default_factory=list)  # sent, skipped, failed or bounced
    taken_over: int = 0  # claims taken from dead senders


@dataclass(frozen=True, slots=True)
class Result:
    """One delivery's outcome, as the sender learnt it."""

    claim: Claim
    outcome: Outcome
    attempts: int = 0
    error: str | None = None
    address: str | None = None  # suppressed when the outcome is a bounce


class Ledger:
    """Claims pages of deliveries and records their results; each method is one transaction.

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
        self.liveness = Liveness(store, self.worker)

    def close(self) -> None:
        self.liveness.close()

    def claim_page(self, wanted: Sequence[tuple[int, date]]) -> PageClaims:
        """Claim every (subscriber, edition) of `wanted` that nobody holds or finished."""
        result = PageClaims()
        by_day: dict[date, list[int]] = {}
        for subscriber_id, day in wanted:
            by_day.setdefault(day, []).append(subscriber_id)
        for day, ids in by_day.items():
            self._claim_day(day, ids, result)
        return result

    def _claim_day(self, day: date, ids: list[int], result: PageClaims) -> None:
        now = self.clock()
        stale = now - self.lease
        owned = {"claimed_by": self.worker, "claimed_at": now, "updated_at": now}
        with self.store.session() as session:
            for delivery_id, subscriber_id in insert_claims(session.connection(), day, ids, owned):
                result.claims[subscriber_id] = Claim(delivery_id, subscriber_id, day)
            rest = [i for i in ids if i not in result.claims]
            if not rest:
                return
            # One look at the rest: of several senders walking the same readers, a loser's
            # page is held by a live peer or done, and this SELECT (with the holder's liveness
            # check) is all it costs beyond the INSERT.
            here = (DeliveryRow.subscriber_id.in_(rest), DeliveryRow.edition == day)
            states = list(
                session.execute(
                    select(
                        DeliveryRow.subscriber_id,
                        DeliveryRow.status,
                        DeliveryRow.claimed_by,
                        claimable(stale),
                    ).where(*here)
                )
            )
            holders = {
                owner for _, status, owner, free in states if status == "queued" and not free
            }
            verdicts = {owner: self.liveness.alive(owner) for owner in holders if owner}
            dead = [owner for owner, alive in verdicts.items() if alive is False]
            if dead or any(free for *_, free in states):
                self._take_over(session, day, rest, stale, dead, owned, result)
            for subscriber_id, status, owner, _free in states:
                if subscriber_id in result.claims:
                    continue
                if status in FINAL_STATUSES:
                    result.done.append(subscriber_id)
                elif owner is not None and verdicts.get(owner, True) is None:
                    result.unknown.append(subscriber_id)
                else:
                    result.live.append(subscriber_id)  # its holder, or whoever just took it

    def _take_over(
        self,
        session: Session,
        day: date,
        rest: list[int],
        stale: datetime,
        dead: list[str],
        owned: dict[str, Any],
        result: PageClaims,
    ) -> None:
        """Claim those of `rest` that were deferred, left past their lease, or queued by a
        sender that is dead."""
        takeable = claimable(stale)
        if dead:
            takeable = takeable | (
                (DeliveryRow.status == "queued") & DeliveryRow.claimed_by.in_(dead)
            )
        here = (DeliveryRow.subscriber_id.in_(rest), DeliveryRow.edition == day)
        # SKIP LOCKED: a row another sender is taking right now is simply not ours.
        chosen = list(
            session.execute(
                select(DeliveryRow.id, DeliveryRow.status)
                .where(*here, takeable)
                .with_for_update(skip_locked=True)
            )
        )
        # A deferred row is this edition's retry; only a queued one was another's claim.
        result.taken_over += sum(1 for _, status in chosen if status == "queued")
        taken = list(
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_([delivery_id for delivery_id, _ in chosen]), takeable)
                .values(status="queued", last_error=None, **owned)
                .returning(DeliveryRow.id, DeliveryRow.subscriber_id)
            )
        )
        if taken:
            session.execute(
                delete(DeliveryPaperRow).where(
                    DeliveryPaperRow.delivery_id.in_([d for d, _ in taken])
                )
            )
        for delivery_id, subscriber_id in taken:
            result.claims[subscriber_id] = Claim(delivery_id, subscriber_id, day)

    def prepare(self, built: Sequence[tuple[Claim, Edition, str | None]]) -> None:
        """Before any of them is sent: each claimed edition's Message-ID and `candidates_until`,
        and the papers it carries (what "never twice" and the next edition's window rest on)."""
        if not built:
            return
        with self.store.session() as session:
            connection = session.connection()
            set_prepared(
                connection, [(c.delivery_id, mid, e.candidates_until) for c, e, mid in built]
            )
            papers = [row for c, e, mid in built if mid is not None for row in _papers(c, e)]
            if papers:
                insert_papers(connection, papers)

    def record(self, results: Sequence[Result]) -> None:
        """Store what the server said, in one transaction. `sent` is a fact and always lands;
        any other outcome only while this process still holds the claim. A bounce also
        suppresses the address."""
        if not results:
            return
        now = self.clock()
        accepted = [r for r in results if r.outcome == "sent"]
        others = [r for r in results if r.outcome != "sent"]
        with self.store.session() as session:
            connection = session.connection()
            if accepted:
                mark_sent(connection, [(r.claim.delivery_id, r.attempts) for r in accepted], now)
            if others:
                mark_outcomes(
                    connection,
                    [(r.claim.delivery_id, r.outcome, r.attempts, r.error) for r in others],
                    self.worker,
                    now,
                )
            for bounce in (r for r in others if r.outcome == "bounced" and r.address):
                assert bounce.address is not None
                suppress(session, bounce.address, bounce.error or "hard bounce", now)

    def fail(self, subscriber_id: int, day: date, reason: str) -> bool:
        """Record that a reader's edition could not even be built (a stored value no longer
        validates): one `failed` row per edition, so a tick every minute reports it once, not
        sixty times an hour. False when the edition is held or finished already."""
        claim = self.claim_page([(subscriber_id, day)]).claims.get(subscriber_id)
        if claim is None:
            return False
        self.record([Result(claim, "failed", error=reason)])
        return True

    def renew(self) -> int:
        """Heartbeat: push the lease of every row this process still has queued."""
        with self.store.session() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.claimed_by == self.worker, DeliveryRow.status == "queued")
                    .values(claimed_at=self.clock())
                ),
            )
            return int(result.rowcount)

    def release(self, claims: Iterable[Claim], reason: str) -> int:
        """Give back claims that were never attempted (graceful stop): deferred, so the next
        run takes them at once instead of waiting out the lease."""
        ids = [claim.delivery_id for claim in claims]
        released = 0
        for start in range(0, len(ids), 1000):
            with self.store.session() as session:
                result = cast(
                    CursorResult[Any],
                    session.execute(
                        update(DeliveryRow)
                        .where(DeliveryRow.id.in_(ids[start : start + 1000]))
                        .where(
                            DeliveryRow.status == "queued", DeliveryRow.claimed_by == self.worker
                        )
                        .values(status="deferred", last_error=reason, updated_at=self.clock())
                    ),
                )
                released += int(result.rowcount)
        return released


def _papers(claim: Claim, edition: Edition) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for section, papers in (
        ("personal", [m.paper for m in edition.papers]),
        ("trending", list(edition.trending)),
    ):
        for position, paper in enumerate(papers):
            rows.setdefault(
                paper.id,
                {
                    "delivery_id": claim.delivery_id,
                    "paper_id": paper.id,
                    "section": section,
                    "position": position,
                },
            )
    return list(rows.values())
