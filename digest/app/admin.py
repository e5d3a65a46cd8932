"""The operator's view of the list: who is on it, what each edition did, who is suppressed, and
the figures /metrics exposes. Each function is one unit of work on the store; the web shell
only parses the request and renders what these return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from digest.app.subscription import unsubscribe
from digest.app.why import why
from digest.errors import DigestError
from digest.models import Subscriber
from digest.settings import Settings
from digest.store import Store, ingest_runs, subscribers
from digest.store import admin as queries
from digest.store import suppressions as suppressions_store
from digest.store.admin import (
    DELIVERY_STATUSES,
    STATUSES,
    EditionLine,
    ReaderDetail,
    ReaderLine,
    SuppressionLine,
)
from digest.store.ingest_runs import IngestRun
from digest.store.suppressions import Lifted

__all__ = [
    "DELIVERY_STATUSES",
    "PAGE_SIZE",
    "STATUSES",
    "EditionLine",
    "IngestRun",
    "MetricsSnapshot",
    "ReaderDetail",
    "ReaderLine",
    "ReaderPage",
    "SuppressionLine",
    "editions",
    "ingest_history",
    "lift",
    "metrics_snapshot",
    "reader",
    "reader_why",
    "readers",
    "remove",
    "suppressions",
    "unsubscribe_reader",
]

# Rows per admin page: a screenful, and a bounded query whatever the size of the list.
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class ReaderPage:
    lines: list[ReaderLine]
    counts: dict[str, int]
    next_before: int | None  # the cursor of the next (older) page, None on the last one


def readers(
    store: Store,
    *,
    search: str = "",
    status: str | None = None,
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> ReaderPage:
    if status is not None and status not in STATUSES:
        status = None
    with store.session() as session:
        # One row more than shown tells whether an older page exists.
        lines = queries.reader_page(
            session, search=search, status=status, before_id=before_id, limit=limit + 1
        )
        counts = queries.status_counts(session)
    more = len(lines) > limit
    lines = lines[:limit]
    return ReaderPage(lines, counts, lines[-1].id if more and lines else None)


def reader(store: Store, public_id: str) -> ReaderDetail | None:
    with store.session() as session:
        return queries.reader_detail(session, public_id)


def reader_why(store: Store, settings: Settings, address: str, *, now: datetime) -> list[str]:
    """`digest why` for this reader, as the sentences it prints: the reader's page answers
    "the job ran, no mail arrived" without a shell on the server."""
    try:
        return why(store, settings, address, now=now).reasons
    except DigestError as exc:
        return [f"cannot explain this reader's current edition: {exc}"]


def unsubscribe_reader(store: Store, public_id: str, *, now: datetime) -> Subscriber | None:
    """The operator unsubscribes a reader exactly as the reader's own link would."""
    return unsubscribe(store, public_id, now=now)


def remove(store: Store, public_id: str, *, now: datetime) -> str | None:
    """Erase a reader (a data request) by the same rule as `digest subscribers remove`; the
    erased address, or None if there was none."""
    with store.session() as session:
        address = queries.email_of(session, public_id)
        if address is None or subscribers.remove(session, address, now) is None:
            return None
        return address


def editions(store: Store, *, before: date | None = None, limit: int = 30) -> list[EditionLine]:
    with store.session() as session:
        return queries.edition_page(session, before=before, limit=limit)


def suppressions(
    store: Store, *, after: str | None = None, search: str = "", limit: int = PAGE_SIZE
) -> tuple[list[SuppressionLine], str | None]:
    """A page of suppressed addresses and the cursor of the next page (None on the last)."""
    with store.session() as session:
        lines = queries.suppression_page(session, after=after, search=search, limit=limit + 1)
    more = len(lines) > limit
    lines = lines[:limit]
    return lines, (lines[-1].email_key if more and lines else None)


def lift(store: Store, address: str, *, now: datetime) -> Lifted | None:
    """As `digest suppressions lift`: a reader held only by the bounce is active again."""
    with store.session() as session:
        return suppressions_store.lift(session, address, now)


@dataclass(frozen=True, slots=True)
class SourceFigures:
    source: str
    parsed: int
    new: int
    last_run: datetime
    last_success: datetime | None
    failed: bool


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Everything /metrics reports, read in one unit of work at scrape time."""

    subscribers: dict[str, int]
    deliveries: dict[str, int]
    suppressions: int
    last_send: datetime | None
    sources: list[SourceFigures] = field(default_factory=list)


def metrics_snapshot(store: Store) -> MetricsSnapshot:
    with store.session() as session:
        successes = queries.last_ingest_success(session)
        sources = [
            SourceFigures(
                source=run.source,
                parsed=run.parsed,
                new=run.new,
                last_run=run.finished_at,
                last_success=successes.get(run.source),
                failed=not run.ok,
            )
            for run in ingest_runs.latest_per_source(session)
        ]
        return MetricsSnapshot(
            subscribers=queries.status_counts(session),
            deliveries=queries.delivery_counts(session),
            suppressions=queries.suppression_count(session),
            last_send=queries.last_sent_at(session),
            sources=sources,
        )


@dataclass(frozen=True, slots=True)
class IngestOverview:
    latest: list[IngestRun]  # the newest run of every source
    runs: list[IngestRun]  # the most recent runs, of one source or of all


def ingest_history(store: Store, *, source: str | None = None, limit: int = 50) -> IngestOverview:
    with store.session() as session:
        return IngestOverview(
            latest=ingest_runs.latest_per_source(session),
            runs=ingest_runs.history(session, source=source, limit=limit),
        )
