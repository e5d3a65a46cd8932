"""The one context both the HTML and the plain-text part are rendered from.

Everything a template shows is decided here, so the two parts never disagree: which link a title
points at, how an abstract is trimmed, which words are highlighted, why the reader gets the mail.
Paper text is escaped *before* highlight markup is wrapped around the matched spans, so nothing a
source wrote can ever become markup.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from digest.errors import ConfigError
from digest.identity import normalise_whitespace
from digest.models import Edition, Match, MatchReason, Paper
from digest.render.highlighting import highlight
from digest.render.sized_cache import SizedCache
from digest.render.summary import (
    PREHEADER_PADDING,
    TEXT_WIDTH,
    intro,
    preheader,
    shorten,
    subject_line,
    wrap,
)
from digest.settings import Settings

ABSTRACT_LIMIT = 320
SUBJECT_TITLE_LIMIT = 90
MAX_AUTHORS = 3
TOC_FROM = 6  # a digest with more papers than 5 opens with a list of their titles
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])")
_URL_SCHEMES = ("https://", "http://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc


@dataclass(frozen=True, slots=True)
class FeedbackLinks:
    """One paper's "more like this" / "less like this" links for one reader (signed)."""

    more: str
    less: str


@dataclass(frozen=True, slots=True)
class DigestLinks:
    """Signed per-reader links; built by the caller, who holds the token signer. `feedback`
    maps a paper id to its rating links (papers without an entry show none)."""

    manage: str
    unsubscribe: str
    browser: str | None = None  # "view in browser" (GET /editions/{token}), when known
    feedback: Mapping[str, FeedbackLinks] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaperNote:
    """What a card shows beside the paper that is per reader (so not in the shared Card):
    whether its "Matched" line is shown (not when an earlier card of the digest gave the same
    topics and reasons: a one-topic reader would read the same line on every paper), why the
    reader's ratings placed it, and the links to rate it."""

    reasons: bool
    because: str = ""
    more_url: str | None = None
    less_url: str | None = None


# The notes of a paper that neither ratings nor rating links touch: one of these two.
_PLAIN_NOTES = {True: PaperNote(reasons=True), False: PaperNote(reasons=False)}


@dataclass(frozen=True, slots=True)
class Card:
    """One paper as both parts show it. `*_html` values are already-escaped Markup."""

    title: str
    title_html: Markup
    url: str  # always a working link (see make_card)
    arxiv_url: str | None
    authors: str
    organization: str | None
    upvotes: int | None
    published: str | None
    abstract: str
    abstract_html: Markup
    abstract_lines: tuple[str, ...]
    abstract_block: str  # the lines joined, continuation lines indented by three spaces
    topics: tuple[str, ...]
    matched: str  # the reasons as one line ("" if none); PaperNote.reasons says if it shows
    meta: str  # "A, B, C et al. · Org · 42 upvotes · 17 Oct 2026", skipping what is unknown
    anchor: str  # the id of its heading, for the table of contents
    # The plain-text part's lines, wrapped at TEXT_WIDTH: the title after its "N. " (later
    # lines indented four spaces), and the meta, topics and matched lines indented three.
    title_block: str
    meta_block: str
    topics_block: str
    matched_block: str


# Names spelled out, not strftime's: the same in every locale, and several times cheaper.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(day: date) -> str:
    """ "17 Oct 2026"."""
    return f"{day.day} {_MONTHS[day.month - 1][:3]} {day.year}"


