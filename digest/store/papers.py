"""Paper repository: idempotent upserts keyed on stable identity, and ordered listings.

A paper is found by arXiv id first, then by its normalised title, so a text capture (no ids) and
an API capture (ids) of the same listing converge on one row. Ids never change once given: the
ledger refers to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, nulls_last, select
from sqlalchemy.orm import Session

from digest.identity import title_key
from digest.models import Paper
from digest.store.schema import PaperRow


@dataclass(frozen=True)
class UpsertCounts:
    parsed: int
    new: int
    updated: int


def to_paper(row: PaperRow) -> Paper:
    return Paper(
        id=row.id,
        title=row.title,
        abstract=row.abstract,
        authors=tuple(row.authors or ()),
        author_count=row.author_count,
        organization=row.organization,
        published=row.published,
        upvotes=row.upvotes,
        comments=row.comments,
        submitter=row.submitter,
        arxiv_id=row.arxiv_id,
        url=row.url,
        first_seen=row.first_seen_at,
    )


def _merge(row: PaperRow, paper: Paper, now: datetime) -> bool:
    """Fill gaps and refresh counts; never blank out what an earlier source said."""
    changed = False

    def put(attr: str, value: object) -> None:
        nonlocal changed
        if value is not None and value != "" and value != () and getattr(row, attr) != value:
            setattr(row, attr, value)
            changed = True

    def fill(attr: str, value: object) -> None:
        if getattr(row, attr) in (None, "", []):
            put(attr, value)

    put("upvotes", paper.upvotes)
    put("comments", paper.comments)
    fill("arxiv_id", paper.arxiv_id)
    fill("abstract", paper.abstract)
    fill("organization", paper.organization)
    fill("published", paper.published)
    fill("submitter", paper.submitter)
    fill("url", paper.url)
    if paper.authors and len(paper.authors) > len(row.authors or []):
        row.authors = list(paper.authors)
        changed = True
    fill("author_count", paper.author_count)
    if changed:
        row.updated_at = now
    return changed


def upsert_papers(session: Session, papers: Iterable[Paper], now: datetime) -> UpsertCounts:
    """Insert new papers and merge known ones, in the caller's transaction (all or nothing)."""
    batch = list(papers)
    arxiv_ids = {p.arxiv_id for p in batch if p.arxiv_id}
    keys = {title_key(p.title) for p in batch}
    existing_by_arxiv: dict[str, PaperRow] = {}
    existing_by_key: dict[str, PaperRow] = {}
    # Bulk look-ups in chunks (bound-parameter limits); a per-paper query would also autoflush
    # every pending insert and make a large page quadratic-ish in practice.
    for chunk in _chunks(sorted(arxiv_ids), 500):
        for found in session.scalars(select(PaperRow).where(PaperRow.arxiv_id.in_(chunk))):
            existing_by_arxiv[found.arxiv_id or ""] = found
    for chunk in _chunks(sorted(keys), 500):
        for found in session.scalars(select(PaperRow).where(PaperRow.title_key.in_(chunk))):
            existing_by_key.setdefault(found.title_key, found)
    taken_ids: set[str] = set()
    for chunk in _chunks(sorted({p.id for p in batch}), 500):
        taken_ids.update(session.scalars(select(PaperRow.id).where(PaperRow.id.in_(chunk))))
    new = updated = 0
    row: PaperRow | None
    for paper in batch:
        key = title_key(paper.title)
        row = existing_by_arxiv.get(paper.arxiv_id or "") or existing_by_key.get(key)
        if row is not None and paper.arxiv_id and row.arxiv_id not in (None, paper.arxiv_id):
            row = None  # same title, different arXiv papers: keep both
        if row is None:
            row = new_paper_row(paper, key, now)
            if paper.id in taken_ids:
                continue  # an id collision with a differently titled row; keep the first
            taken_ids.add(paper.id)
            session.add(row)
            existing_by_key[key] = row
            if paper.arxiv_id:
                existing_by_arxiv[paper.arxiv_id] = row
            new += 1
        elif _merge(row, paper, now):
            updated += 1
    session.flush()
    return UpsertCounts(parsed=len(batch), new=new, updated=updated)


def new_paper_row(paper: Paper, key: str, now: datetime) -> PaperRow:
    """The row a paper seen for the first time becomes (`key` is its title_key)."""
    return PaperRow(
        id=paper.id,
        arxiv_id=paper.arxiv_id,
        title_key=key,
        title=paper.title,
        abstract=paper.abstract,
        authors=list(paper.authors),
        author_count=paper.author_count,
        organization=paper.organization,
        published=paper.published,
        upvotes=paper.upvotes,
        comments=paper.comments,
        submitter=paper.submitter,
        url=paper.url,
        first_seen_at=now,
        updated_at=now,
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def list_papers(
    session: Session,
    *,
    limit: int | None = None,
    seen_after: datetime | None = None,
    seen_until: datetime | None = None,
) -> list[Paper]:
    """Newest publication date first, then most upvoted, then id: a deterministic order."""
    query = select(PaperRow).order_by(
        nulls_last(PaperRow.published.desc()),
        nulls_last(PaperRow.upvotes.desc()),
        PaperRow.id,
    )
    if seen_after is not None:
        query = query.where(PaperRow.first_seen_at > seen_after)
    if seen_until is not None:
        query = query.where(PaperRow.first_seen_at <= seen_until)
    if limit is not None:
        query = query.limit(limit)
    return [to_paper(row) for row in session.scalars(query)]


Fingerprint = tuple[int, datetime | None]


def fingerprint(session: Session) -> Fingerprint:
    """(number of papers, newest change): equal as long as no ingest changed anything."""
    count, newest = session.execute(select(func.count(), func.max(PaperRow.updated_at))).one()
    return int(count), newest


def get_paper(session: Session, paper_id: str) -> Paper | None:
    """One stored paper by its id (the id every digest link and ledger row names)."""
    row = session.get(PaperRow, paper_id)
    return to_paper(row) if row is not None else None


def get_papers(session: Session, paper_ids: Iterable[str]) -> dict[str, Paper]:
    """Stored papers by id, in pages of ids so a long list stays within bind limits."""
    found: dict[str, Paper] = {}
    for chunk in _chunks(list(dict.fromkeys(paper_ids)), 500):
        for row in session.scalars(select(PaperRow).where(PaperRow.id.in_(chunk))):
            found[row.id] = to_paper(row)
    return found
