"""What the site shows of the mail it sent: a page per paper, and each digest as it was mailed.

A digest links every paper somewhere that works: its own URL, else its arXiv page, else the
site's page for it (`GET /papers/{id}`), which says what the digest said and more (every author,
the whole abstract) and links out to searches for the title where the paper may be found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote_plus

from digest.identity import normalise_whitespace
from digest.models import Paper
from digest.render.context import absolute_url, format_date
from digest.store import Store
from digest.store.papers import get_paper

ARXIV_SEARCH = "https://arxiv.org/search/?searchtype=title&query={query}"
DAILY_PAPERS_SEARCH = "https://huggingface.co/papers?q={query}"


@dataclass(frozen=True, slots=True)
class PaperPage:
    """A stored paper as its page shows it; every link is absolute http(s)."""

    id: str
    title: str
    authors: tuple[str, ...]
    author_count: int
    organization: str | None
    abstract: str
    published: str | None
    published_iso: str | None
    upvotes: int | None
    url: str | None
    arxiv_url: str | None
    arxiv_search: str
    daily_papers_search: str


def paper_page(paper: Paper) -> PaperPage:
    title = normalise_whitespace(paper.title)
    authors = tuple(normalise_whitespace(a) for a in paper.authors if a.strip())
    published: date | None = paper.published
    own = absolute_url(paper.url)
    arxiv = absolute_url(paper.arxiv_url)
    return PaperPage(
        id=paper.id,
        title=title,
        authors=authors,
        author_count=max(paper.author_count or 0, len(authors)),
        organization=normalise_whitespace(paper.organization) if paper.organization else None,
        abstract=normalise_whitespace(paper.abstract),
        published=format_date(published) if published else None,
        published_iso=published.isoformat() if published else None,
        upvotes=paper.upvotes,
        url=own if own != arxiv else None,
        arxiv_url=arxiv,
        arxiv_search=ARXIV_SEARCH.format(query=quote_plus(title)),
        daily_papers_search=DAILY_PAPERS_SEARCH.format(query=quote_plus(title)),
    )


def find_paper(store: Store, paper_id: str) -> PaperPage | None:
    """The page for a stored paper, or None for an id the store does not know."""
    with store.session() as session:
        paper = get_paper(session, paper_id)
    return paper_page(paper) if paper is not None else None
