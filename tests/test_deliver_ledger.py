"""The delivery ledger: one row per (subscriber, edition), claimed atomically, states as specified.

Claims raced by real processes: tests/test_deliver_ledger_race.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from digest.models import Edition, Match, Paper, Profile, Subscriber
from digest.store import Store, open_store
from digest.store.deliveries import Claim, Ledger, Outcome, Result
from digest.store.editions import settled
from digest.store.papers import upsert_papers
from digest.store.schema import DeliveryPaperRow, DeliveryRow
from digest.store.subscribers import create, is_suppressed, mailable_page, to_subscriber
from digest.store.workers import HOST
from tests.conftest import sqlite_only
from tests.delivery_support import (  # noqa: F401 (postgres_url is a fixture)
    INGESTED,
    ingest,
    paper,
    postgres_url,
    send,
    smtp_settings,
)

NOW = datetime(2026, 10, 17, 9, 0, tzinfo=UTC)


def mailable(store: Store, *, after_id: int, limit: int) -> list[Subscriber]:
    with store.session() as session:
        return mailable_page(session, after_id=after_id, limit=limit)


DAY = date(2026, 10, 17)


def add_subscribers(store: Store, count: int) -> list[Subscriber]:
    with store.session() as session:
        rows = [
            create(
                session,
                Profile(email=f"reader{n}@example.org"),
                status="active",
                origin="import",
                now=NOW,
            )
            for n in range(count)
        ]
        return [to_subscriber(row) for row in rows]


def add_papers(store: Store, count: int) -> list[Paper]:
    papers = [Paper(id=f"2510.{n:05d}", title=f"Paper {n}", abstract="x") for n in range(count)]
    with store.session() as session:
        upsert_papers(session, papers, NOW)
    return papers


def edition(
    subscriber: Subscriber, papers: list[Paper] = (), trending: list[Paper] = ()
) -> Edition:  # type: ignore[assignment]
    return Edition(
        subscriber=subscriber,
        date=DAY,
        papers=tuple(Match(paper=p, score=1.0) for p in papers),
        trending=tuple(trending),
        candidates_until=NOW,
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


_OPEN: list[Ledger] = []


def ledger_on(store: Store, **options: Any) -> Ledger:
    """A ledger closed when the test ends: on PostgreSQL it holds a session of its own."""
    ledger = Ledger(store, **options)
    _OPEN.append(ledger)
    return ledger


@pytest.fixture(autouse=True)
def _close_ledgers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def rows(store: Store) -> list[DeliveryRow]:
    with store.session() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def claim_one(ledger: Ledger, reader: Subscriber, day: date = DAY) -> Claim | None:
    return ledger.claim_page([(reader.id, day)]).claims.get(reader.id)


def open_for(store: Store, reader: Subscriber, lease: timedelta, day: date = DAY) -> bool:
    """Whether a read-only look (a dry run's) sees the edition as still to be done."""
    with store.session() as session:
        return reader.id not in settled(session, {reader.id: day}, datetime.now(UTC) - lease)


def test_a_claim_is_a_queued_row_and_prepare_records_what_the_edition_carries(
    store: Store,
) -> None:
    reader = add_subscribers(store, 1)[0]
    papers = add_papers(store, 3)
    ledger = ledger_on(store, lease=timedelta(minutes=2))
    claim = claim_one(ledger, reader)
    assert claim is not None
    [row] = rows(store)
    assert (row.subscriber_id, row.edition, row.status) == (reader.id, DAY, "queued")
    assert row.claimed_by == ledger.worker
    ledger.prepare([(claim, edition(reader, papers[:2], papers[2:]), "<m1@example.org>")])
    [row] = rows(store)
    assert row.message_id == "<m1@example.org>" and row.candidates_until == NOW
    with store.session() as session:
        carried = session.execute(
            select(DeliveryPaperRow.paper_id, DeliveryPaperRow.section, DeliveryPaperRow.position)
            .where(DeliveryPaperRow.delivery_id == claim.delivery_id)
            .order_by(DeliveryPaperRow.section, DeliveryPaperRow.position)
        ).all()
    assert carried == [
        ("2510.00000", "personal", 0),
        ("2510.00001", "personal", 1),
        ("2510.00002", "trending", 0),
    ]


def test_a_whole_page_is_prepared_and_recorded_row_by_row_in_one_statement_each(
    store: Store,
) -> None:
    """A page mixes what a send meets: messages and skipped editions (no Message-ID, no window),
    every outcome; each row gets its own values (on PostgreSQL they travel as arrays)."""
    readers = add_subscribers(store, 250)
    papers = add_papers(store, 4)
    ledger = ledger_on(store, lease=timedelta(minutes=2))
    claims = ledger.claim_page([(r.id, DAY) for r in readers]).claims
    assert len(claims) == 250
    built: list[tuple[Claim, Edition, str | None]] = []
    for n, reader in enumerate(readers):
        carried = edition(reader, papers[n % 3 : n % 3 + 1], papers[3:])
        if n % 5 == 0:  # an empty edition: skipped, nothing carried
            built.append((claims[reader.id], replace(carried, candidates_until=None), None))
        else:
            built.append((claims[reader.id], carried, f"<m{n}@example.org>"))
    ledger.prepare(built)
    outcomes: list[Outcome] = ["sent", "skipped", "deferred", "failed", "bounced"]
    ledger.record(
        [
            Result(claims[r.id], outcomes[n % 5], attempts=n % 3, error=f"e{n}" if n % 5 else None)
            for n, r in enumerate(readers)
        ]
    )
    by_reader = {row.subscriber_id: row for row in rows(store)}
    for n, reader in enumerate(readers):
        row = by_reader[reader.id]
        assert row.message_id == (None if n % 5 == 0 else f"<m{n}@example.org>")
        assert row.candidates_until == (None if n % 5 == 0 else NOW)
        assert (row.status, row.attempts) == (outcomes[n % 5], n % 3)
        assert row.last_error == (None if n % 5 == 0 else f"e{n}")
    with store.session() as session:
        carried_rows = session.execute(
            select(
                DeliveryPaperRow.delivery_id, DeliveryPaperRow.paper_id, DeliveryPaperRow.section
            )
        ).all()
    expected = {
        (claims[r.id].delivery_id, p.id, section)
        for n, r in enumerate(readers)
        if n % 5
        for p, section in ((papers[n % 3], "personal"), (papers[3], "trending"))
    }
    assert set(carried_rows) == expected and len(carried_rows) == len(expected)


def test_a_page_is_claimed_in_disjoint_parts_whoever_asks(store: Store) -> None:
    readers = add_subscribers(store, 6)
    first = ledger_on(store, lease=timedelta(minutes=2))
    second = ledger_on(store, lease=timedelta(minutes=2))
    got = first.claim_page([(r.id, DAY) for r in readers[:4]])
    assert sorted(got.claims) == [r.id for r in readers[:4]]
    other = second.claim_page([(r.id, DAY) for r in readers])
    assert sorted(other.claims) == [r.id for r in readers[4:]]
    assert sorted(other.live) == [r.id for r in readers[:4]]  # same host, this very process
    assert first.claim_page([(readers[0].id, DAY)]).claims == {}
    assert not open_for(store, readers[0], timedelta(minutes=2))
    assert open_for(store, readers[0], timedelta(minutes=2), DAY + timedelta(days=1))


@pytest.mark.parametrize("final", ["sent", "failed", "bounced", "skipped"])
def test_final_states_are_never_claimed_again(store: Store, final: str) -> None:
    reader = add_subscribers(store, 1)[0]
    clock = Clock()
    ledger = ledger_on(store, lease=timedelta(seconds=1), clock=clock)
    claim = claim_one(ledger, reader)
    assert claim is not None
    ledger.record([Result(claim, final, attempts=1, address=reader.email)])  # type: ignore[arg-type]
    clock.now += timedelta(hours=1)
    later = ledger_on(store, lease=timedelta(seconds=1), clock=clock).claim_page([(reader.id, DAY)])
    assert later.claims == {} and later.done == [reader.id]
    assert rows(store)[0].status == final


def test_a_deferred_delivery_is_claimed_again_with_its_attempts_kept(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    papers = add_papers(store, 2)
    ledger = ledger_on(store, lease=timedelta(minutes=2))
    claim = claim_one(ledger, reader)
    assert claim is not None
    ledger.prepare([(claim, edition(reader, papers[:1]), "<a@x.org>")])
    ledger.record([Result(claim, "deferred", attempts=4, error="451 try later")])
    later = ledger_on(store, lease=timedelta(minutes=2))
    assert open_for(store, reader, later.lease)
    again = claim_one(later, reader)
    assert again is not None and again.delivery_id == claim.delivery_id
    later.prepare([(again, edition(reader, papers[1:]), "<a@x.org>")])
    later.record([Result(again, "sent", attempts=1)])
    [row] = rows(store)
    assert (row.status, row.attempts, row.last_error) == ("sent", 5, None)
    assert row.sent_at is not None
    with store.session() as session:
        carried = session.scalars(select(DeliveryPaperRow.paper_id)).all()
    assert carried == [papers[1].id]  # what the resent edition carried, not the old list


def test_a_queued_row_of_an_unknown_sender_is_taken_over_after_the_lease_only(
    store: Store,
) -> None:
    sqlite_only("on PostgreSQL a peer's advisory lock says whether it lives (test below)")
    reader = add_subscribers(store, 1)[0]
    clock = Clock()
    # A sender on another host (SQLite cannot ask it whether it lives): only the lease tells.
    elsewhere = ledger_on(store, lease=timedelta(seconds=60), clock=clock, worker="far:4242:ab")
    assert claim_one(elsewhere, reader) is not None
    successor = ledger_on(store, lease=timedelta(seconds=60), clock=clock)
    clock.now += timedelta(seconds=59)
    waiting = successor.claim_page([(reader.id, DAY)])
    assert waiting.claims == {} and waiting.unknown == [reader.id]
    clock.now += timedelta(seconds=2)
    taken = claim_one(successor, reader)
    assert taken is not None
    # The first sender's late verdicts no longer count, except an acceptance, which is a fact.
    elsewhere.record([Result(taken, "deferred", attempts=1)])
    assert rows(store)[0].status == "queued"
    assert rows(store)[0].claimed_by == successor.worker


def test_a_queued_row_of_a_dead_process_on_this_host_is_taken_over_at_once(
    store: Store,
) -> None:
    reader = add_subscribers(store, 1)[0]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    dead = ledger_on(store, lease=timedelta(minutes=10), worker=f"{HOST}:{gone}:deadbeef")
    assert claim_one(dead, reader) is not None
    successor = ledger_on(store, lease=timedelta(minutes=10))
    page = successor.claim_page([(reader.id, DAY)])
    assert list(page.claims) == [reader.id] and page.taken_over == 1


def test_on_postgresql_a_sender_elsewhere_is_known_dead_once_its_session_ends(
    request: pytest.FixtureRequest,
) -> None:
    store = open_store(request.getfixturevalue("postgres_url"))
    try:
        reader = add_subscribers(store, 1)[0]
        # Another machine's sender: its pid means nothing here, its advisory lock does.
        elsewhere = ledger_on(store, lease=timedelta(minutes=10), worker="far:4242:ef")
        assert claim_one(elsewhere, reader) is not None
        successor = ledger_on(store, lease=timedelta(minutes=10))
        waiting = successor.claim_page([(reader.id, DAY)])
        assert waiting.claims == {} and waiting.live == [reader.id]
        elsewhere.close()  # its session ends, as when its process is killed
        taken = successor.claim_page([(reader.id, DAY)])
        assert list(taken.claims) == [reader.id] and taken.taken_over == 1
        successor.close()
    finally:
        store.dispose()


def test_a_live_sender_keeps_its_claims_by_renewing_them(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    clock = Clock()
    live = ledger_on(store, lease=timedelta(seconds=60), clock=clock, worker="far:1:cd")
    assert claim_one(live, reader) is not None
    for _ in range(5):
        clock.now += timedelta(seconds=30)
        assert live.renew() == 1
    other = ledger_on(store, lease=timedelta(seconds=60), clock=clock)
    assert claim_one(other, reader) is None


def test_a_bounce_suppresses_the_address(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    ledger = ledger_on(store, lease=timedelta(minutes=2))
    claim = claim_one(ledger, reader)
    assert claim is not None
    ledger.record([Result(claim, "bounced", 1, "550 no such user", reader.email)])
    with store.session() as session:
        assert is_suppressed(session, reader.email)
    assert rows(store)[0].last_error == "550 no such user"
    assert mailable(store, after_id=0, limit=10) == []


def test_released_claims_are_open_to_the_next_run_at_once(store: Store) -> None:
    readers = add_subscribers(store, 2)
    ledger = ledger_on(store, lease=timedelta(minutes=2))
    claims = list(ledger.claim_page([(r.id, DAY) for r in readers]).claims.values())
    assert ledger.release(claims, "stopped") == 2
    fresh = ledger_on(store, lease=timedelta(minutes=2))
    assert sorted(fresh.claim_page([(r.id, DAY) for r in readers]).claims) == [
        r.id for r in readers
    ]


def test_subscribers_come_in_pages_of_active_unsuppressed_readers(store: Store) -> None:
    readers = add_subscribers(store, 7)
    with store.session() as session:
        from digest.store.subscribers import get_row_by_email, set_status, suppress

        row = get_row_by_email(session, readers[1].email)
        assert row is not None
        set_status(session, row, "unsubscribed", NOW)
        suppress(session, readers[2].email, "complaint", NOW)
    seen, after = [], 0
    while page := mailable(store, after_id=after, limit=2):
        seen += [s.email for s in page]
        after = page[-1].id
    assert seen == [r.email for r in readers if r not in (readers[1], readers[2])]
