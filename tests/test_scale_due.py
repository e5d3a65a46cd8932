"""More readers due in one minute than one statement may carry parameters for (65,535 on
PostgreSQL): `digest due` lists them all and the scheduler's tick serves them all, because every
statement works on a page of readers, never on a list of all of them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from digest.schedule.service import Scheduler
from digest.settings import Settings
from digest.store import Store, open_store
from digest.store.schema import DeliveryRow, SubscriberRow, TopicRow
from tests.conftest import Cli
from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)
from tests.schedule_support import SimulatedClock

READERS = 70_000
JOINED = datetime(2026, 1, 1, tzinfo=UTC)
AT = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def add_many(store: Store, count: int) -> None:
    rows = [
        {
            "id": n,
            "public_id": f"p{n}",
            "email": f"r{n}@example.org",
            "email_key": f"r{n}@example.org",
            "timezone": "UTC",
            "cadence": "daily",
            "send_time": "08:00",
            "max_papers": 10,
            "min_upvotes": 0,
            "trending": True,
            "status": "active",
            "origin": "import",
            "created_at": JOINED,
            "updated_at": JOINED,
        }
        for n in range(1, count + 1)
    ]
    topics = [
        {"subscriber_id": n, "position": 0, "name": "Decoding", "query": "decoding"}
        for n in range(1, count + 1)
    ]
    with store.session() as session:
        for start in range(0, count, 5000):
            session.execute(insert(SubscriberRow), rows[start : start + 5000])
            session.execute(insert(TopicRow), topics[start : start + 5000])


@pytest.mark.timeout(900)
def test_seventy_thousand_readers_due_at_once_on_postgresql(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    digest: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = request.getfixturevalue("postgres_url")
    store = open_store(url)
    try:
        add_many(store, READERS)
        monkeypatch.setenv("DIGEST_DATABASE__URL", url)
        code, out, err = digest("due", "--at", AT.isoformat(), "--json")
        assert code == 0, err[-2000:]
        due = json.loads(out)
        assert len(due) == READERS
        assert due[0] == {"email": "r1@example.org", "edition": "2026-03-30"}

        # No papers and send_empty off: the tick claims and settles every edition as skipped,
        # through every statement a real tick runs, without 70,000 SMTP transactions.
        settings = make_settings(database={"url": url})
        report = asyncio.run(Scheduler(settings, store, clock=SimulatedClock(AT)).tick())
        assert report.due == READERS and report.counts["skipped"] == READERS
        with store.session() as session:
            assert Counter(session.scalars(select(DeliveryRow.status))) == {"skipped": READERS}
        code, out, _ = digest("due", "--at", AT.isoformat(), "--json")
        assert code == 0 and json.loads(out) == []
    finally:
        store.dispose()
