"""More readers due in one minute than one statement may carry parameters for (65,535 on
PostgreSQL): `digest due` lists them all and the scheduler's tick serves them all, because every
statement works on a page of readers, never on a list of all of them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from digest.schedule.service import Scheduler
from digest.settings import Settings
from digest.store import open_store
from digest.store.schema import DeliveryRow
from tests.conftest import ON_POSTGRES, Cli
from tests.delivery_support import ingest, paper, postgres_url  # noqa: F401 (a fixture)
from tests.scale_support import CountingHandler, add_many
from tests.schedule_support import SimulatedClock
from tests.smtpd import SmtpServer

READERS = 100_000
MAILED_EVERY = 25  # one reader in 25 follows a topic with news: 4,000 real digests
JOINED = datetime(2026, 1, 1, tzinfo=UTC)
AT = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


@pytest.mark.slow
@pytest.mark.skipif(
    ON_POSTGRES,
    reason="makes its own PostgreSQL database whatever the stores run on: it runs once, in the "
    "run with SQLite stores",
)
@pytest.mark.timeout(1800)
def test_a_hundred_thousand_readers_due_at_once_on_postgresql_are_listed_and_served(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    digest: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = request.getfixturevalue("postgres_url")
    store = open_store(url)
    try:
        add_many(store, READERS, joined=JOINED, other_query="zebrafish", every=MAILED_EVERY)
        ingest(store, [paper(n) for n in range(5)], at=AT - timedelta(hours=2))
        monkeypatch.setenv("DIGEST_DATABASE__URL", url)
        code, out, err = digest("due", "--at", AT.isoformat(), "--json")
        assert code == 0, err[-2000:]
        due = json.loads(out)
        assert len(due) == READERS
        assert due[0] == {"email": "r1@example.org", "edition": "2026-03-30"}

        # Readers with news get a real digest through a relay; the others have nothing new
        # and send_empty is off: their editions are settled as skipped by the same tick.
        mailed = READERS // MAILED_EVERY
        handler = CountingHandler()
        with SmtpServer(handler) as relay:
            settings = make_settings(
                database={"url": url}, smtp={"port": relay.port, "concurrency": 8}
            )
            scheduler = Scheduler(settings, store, clock=SimulatedClock(AT))
            report = asyncio.run(scheduler.tick())
        assert report.due == READERS
        assert report.counts["sent"] == mailed
        assert report.counts["skipped"] == READERS - mailed
        received = handler.snapshot()
        assert len(received) == mailed and set(received.values()) == {1}
        assert f"r{MAILED_EVERY}@example.org" in received
        with store.session() as session:
            assert Counter(session.scalars(select(DeliveryRow.status))) == {
                "sent": mailed,
                "skipped": READERS - mailed,
            }
        code, out, _ = digest("due", "--at", AT.isoformat(), "--json")
        assert code == 0 and json.loads(out) == []
    finally:
        store.dispose()
