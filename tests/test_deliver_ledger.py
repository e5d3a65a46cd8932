"""The delivery ledger: one row per (subscriber, edition), claimed atomically, states as specified.

Claims are raced by real processes on SQLite and on PostgreSQL (when a server runs locally).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from digest.models import Edition, Match, Paper, Profile, Subscriber
from digest.store import Store, open_store
from digest.store.deliveries import Ledger
from digest.store.papers import upsert_papers
from digest.store.schema import DeliveryPaperRow, DeliveryRow
from digest.store.subscribers import create, is_suppressed, mailable_page, to_subscriber
from tests.conftest import ROOT
from tests.delivery_support import (  # noqa: F401 (postgres_url is a fixture)
    INGESTED,
    ingest,
    paper,
    postgres_url,
    send,
    smtp_settings,
)
from tests.delivery_support import add_readers as add_reader_profiles

NOW = datetime(2026, 10, 17, 9, 0, tzinfo=UTC)


def open_editions(ledger: Ledger, wanted: dict[int, date]) -> set[int]:
    return {sid for sid, state in ledger.edition_states(wanted).items() if state == "open"}


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


def rows(store: Store) -> list[DeliveryRow]:
    with store.session() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def test_a_claim_is_a_row_with_the_papers_the_edition_carries(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    papers = add_papers(store, 3)
    ledger = Ledger(store, lease=timedelta(minutes=2))
    claim = ledger.claim(edition(reader, papers[:2], papers[2:]), message_id="<m1@example.org>")
    assert claim is not None and claim.status == "queued"
    [row] = rows(store)
    assert (row.subscriber_id, row.edition, row.status, row.message_id) == (
        reader.id,
        DAY,
        "queued",
        "<m1@example.org>",
    )
    assert row.candidates_until == NOW and row.claimed_by == ledger.worker
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


def test_an_edition_is_claimed_once_whoever_asks(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    first = Ledger(store, lease=timedelta(minutes=2))
    second = Ledger(store, lease=timedelta(minutes=2))
    assert first.claim(edition(reader), message_id="<a@x.org>") is not None
    assert second.claim(edition(reader), message_id="<a@x.org>") is None
    assert first.claim(edition(reader), message_id="<a@x.org>") is None
    assert open_editions(second, {reader.id: DAY}) == set()
    assert open_editions(second, {reader.id: DAY + timedelta(days=1)}) == {reader.id}


@pytest.mark.parametrize("final", ["sent", "failed", "bounced", "skipped"])
def test_final_states_are_never_claimed_again(store: Store, final: str) -> None:
    reader = add_subscribers(store, 1)[0]
    clock = Clock()
    ledger = Ledger(store, lease=timedelta(seconds=1), clock=clock)
    if final == "skipped":
        assert ledger.claim(edition(reader), message_id=None, status="skipped") is not None
    else:
        claim = ledger.claim(edition(reader), message_id="<a@x.org>")
        assert claim is not None
        ledger.record(claim, final, attempts=1, address=reader.email)  # type: ignore[arg-type]
    clock.now += timedelta(hours=1)
    assert open_editions(ledger, {reader.id: DAY}) == set()
    assert (
        Ledger(store, lease=timedelta(seconds=1), clock=clock).claim(
            edition(reader), message_id="<a@x.org>"
        )
        is None
    )
    assert rows(store)[0].status == final


def test_a_deferred_delivery_is_claimed_again_with_its_attempts_kept(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    papers = add_papers(store, 2)
    ledger = Ledger(store, lease=timedelta(minutes=2))
    claim = ledger.claim(edition(reader, papers[:1]), message_id="<a@x.org>")
    assert claim is not None
    assert ledger.record(claim, "deferred", attempts=4, error="451 try later")
    later = Ledger(store, lease=timedelta(minutes=2))
    assert open_editions(later, {reader.id: DAY}) == {reader.id}
    again = later.claim(edition(reader, papers[1:]), message_id="<a@x.org>")
    assert again is not None and again.delivery_id == claim.delivery_id
    assert later.record(again, "sent", attempts=1)
    [row] = rows(store)
    assert (row.status, row.attempts, row.last_error) == ("sent", 5, None)
    assert row.sent_at is not None
    with store.session() as session:
        carried = session.scalars(select(DeliveryPaperRow.paper_id)).all()
    assert carried == [papers[1].id]  # what the resent edition carried, not the old list


def test_a_queued_row_of_a_dead_sender_is_taken_over_after_the_lease_only(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    clock = Clock()
    dead = Ledger(store, lease=timedelta(seconds=60), clock=clock)
    assert dead.claim(edition(reader), message_id="<a@x.org>") is not None
    successor = Ledger(store, lease=timedelta(seconds=60), clock=clock)
    clock.now += timedelta(seconds=59)
    assert open_editions(successor, {reader.id: DAY}) == set()
    assert successor.claim(edition(reader), message_id="<a@x.org>") is None
    clock.now += timedelta(seconds=2)
    assert open_editions(successor, {reader.id: DAY}) == {reader.id}
    taken = successor.claim(edition(reader), message_id="<a@x.org>")
    assert taken is not None
    # The dead sender's late verdicts no longer count, except an acceptance, which is a fact.
    assert not dead.record(taken, "deferred", attempts=1)
    assert rows(store)[0].claimed_by == successor.worker


def test_a_live_sender_keeps_its_claims_by_renewing_them(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    clock = Clock()
    live = Ledger(store, lease=timedelta(seconds=60), clock=clock)
    assert live.claim(edition(reader), message_id="<a@x.org>") is not None
    for _ in range(5):
        clock.now += timedelta(seconds=30)
        assert live.renew() == 1
    other = Ledger(store, lease=timedelta(seconds=60), clock=clock)
    assert other.claim(edition(reader), message_id="<a@x.org>") is None


def test_a_bounce_suppresses_the_address(store: Store) -> None:
    reader = add_subscribers(store, 1)[0]
    ledger = Ledger(store, lease=timedelta(minutes=2))
    claim = ledger.claim(edition(reader), message_id="<a@x.org>")
    assert claim is not None
    ledger.record(claim, "bounced", attempts=1, error="550 no such user", address=reader.email)
    with store.session() as session:
        assert is_suppressed(session, reader.email)
    assert rows(store)[0].last_error == "550 no such user"
    assert mailable(store, after_id=0, limit=10) == []


def test_released_claims_are_open_to_the_next_run_at_once(store: Store) -> None:
    readers = add_subscribers(store, 2)
    ledger = Ledger(store, lease=timedelta(minutes=2))
    claims = [ledger.claim(edition(r), message_id=f"<{r.id}@x.org>") for r in readers]
    assert ledger.release([c for c in claims if c is not None], "stopped") == 2
    fresh = Ledger(store, lease=timedelta(minutes=2))
    assert open_editions(fresh, {r.id: DAY for r in readers}) == {r.id for r in readers}


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


RACER = textwrap.dedent(
    """
    import json, sys, time
    from datetime import UTC, date, datetime, timedelta
    from digest.store.deliveries import Ledger
    from digest.models import Edition
    from digest.store import open_store
    from digest.store.subscribers import list_subscribers

    url, start = sys.argv[1], float(sys.argv[2])
    store = open_store(url)
    with store.session() as session:
        readers = list_subscribers(session)
    ledger = Ledger(store, lease=timedelta(minutes=5))
    time.sleep(max(0.0, start - time.time()))
    won = []
    for reader in readers:
        edition = Edition(reader, date(2026, 10, 17), (), (), datetime.now(UTC))
        if ledger.claim(edition, message_id=f"<{reader.id}@x.org>") is not None:
            won.append(reader.id)
    print(json.dumps(won))
    """
)


def race(url: str, processes: int = 3) -> list[list[int]]:
    import time

    start = str(time.time() + 2.0)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, start],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    return results


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_racing_for_the_same_editions_each_win_distinct_ones(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("db_url" if backend == "sqlite" else "postgres_url")
    store = open_store(url)
    try:
        readers = add_subscribers(store, 40)
        results = race(url)
        won = [reader for result in results for reader in result]
        assert sorted(won) == sorted(r.id for r in readers)  # each exactly once
        assert len(rows(store)) == 40
    finally:
        store.dispose()


# -- editions through the whole send pipeline ---------------------------------------------------


def carried_by_edition(store: Store) -> dict[date, set[str]]:
    with store.session() as session:
        found: dict[date, set[str]] = {}
        for day, paper_id in session.execute(
            select(DeliveryRow.edition, DeliveryPaperRow.paper_id).join(
                DeliveryPaperRow, DeliveryPaperRow.delivery_id == DeliveryRow.id
            )
        ):
            found.setdefault(day, set()).add(paper_id)
        return found


def test_two_consecutive_editions_share_no_paper(store: Store, make_settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    add_reader_profiles(store, 1)
    settings = smtp_settings(make_settings, smtp_server.port, digest={"trending_count": 2})
    ingest(store, [paper(n) for n in range(6)], at=INGESTED)
    first, _ = send(store, settings, now=INGESTED + timedelta(hours=2))
    # The next day: three new papers, and the old ones seen again (upvotes changed).
    next_day = INGESTED + timedelta(days=1)
    ingest(store, [paper(n, upvotes=50) for n in range(9)], at=next_day)
    second, _ = send(store, settings, now=next_day + timedelta(hours=2))
    assert first.sent == second.sent == 1
    carried = carried_by_edition(store)
    day_one, day_two = sorted(carried)
    assert carried[day_one] and carried[day_two]
    assert not carried[day_one] & carried[day_two]
    assert carried[day_two] == {f"2511.{n:05d}" for n in range(6, 9)}
    assert [
        len(m.message.get_body(("plain",)).get_content()) > 0 for m in smtp_server.messages
    ] == [True, True]


@pytest.mark.parametrize("send_empty", [False, True])
def test_an_edition_with_nothing_new_follows_send_empty(
    store: Store,
    make_settings,
    smtp_server,
    send_empty: bool,  # type: ignore[no-untyped-def]
) -> None:
    add_reader_profiles(store, 2)
    settings = smtp_settings(make_settings, smtp_server.port, digest={"send_empty": send_empty})
    summary, _ = send(store, settings, now=INGESTED)
    if send_empty:
        assert (summary.sent, summary.skipped) == (2, 0)
        assert len(smtp_server.messages) == 2
        assert {r.status for r in rows(store)} == {"sent"}
    else:
        assert (summary.sent, summary.skipped) == (0, 2)
        assert smtp_server.messages == []
        assert {r.status for r in rows(store)} == {"skipped"}
        assert all(r.candidates_until == INGESTED for r in rows(store))
    again, _ = send(store, settings, now=INGESTED)
    assert again.as_dict() == {"sent": 0, "skipped": 0, "deferred": 0, "failed": 0, "bounced": 0}


def test_a_rerun_for_the_same_edition_sends_only_what_is_not_yet_sent(
    store: Store,
    make_settings,
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(n) for n in range(3)], at=INGESTED)
    first_ids = add_reader_profiles(store, 3)
    settings = smtp_settings(make_settings, smtp_server.port)
    now = INGESTED + timedelta(hours=1)
    assert send(store, settings, now=now)[0].sent == 3
    add_reader_profiles(store, 2, start=3)  # two readers join; same edition date
    summary, events = send(store, settings, now=now)
    assert summary.sent == 2
    assert sum(e.kind == "unchanged" for e in events) == len(first_ids)
    recipients = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert sorted(recipients) == [f"reader{n}@example.org" for n in range(5)]
