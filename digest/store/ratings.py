"""Rating repository: a reader's up/down per paper, one row per (reader, paper).

Editions read the ratings of a whole page of readers in one statement (with the rated papers,
which may be older than any edition window), so learning costs one query per page, not one per
reader.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Paper, Rating, RatingValue
from digest.store.papers import to_paper
from digest.store.schema import PaperRow, RatingRow

_CHUNK = 500  # bound parameters per IN list


def find_paper(session: Session, paper_id: str) -> Paper | None:
    """A stored paper by its id, else by its arXiv id (what a reader may have at hand)."""
    key = paper_id.strip()
    row = session.get(PaperRow, key)
    if row is None and key:
        row = session.scalar(select(PaperRow).where(PaperRow.arxiv_id == key))
    return to_paper(row) if row is not None else None


def set_rating(
    session: Session,
    subscriber_id: int,
    paper_id: str,
    rating: RatingValue | None,
    now: datetime,
) -> None:
    """Record (or replace) the reader's rating; None clears it. Idempotent."""
    row = session.scalar(
        select(RatingRow).where(
            RatingRow.subscriber_id == subscriber_id, RatingRow.paper_id == paper_id
        )
    )
    if rating is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            RatingRow(subscriber_id=subscriber_id, paper_id=paper_id, rating=rating, rated_at=now)
        )
    elif row.rating != rating:
        row.rating = rating
        row.rated_at = now
    session.flush()


def ratings_of(session: Session, subscriber_ids: Iterable[int]) -> dict[int, tuple[Rating, ...]]:
    """Every listed reader's ratings with their papers, newest first; readers without ratings
    are absent. One statement per 500 readers."""
    ids = sorted(set(subscriber_ids))
    found: dict[int, list[Rating]] = {}
    papers: dict[str, Paper] = {}  # readers rate the same papers: each is built once
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            select(
                RatingRow.subscriber_id, RatingRow.paper_id, RatingRow.rating, RatingRow.rated_at
            )
            .where(RatingRow.subscriber_id.in_(chunk))
            .order_by(RatingRow.subscriber_id, RatingRow.rated_at.desc(), RatingRow.id.desc())
        ).all()
        missing = sorted({paper_id for _s, paper_id, _r, _t in rows} - papers.keys())
        for part in range(0, len(missing), _CHUNK):
            wanted = missing[part : part + _CHUNK]
            for row in session.scalars(select(PaperRow).where(PaperRow.id.in_(wanted))):
                papers[row.id] = to_paper(row)
        for subscriber_id, paper_id, value, rated_at in rows:
            found.setdefault(int(subscriber_id), []).append(
                Rating(papers[paper_id], cast(RatingValue, value), rated_at)
            )
    return {k: tuple(v) for k, v in found.items()}


def ratings_for(session: Session, subscriber_id: int) -> tuple[Rating, ...]:
    return ratings_of(session, [subscriber_id]).get(subscriber_id, ())
