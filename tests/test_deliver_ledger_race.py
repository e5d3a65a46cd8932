"""The delivery ledger raced by real processes, on SQLite and on PostgreSQL (when a server runs
locally): each edition is won by exactly one of them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from digest.store import open_store
from tests.conftest import ROOT
from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)
from tests.test_deliver_ledger import add_subscribers, rows

RACER = textwrap.dedent(
    """
    import json, sys, time
    from datetime import UTC, date, datetime, timedelta
    from digest.store.deliveries import Ledger, Result
    from digest.store import open_store
    from digest.store.subscribers import list_subscribers

    url, start = sys.argv[1], float(sys.argv[2])
    store = open_store(url)
    with store.session() as session:
        readers = list_subscribers(session)
    ledger = Ledger(store, lease=timedelta(minutes=5))
    time.sleep(max(0.0, start - time.time()))
    won = []
    for start in range(0, len(readers), 5):  # small pages, so the racers interleave
        page = [(r.id, date(2026, 10, 17)) for r in readers[start : start + 5]]
        claims = ledger.claim_page(page).claims
        # Settled at once: a racer that exits first leaves no queued row for the others to
        # take over from a dead process (which they rightly would).
        ledger.record([Result(claim, "sent", attempts=1) for claim in claims.values()])
        won += list(claims)
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
