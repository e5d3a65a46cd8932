"""Several `digest send` processes on one PostgreSQL database split the readers between them:
each claims a page before building it, so every digest goes out exactly once, none is lost,
and their summaries add up to the readers. (What they cost in CPU against one process is a
benchmark figure: bench/senders.py.)"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from digest.store import open_store
from digest.store.schema import DeliveryRow
from tests.conftest import ON_POSTGRES
from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)
from tests.scale_support import CountingHandler, readers_with_news, start_sender
from tests.schedule_support import base_env
from tests.smtpd import SmtpServer

READERS = 3_000
SENDERS = 3


@pytest.mark.slow
@pytest.mark.skipif(
    ON_POSTGRES,
    reason="makes its own PostgreSQL database whatever the stores run on: it runs once, in the "
    "run with SQLite stores",
)
@pytest.mark.timeout(900)
def test_three_senders_on_one_postgresql_database_send_each_digest_exactly_once(
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("postgres_url")
    store = open_store(url)
    try:
        readers_with_news(store, READERS)
        handler = CountingHandler(delay=0.005)
        with SmtpServer(handler) as relay:
            env = base_env(url, DIGEST_SMTP__PORT=str(relay.port), DIGEST_SMTP__CONCURRENCY="4")
            senders = [start_sender(env) for _ in range(SENDERS)]
            summaries = []
            for sender in senders:
                out, err = sender.communicate(timeout=800)
                assert sender.returncode == 0, err[-2000:]
                summaries.append(json.loads(out))
        received = handler.snapshot()
        assert len(received) == READERS  # none lost
        assert set(received.values()) == {1}  # none twice
        assert sum(s["sent"] for s in summaries) == READERS
        assert all(s["failed"] == s["deferred"] == 0 for s in summaries)
        with store.session() as session:
            assert Counter(session.scalars(select(DeliveryRow.status))) == {"sent": READERS}
    finally:
        store.dispose()
