"""A sender killed with SIGKILL part-way, and an immediate re-run: the re-run does not wait
out the dead sender's lease (its owner is provably gone), finishes every delivery, and the
crash costs at most one extra copy of the messages that were in flight — handed to the relay,
or answered but not yet written to the ledger — never a lost digest."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import select

from digest.store import open_store
from digest.store.schema import DeliveryRow
from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)
from tests.scale_support import CountingHandler, readers_with_news, start_sender
from tests.schedule_support import base_env
from tests.smtpd import SmtpServer

READERS = 300
CONCURRENCY = 4
KILL_AFTER = 80  # digests the relay has accepted when the sender is killed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_immediate_rerun_after_sigkill_loses_nothing_and_resends_only_what_was_in_flight(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("db_url" if backend == "sqlite" else "postgres_url")
    store = open_store(url)
    try:
        readers_with_news(store, READERS)
        handler = CountingHandler(delay=0.03)
        with SmtpServer(handler) as relay:
            env = base_env(
                url,
                DIGEST_SMTP__PORT=str(relay.port),
                DIGEST_SMTP__CONCURRENCY=str(CONCURRENCY),
                DIGEST_SMTP__CLAIM_LEASE_SECONDS="600",  # only proof of death frees its claims
            )
            first = start_sender(env)
            deadline = time.monotonic() + 120
            while sum(handler.snapshot().values()) < KILL_AFTER:
                assert first.poll() is None, first.communicate()
                assert time.monotonic() < deadline, "the sender made no progress"
                time.sleep(0.005)
            first.send_signal(signal.SIGKILL)
            first.communicate()
            time.sleep(0.3)  # what was wholly handed over before the kill is counted by now
            at_kill = handler.snapshot()
            assert len(at_kill) < READERS  # really part-way

            rerun = start_sender(env)
            out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err[-2000:]
        assert "taken over from a sender that died" in err

        received = handler.snapshot()
        assert set(received) == {f"r{n}@example.org" for n in range(1, READERS + 1)}  # none lost
        assert max(received.values()) <= 2  # at most one extra copy
        again = [address for address, count in received.items() if count > 1]
        assert all(address in at_kill for address in again)  # only what the dead one had sent
        assert len(again) <= 2 * CONCURRENCY  # in flight, or answered and not yet written
        assert all(len(ids) == 1 for ids in handler.message_ids.values())  # the same message
        assert json.loads(out)["sent"] == READERS - len(at_kill) + len(again)
        with store.session() as session:
            assert Counter(session.scalars(select(DeliveryRow.status))) == {"sent": READERS}
    finally:
        store.dispose()
