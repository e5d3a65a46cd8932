"""What an operator asks first: how many readers, how the last editions went, whether each
source still delivers papers. One read-only transaction, a handful of grouped queries."""

from __future__ import annotations

from dataclasses import dataclass

from digest.store import Store
from digest.store import stats as queries
from digest.store.ingest_runs import IngestRun, latest_per_source
from digest.store.stats import EditionCounts


@dataclass(frozen=True, slots=True)
class Stats:
    subscribers: dict[str, int]
    editions: list[EditionCounts]
    sources: list[IngestRun]


def gather(store: Store, *, editions: int = 30) -> Stats:
    """Subscribers by status, the `editions` most recent editions, each source's last ingest."""
    with store.session() as session:
        return Stats(
            subscribers=queries.subscribers_by_status(session),
            editions=queries.editions(session, limit=editions),
            sources=latest_per_source(session),
        )
