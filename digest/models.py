"""The plain data that flows between stages: sources → store → match → render → deliver.

These are frozen dataclasses with no I/O so that parse, match and render stay pure functions of
their inputs and can be tested (and benchmarked) without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Field = Literal["title", "abstract", "authors", "organization"]


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a source described it (or as the store holds it, with `first_seen`)."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    author_count: int | None = None
    organization: str | None = None
    published: date | None = None
    upvotes: int | None = None
    comments: int | None = None
    submitter: str | None = None
    arxiv_id: str | None = None
    url: str | None = None
    first_seen: datetime | None = None

    @property
    def arxiv_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    query: str  # "" for a topic given only by example
    like: tuple[str, ...] = ()  # ids or titles of papers like those the topic wants


@dataclass(frozen=True, slots=True)
class Profile:
    """What a subscriber asked for. `cadence` is `daily` or `weekly:<mon..sun>`."""

    email: str
    name: str | None = None
    timezone: str = "UTC"
    cadence: str = "daily"
    send_time: str = "08:00"
    max_papers: int = 10
    min_upvotes: int = 0
    trending: bool = True
    topics: tuple[Topic, ...] = ()


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A stored subscriber: the profile plus identity and state."""

    id: int
    public_id: str  # opaque; goes into signed tokens instead of the address
    status: Literal["pending", "active", "unsubscribed", "bounced"]
    profile: Profile

    @property
    def email(self) -> str:
        return self.profile.email


@dataclass(frozen=True, slots=True)
class MatchReason:
    """`term` as the reader wrote it, found in `field`; drives "matched: …" and highlighting."""

    term: str
    field: Field


@dataclass(frozen=True, slots=True)
class Match:
    paper: Paper
    score: float
    topics: tuple[str, ...] = ()  # names of the subscriber's topics that matched
    matched: tuple[MatchReason, ...] = ()
    # Why the reader's ratings moved this paper ('like "X", which you rated up'); empty when
    # the topics alone placed it.
    because: tuple[str, ...] = ()


RatingValue = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Rating:
    """One reader's "more like this" (up) or "less like this" (down) on a stored paper."""

    paper: Paper
    rating: RatingValue
    rated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Edition:
    """One subscriber's digest for one edition date: exactly what preview shows and send sends."""

    subscriber: Subscriber
    date: date
    papers: tuple[Match, ...]
    trending: tuple[Paper, ...] = ()
    # Papers first seen up to this instant were considered; the next edition starts after it.
    candidates_until: datetime | None = None
    # Why an edition is empty (told to the reader): how many new papers there were to choose
    # from (None: not known), and how many matched but fell below the reader's min_upvotes.
    candidate_count: int | None = None
    below_min_upvotes: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.papers and not self.trending
