"""The ingest history: one row per source per ingest, failures included.

An ingest that stored nothing leaves a row too, with its error, so "the job ran, nothing came" has
an answer: which source, when, how many papers it gave, and what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.schema import IngestRunRow

# Long enough for any URL an operator configures; the column holds 1000.
_SOURCE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class IngestRun:
    """One source read by one ingest. `error` is None when its papers were stored."""

    source: str
    started_at: datetime
    finished_at: datetime
    parsed: int
    new: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _to_run(row: IngestRunRow) -> IngestRun:
    return IngestRun(
        source=row.source,
        started_at=row.started_at,
        finished_at=row.finished_at,
        parsed=row.parsed,
        new=row.new,
        error=row.error,
    )


def record(
    session: Session,
    *,
    source: str,
    started_at: datetime,
    finished_at: datetime,
    parsed: int,
    new: int,
    error: str | None = None,
) -> IngestRun:
    """Add one run, in the caller's transaction."""
    row = IngestRunRow(
        source=source[:_SOURCE_LIMIT],
        started_at=started_at,
        finished_at=finished_at,
        parsed=parsed,
        new=new,
        error=error,
    )
    session.add(row)
    session.flush()
    return _to_run(row)


def latest_per_source(session: Session) -> list[IngestRun]:
    """The newest run of every source ever ingested, sources in name order."""
    newest = (
        select(IngestRunRow.source, func.max(IngestRunRow.id).label("id"))
        .group_by(IngestRunRow.source)
        .subquery()
    )
    query = (
        select(IngestRunRow)
        .join(newest, IngestRunRow.id == newest.c.id)
        .order_by(IngestRunRow.source)
    )
    return [_to_run(row) for row in session.scalars(query)]


def history(session: Session, source: str | None = None, limit: int = 50) -> list[IngestRun]:
    """The most recently recorded runs first, of one source or of all; at most `limit`.

    Ordered by insertion, not by `started_at`: a run's clock may be a test's or a catch-up's."""
    query = select(IngestRunRow).order_by(IngestRunRow.id.desc())
    if source is not None:
        query = query.where(IngestRunRow.source == source)
    return [_to_run(row) for row in session.scalars(query.limit(limit))]
