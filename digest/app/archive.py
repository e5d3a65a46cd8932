"""What the site shows of the mail it sent: a page per paper, and each digest as it was mailed.

`GET /editions/{token}` ("view in browser") shows a reader's digest from the ledger's record of
what it carried: the same papers in the same order, every one of them (a mail may have listed
some only as "N more papers"). Paper details are the stored ones, which an ingest may have
updated since (upvotes grow); the selection is what was sent.

A digest links every paper somewhere that works: its own URL, else its arXiv page, else the
site's page for it (`GET /papers/{id}`), which says what the digest said and more (every author,
the whole abstract) and links out to searches for the title where the paper may be found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote_plus

from digest.app.tokens import Signer, digest_links, read_edition_token
from digest.errors import QueryError
from digest.identity import normalise_whitespace
from digest.match import Matcher, PaperIndex
from digest.match.aliases import AliasTable, load_aliases
from digest.models import Edition, Match, Paper
from digest.render import Renderer
from digest.render.context import absolute_url, format_date
from digest.settings import Settings
from digest.store import Store
from digest.store.editions import carried
from digest.store.papers import get_paper, get_papers
from digest.store.subscribers import get_by_public_id

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


def mailed_edition(
    store: Store, public_id: str, day: date, *, now: datetime, aliases: AliasTable | None = None
) -> Edition | None:
    """A reader's edition as it was mailed: the papers the ledger says it carried, in their
    order, with the reasons the reader's topics give for them (the ledger keeps which papers,
    not why). None when that edition was never sent to that reader."""
    with store.session() as session:
        subscriber = get_by_public_id(session, public_id)
        if subscriber is None:
            return None
        record = carried(session, subscriber.id, day)
        if record is None:
            return None
        papers = get_papers(session, [*record.personal, *record.trending])
    personal = [papers[i] for i in record.personal if i in papers]
    reasons: dict[str, Match] = {}
    if personal and subscriber.profile.topics:
        try:
            matcher = Matcher(PaperIndex.build(personal, now=now), aliases=aliases)
            found = matcher.match(subscriber.profile.topics)
        except QueryError:
            found = []  # a stored topic that no longer parses: the papers, without reasons
        reasons = {m.paper.id: m for m in found}
    return Edition(
        subscriber=subscriber,
        date=day,
        papers=tuple(reasons.get(p.id) or Match(p, 0.0) for p in personal),
        trending=tuple(papers[i] for i in record.trending if i in papers),
        candidates_until=record.candidates_until,
    )


class Archive:
    """Renders mailed editions for the browser view; the renderer is built on first use."""

    def __init__(self, settings: Settings, store: Store, signer: Signer) -> None:
        self.settings = settings
        self.store = store
        self.signer = signer
        self._renderer: Renderer | None = None

    def page(self, token: str, *, now: datetime) -> str | None:
        """The HTML of the digest a "view in browser" token names, every paper shown; None
        when that edition was not sent. TokenError for a bad or expired token."""
        public_id, day = read_edition_token(self.signer, token)
        aliases = load_aliases(self.settings.match.aliases_file)  # the mail's reasons used them
        edition = mailed_edition(self.store, public_id, day, now=now, aliases=aliases)
        if edition is None:
            return None
        if self._renderer is None:
            self._renderer = Renderer(self.settings)
        # The same "more like this" / "less like this" links under each paper as the mail has.
        paper_ids = [m.paper.id for m in edition.papers]
        links = digest_links(self.settings, self.signer, public_id, paper_ids)
        return self._renderer.render(edition, links, fit=False).html
