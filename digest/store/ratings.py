"""Rating repository: a reader's up/down per paper, one row per (reader, paper).

Editions read the ratings of a whole page of readers in one statement (with the rated papers,
which may be older than any edition window), so learning costs one query per page, not one per
reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.identity import title_key
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


def find_examples(session: Session, entries: Iterable[str]) -> dict[str, Paper]:
    """The stored papers a topic's `like` entries name (paper id, arXiv id or title), by entry;
    entries naming no stored paper are absent. A few statements, whatever the number."""
    wanted = sorted(set(entries))
    if not wanted:
        return {}
    keys = {title_key(e): e for e in wanted}
    found: dict[str, Paper] = {}
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        for row in session.scalars(
            select(PaperRow).where(
                PaperRow.id.in_(part)
                | PaperRow.arxiv_id.in_(part)
                | PaperRow.title_key.in_([title_key(e) for e in part])
            )
        ):
            paper = to_paper(row)
            for entry in (row.id, row.arxiv_id, keys.get(row.title_key)):
                if entry is not None and entry in keys.values() and entry not in found:
                    found[entry] = paper
    return found


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


def ratings_of(
    session: Session,
    subscriber_ids: Iterable[int],
    papers: dict[str, Paper] | None = None,
    *,
    dated: bool = True,
) -> dict[int, tuple[Rating, ...]]:
    """Every listed reader's ratings with their papers; readers without ratings are absent.
    One statement per 500 readers. `papers` (by id) are used as they are, and the rated papers
    read are added to it: a run passes the same dict for every page. With `dated` the ratings
    carry their time, newest first; without, they come in the order given (what an edition
    needs: reading and sorting the times cost a third of the load, bench/ratings_edition.py)."""
    ids = sorted(set(subscriber_ids))
    found: dict[int, list[Rating]] = {}
    if papers is None:
        papers = {}  # readers rate the same papers: each is built once
    undated: dict[tuple[str, str], Rating] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows: Sequence[Any]
        if dated:
            rows = session.execute(
                select(
                    RatingRow.subscriber_id,
                    RatingRow.paper_id,
                    RatingRow.rating,
                    RatingRow.rated_at,
                )
                .where(RatingRow.subscriber_id.in_(chunk))
                .order_by(RatingRow.subscriber_id, RatingRow.rated_at.desc(), RatingRow.id.desc())
            ).all()
        else:  # one row per reader ("up ID\ndown ID"): a third of the rows' cost, bench figure
            rows = [
                (reader, *line.split(" ", 1)[::-1])
                for reader, joined in session.execute(
                    select(
                        RatingRow.subscriber_id,
                        func.aggregate_strings(RatingRow.rating + " " + RatingRow.paper_id, "\n"),
                    )
                    .where(RatingRow.subscriber_id.in_(chunk))
                    .group_by(RatingRow.subscriber_id)
                )
                for line in joined.split("\n")
            ]
        missing = sorted({row[1] for row in rows} - papers.keys())
        for part in range(0, len(missing), _CHUNK):
            wanted = missing[part : part + _CHUNK]
            for paper_row in session.scalars(select(PaperRow).where(PaperRow.id.in_(wanted))):
                papers[paper_row.id] = to_paper(paper_row)
        for row in rows:
            if dated:
                rating = Rating(papers[row[1]], cast(RatingValue, row[2]), row[3])
            else:  # the same undated rating of a paper serves every reader who gave it
                key = (row[1], row[2])
                rating = undated.get(key) or undated.setdefault(
                    key, Rating(papers[row[1]], cast(RatingValue, row[2]))
                )
            found.setdefault(int(row[0]), []).append(rating)
    return {k: tuple(v) for k, v in found.items()}


def ratings_for(session: Session, subscriber_id: int) -> tuple[Rating, ...]:
    return ratings_of(session, [subscriber_id]).get(subscriber_id, ())
