"""Ingesting sources into the store: every source is read and parsed before anything is written.

A run over several sources is one transaction, so a bad file among good ones stores nothing and
the error names the bad one; re-running after fixing it gives the same result as a clean run.

Every ingest, from the command line or the scheduler, leaves one history row per source
(`store.ingest_runs`), failures included: a source that failed, or that was read fine but not
stored because another one failed, says so in its `error`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import BinaryIO

import httpx

from digest.errors import DigestError, SourceError, StoreBusyError, StoreError
from digest.models import Paper
from digest.sources import read
from digest.store import Store, ingest_runs
from digest.store.papers import UpsertCounts, upsert_papers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Read:
    """One source after reading: its papers, or the error that stopped it."""

    source: str
    started_at: datetime
    finished_at: datetime
    papers: list[Paper]
    error: str | None = None


class _Clock:
    """`now` as given, advanced by the real time elapsed: a test's fixed instant stays the
    start of the run while each source still gets its own start and finish times."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._started = time.monotonic()

    def __call__(self) -> datetime:
        return self._now + timedelta(seconds=time.monotonic() - self._started)


def _name(spec: str) -> str:
    return "<stdin>" if spec == "-" else spec


def _read_each(
    specs: Sequence[str],
    clock: _Clock,
    *,
    format: str | None,
    page_date: date | None,
    today: date,
    transport: httpx.BaseTransport | None,
    timeout: float,
    stdin: BinaryIO | None,
) -> list[_Read]:
    """Read sources in order until one fails; the failing one is the last entry."""
    reads: list[_Read] = []
    for spec in specs:
        started = clock()
        try:
            papers = read(
                spec,
                format=format,
                page_date=page_date,
                transport=transport,
                timeout=timeout,
                stdin=stdin,
                today=today,
            )
        except SourceError as exc:
            reads.append(_Read(_name(spec), started, clock(), [], str(exc)))
            break
        if not papers:
            # Read fine but empty: a header-only page or a feed with no entries is worth a word.
            log.warning("%s: no papers found in this source", _name(spec))
        reads.append(_Read(_name(spec), started, clock(), papers))
    return reads


def _record_failure(store: Store, reads: Sequence[_Read], error: str) -> None:
    """History rows for an ingest that stored nothing. Written in a transaction of its own; a
    database too broken to take them is logged, and the original error still reaches the caller."""
    try:
        with store.session() as session:
            for item in reads:
                ingest_runs.record(
                    session,
                    source=item.source,
                    started_at=item.started_at,
                    finished_at=item.finished_at,
                    parsed=len(item.papers),
                    new=0,
                    error=item.error or f"not stored: {error}",
                )
    except DigestError as exc:
        log.error("could not record the failed ingest: %s", exc)


def ingest(
    store: Store,
    specs: Sequence[str],
    *,
    format: str | None = None,
    page_date: date | None = None,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    stdin: BinaryIO | None = None,
) -> UpsertCounts:
    """Parse all `specs`, then upsert every paper in one transaction (all or nothing), and
    record how each source did."""
    clock = _Clock(now)
    reads = _read_each(
        specs,
        clock,
        format=format,
        page_date=page_date,
        today=now.date(),
        transport=transport,
        timeout=timeout,
        stdin=stdin,
    )
    failed = reads[-1].error if reads else None
    if failed is not None:
        _record_failure(store, reads, failed)
        raise SourceError(failed)
    try:
        with store.session() as session:
            parsed = new = updated = 0
            for item in reads:
                # Source by source in the one transaction: the totals are those of one batch,
                # and each source's history row gets its own count of new papers.
                counts = upsert_papers(session, item.papers, now)
                parsed += counts.parsed
                new += counts.new
                updated += counts.updated
                ingest_runs.record(
                    session,
                    source=item.source,
                    started_at=item.started_at,
                    finished_at=clock(),
                    parsed=counts.parsed,
                    new=counts.new,
                )
    except StoreBusyError:
        raise  # another writer holds the database: the history cannot be written either
    except StoreError as exc:
        _record_failure(store, reads, str(exc))
        raise
    return UpsertCounts(parsed=parsed, new=new, updated=updated)


def last_ingest(store: Store, sources: Sequence[str]) -> datetime | None:
    """When every one of `sources` was last read (the oldest of their latest runs, failed ones
    included: a failure waits for the next scheduled time like a success); None when one of
    them was never read. `digest serve --once` compares this with the ingest schedule."""
    with store.session() as session:
        latest = {run.source: run.started_at for run in ingest_runs.latest_per_source(session)}
    names = [_name(spec) for spec in sources]
    if not names or any(name not in latest for name in names):
        return None
    return min(latest[name] for name in names)