def format_long_date(day: date) -> str:
    """ "Saturday 17 October 2026"."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def absolute_url(url: str | None) -> str | None:
    """Only absolute http(s) links reach a mail; relative or javascript: links are dropped."""
    if url and url.strip().lower().startswith(_URL_SCHEMES) and not any(c in url for c in "\r\n"):
        return url.strip()
    return None


def paper_page_url(base_url: str, paper_id: str) -> str:
    """The site's own page for a paper (`GET /papers/{id}`): the link of last resort, so that a
    paper with no URL of its own (a text capture of the listing) can still be opened."""
    return f"{base_url.rstrip('/')}/papers/{quote(paper_id, safe='/')}"


def author_line(paper: Paper) -> str:
    names = [normalise_whitespace(a) for a in paper.authors if a.strip()]
    total = max(paper.author_count or 0, len(names))
    if not names:
        return f"{total} authors" if total > 1 else ""
    shown = ", ".join(names[:MAX_AUTHORS])
    return f"{shown} et al." if total > MAX_AUTHORS else shown


# bench/caches.py: trim_abstract and _wrapped cached 1,143 msg/s, plain 976 (+17% CPU/msg):
# a card is built anew for each set of reasons a paper comes with, its abstract is the same.
@lru_cache(maxsize=4096)
def trim_abstract(abstract: str, limit: int = ABSTRACT_LIMIT) -> str:
    """Whole sentences up to `limit` characters; a first sentence longer than that is cut at a
    word and marked with an ellipsis. Cached: the same paper goes to many readers."""
    text = normalise_whitespace(abstract)
    if len(text) <= limit:
        return text
    kept = ""
    for boundary in _SENTENCE_END.finditer(text):
        candidate = text[: boundary.start()].rstrip()
        if len(candidate) > limit:
            break
        kept = candidate
    if kept:
        return kept
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return f"{cut}…"


@lru_cache(maxsize=4096)
def _wrapped(text: str) -> tuple[str, ...]:
    return tuple(textwrap.wrap(text, TEXT_WIDTH - 3, break_long_words=False)) or ("",)


def _terms_for(matched: tuple[MatchReason, ...], field: str) -> tuple[str, ...]:
    return tuple(sorted({r.term for r in matched if r.field == field}))


def _matched_line(matched: tuple[MatchReason, ...]) -> str:
    seen: dict[str, list[str]] = {}
    for reason in matched:
        fields = seen.setdefault(reason.term, [])
        if reason.field not in fields:
            fields.append(reason.field)
    return ", ".join(f"{term} ({', '.join(fields)})" for term, fields in seen.items())


def _meta(
    authors: str, organization: str | None, upvotes: int | None, published: str | None
) -> str:
    parts = [authors] if authors else []
    if organization:
        parts.append(organization)
    if upvotes is not None:
        parts.append(f"{upvotes} upvote{'' if upvotes == 1 else 's'}")
    if published:
        parts.append(published)
    return " · ".join(parts)


def make_card(paper: Paper, match: Match | None = None, *, base_url: str) -> Card:
    """One paper's card; the reasons come from `match` (its score plays no part). Every card
    has a link: the paper's own, else its arXiv page, else the site's page for it."""
    if match is None:
        return _card(paper, (), (), base_url)
    return _card(paper, match.topics, match.matched, base_url)


def _build_card(
    paper: Paper, topics: tuple[str, ...], matched: tuple[MatchReason, ...], base_url: str
) -> Card:
    """One card, built anew (see `_card`, which keeps them)."""
    title = normalise_whitespace(paper.title)
    abstract = trim_abstract(paper.abstract)
    arxiv_url = absolute_url(paper.arxiv_url)
    authors = author_line(paper)
    organization = normalise_whitespace(paper.organization) if paper.organization else None
    published = format_date(paper.published) if paper.published else None
    meta = _meta(authors, organization, paper.upvotes, published)
    anchor = "paper-" + _ANCHOR_UNSAFE.sub("-", paper.id)
    reasons = _matched_line(matched)
    return Card(
        title=title,
        title_html=highlight(title, _terms_for(matched, "title")),
        url=absolute_url(paper.url) or arxiv_url or paper_page_url(base_url, paper.id),
        arxiv_url=arxiv_url,
        authors=authors,
        organization=organization,
        upvotes=paper.upvotes,
        published=published,
        abstract=abstract,
        abstract_html=highlight(abstract, _terms_for(matched, "abstract")),
        abstract_lines=_wrapped(abstract),
        abstract_block="\n   ".join(_wrapped(abstract)),
        topics=topics,
        matched=reasons,
        meta=meta,
        anchor=anchor,
        title_block=wrap(title, TEXT_WIDTH, "    ", "    ").lstrip(" "),
        meta_block=wrap(meta, TEXT_WIDTH, "   ") if meta else "",
        topics_block=wrap("Topics: " + ", ".join(topics), TEXT_WIDTH, "   ") if topics else "",
        matched_block=wrap(f"Matched: {reasons}", TEXT_WIDTH, "   ") if reasons else "",
    )


# What the kept cards may hold, in characters of their text: a card is ~3.4 KB in memory for
# ~1,000 characters, so ~14 MB. Counted in entries (16,384) the cache grew with the readers'
# own topics (bench/edition.py: 11.5 MB at 5,000 readers, 37 MB at 30,000).
CARD_CACHE_CHARS = 4_000_000


def _card_chars(card: Card) -> int:
    return sum(map(len, _card_texts(card)))


def _card_texts(card: Card) -> tuple[str, ...]:
    return (
        card.title,
        card.title_html,
        card.abstract_html,
        card.abstract_block,
        card.meta,
        card.title_block,
        card.meta_block,
        card.topics_block,
        card.matched_block,
        card.matched,
    )


# bench/caches.py: 1,143 msg/s with this cache, 533 without (+114% CPU/msg): a card per paper
# and reasons, not per reader. In a run, the same paper reaches many readers for the same reasons.
_card = SizedCache(_build_card, _card_chars, CARD_CACHE_CHARS)


def _entries(
    edition: Edition, base_url: str, feedback: Mapping[str, FeedbackLinks]
) -> list[tuple[Card, PaperNote]]:
    """Each personal paper's card, shared by every reader it reaches for the same reasons, and
    the reader's own note beside it. A card whose topics and reasons repeat an earlier card's
    leaves the "Matched" line out."""
    seen: set[tuple[tuple[str, ...], str]] = set()
    entries = []
    for m in edition.papers:
        card = _card(m.paper, m.topics, m.matched, base_url)
        key = (card.topics, card.matched)
        reasons = key not in seen
        seen.add(key)
        links = feedback.get(m.paper.id)
        if m.because or links:
            note = PaperNote(
                reasons=reasons,
                because="; ".join(normalise_whitespace(b) for b in m.because),
                more_url=links.more if links else None,
                less_url=links.less if links else None,
            )
        else:
            note = _PLAIN_NOTES[reasons]
        entries.append((card, note))
    return entries


def _top_title(title: str | None) -> str:
    if title is None:
        return "nothing new on your topics"
    return shorten(normalise_whitespace(title), SUBJECT_TITLE_LIMIT)


def subject(edition: Edition, settings: Settings) -> str:
    title = edition.papers[0].paper.title if edition.papers else None
    more = len(edition.papers) - 1
    return _subject(
        settings.digest.subject, settings.digest.list_name, edition.date, title, max(more, 0)
    )


def _subject(template: str, list_name: str, day: date, title: str | None, more: int) -> str:
    top = _top_title(title)
    if template.startswith("{top_title}"):
        top = top[:1].upper() + top[1:]  # leading the subject, it starts a sentence
    fields = (
        ("list_name", list_name),
        ("date", format_date(day)),
        ("more", f" + {more} more" if more else ""),
    )
    try:
        text = subject_line(template, fields, top)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"[digest] subject: cannot fill {template!r} ({exc}); "
            "expected only {list_name}, {date}, {top_title} and {more}"
        ) from None
    # Control characters have no place in a header (and some parse as whitespace).
    return normalise_whitespace(_CONTROL.sub("", text))


def _footer_reason(list_name: str, topics: tuple[str, ...]) -> tuple[str, str]:
    """Why the reader gets the mail, as a line and wrapped; the same for all who share topics."""
    reason = f"You get this digest from {list_name} because you follow " + (
        f"these topics: {', '.join(topics)}." if topics else "no topics yet."
    )
    return reason, wrap(reason)


def build_context(edition: Edition, links: DigestLinks, settings: Settings) -> dict[str, Any]:
    """Everything both templates may use; templates are rendered with StrictUndefined."""
    profile = edition.subscriber.profile
    base_url = settings.site.base_url
    entries = _entries(edition, base_url, links.feedback)
    cards = [card for card, _ in entries]
    trending = [make_card(p, base_url=base_url) for p in edition.trending]
    reader_name = normalise_whitespace(profile.name) if profile.name else ""
    topics = [normalise_whitespace(t.name) for t in profile.topics]
    reason, reason_block = _footer_reason(settings.digest.list_name, tuple(topics))
    toc = len(cards) >= TOC_FROM
    opening = intro(edition, reader_name)
    return {
        "lang": settings.site.lang,
        "list_name": settings.digest.list_name,
        "edition_date": format_long_date(edition.date),
        "edition_iso": edition.date.isoformat(),
        "subject": subject(edition, settings),
        "preheader": preheader(edition),
        "preheader_padding": PREHEADER_PADDING,
        "reader_name": reader_name,
        "intro": opening,
        "intro_block": wrap(opening),
        "papers": cards,
        "entries": entries,  # (card, note) per paper: what the papers loop walks
        "notes": [note for _, note in entries],
        "paper_count": len(cards),
        "toc": toc,
        "more_count": 0,  # papers left out of the HTML part to keep it unclipped (Renderer)
        "trending": trending,
        "topics": topics,
        "reason": reason,
        "reason_block": reason_block,
        "is_empty": not cards,
        "browser_url": links.browser or "",
        "base_url": settings.site.base_url,
        "manage_url": links.manage,
        "unsubscribe_url": links.unsubscribe,
        "postal_address": normalise_whitespace(settings.sender.postal_address),
    }
