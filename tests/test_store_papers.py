"""Paper identity in the store: re-ingesting never duplicates, overlapping captures converge."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from digest.identity import paper_id
from digest.models import Paper
from digest.store import Store, open_store
from digest.store.db import migrate
from digest.store.papers import fingerprint, list_papers, upsert_papers
from tests.test_store_migrations import postgres_schema

NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, db_url: str) -> Iterator[Store]:
    """Identity must hold on both supported backends (portable SQL)."""
    if request.param == "sqlite":
        opened = open_store(db_url)
        yield opened
        opened.dispose()
        return
    with postgres_schema() as engine:
        migrate(engine)
        yield Store(engine)


def text_paper(title: str, **fields: Any) -> Paper:
    """As the hf-text capture gives it: no arXiv id, id from the title."""
    return Paper(id=paper_id(None, title), title=title, abstract="Abstract.", **fields)


def api_paper(arxiv_id: str, title: str, **fields: Any) -> Paper:
    return Paper(id=arxiv_id, arxiv_id=arxiv_id, title=title, abstract="Abstract.", **fields)


def upsert(store: Store, papers: list[Paper], now: datetime = NOW) -> tuple[int, int, int]:
    with store.session() as session:
        counts = upsert_papers(session, papers, now)
    return counts.parsed, counts.new, counts.updated


def stored(store: Store) -> list[Paper]:
    with store.session() as session:
        return list_papers(session)


def test_same_batch_twice_is_a_no_op(store: Store) -> None:
    batch = [text_paper("KV Cache Eviction", upvotes=3), api_paper("2410.00001", "MoE Routing")]
    assert upsert(store, batch) == (2, 2, 0)
    assert upsert(store, batch, LATER) == (2, 0, 0)
    assert {p.first_seen for p in stored(store)} == {NOW}


def test_new_upvotes_update_the_row_and_keep_first_seen(store: Store) -> None:
    upsert(store, [text_paper("KV Cache Eviction", upvotes=3)])
    assert upsert(store, [text_paper("KV Cache Eviction", upvotes=9)], LATER) == (1, 0, 1)
    (paper,) = stored(store)
    assert (paper.upvotes, paper.first_seen) == (9, NOW)


def test_text_then_api_capture_fills_gaps_without_a_duplicate(store: Store) -> None:
    upsert(store, [text_paper("Socratic-Zero : Bootstrapping Reasoning", organization="Alibaba")])
    assert upsert(
        store,
        [
            api_paper(
                "2509.24726",
                "Socratic-Zero: Bootstrapping  Reasoning",
                authors=("Ada", "Alan"),
                published=date(2025, 9, 29),
            )
        ],
        LATER,
    ) == (1, 0, 1)
    (paper,) = stored(store)
    assert paper.id == paper_id(None, "Socratic-Zero : Bootstrapping Reasoning")  # ids never change
    assert paper.arxiv_id == "2509.24726"
    assert (paper.authors, paper.organization, paper.published) == (
        ("Ada", "Alan"),
        "Alibaba",
        date(2025, 9, 29),
    )


def test_api_then_text_capture_converges_on_the_arxiv_row(store: Store) -> None:
    upsert(store, [api_paper("2509.24726", "Socratic-Zero: Bootstrapping Reasoning")])
    assert upsert(
        store, [text_paper("SOCRATIC-ZERO — Bootstrapping reasoning", author_count=4)]
    ) == (
        1,
        0,
        1,
    )
    (paper,) = stored(store)
    assert (paper.id, paper.author_count) == ("2509.24726", 4)


def test_same_title_different_arxiv_papers_are_kept_apart(store: Store) -> None:
    assert upsert(
        store,
        [api_paper("2401.00001", "Attention Sinks"), api_paper("2402.00002", "Attention Sinks")],
    ) == (2, 2, 0)
    with store.session() as session:
        assert fingerprint(session)[0] == 2


def test_nothing_is_blanked_by_a_poorer_source(store: Store) -> None:
    upsert(store, [text_paper("Paged Attention", upvotes=5, organization="Org", author_count=6)])
    upsert(store, [text_paper("Paged Attention")], LATER)
    (paper,) = stored(store)
    assert (paper.upvotes, paper.organization, paper.author_count) == (5, "Org", 6)


def test_listing_is_newest_then_most_upvoted(store: Store) -> None:
    papers = [
        text_paper("Old", published=date(2025, 1, 1), upvotes=100),
        text_paper("New quiet", published=date(2025, 10, 1), upvotes=1),
        text_paper("New loud", published=date(2025, 10, 1), upvotes=50),
        text_paper("Undated", upvotes=999),
    ]
    upsert(store, papers)
    assert [p.title for p in stored(store)] == ["New loud", "New quiet", "Old", "Undated"]
    with store.session() as session:
        assert [p.title for p in list_papers(session, limit=1)] == ["New loud"]
        assert list_papers(session, seen_after=NOW) == []
        assert len(list_papers(session, seen_until=NOW)) == 4


def test_duplicates_inside_one_batch_are_one_paper(store: Store) -> None:
    paper = text_paper("Twice on one page", upvotes=1)
    assert upsert(store, [paper, replace(paper, upvotes=2)]) == (2, 1, 1)
    (stored_paper,) = stored(store)
    assert stored_paper.upvotes == 2
