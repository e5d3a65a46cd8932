"""Feedback: a reader rates a paper "more like this" (up) or "less like this" (down), or clears it.

The same use case serves `digest feedback` and the links in every digest: the links carry a
signed FEEDBACK token naming reader, paper and rating, so a click needs no login. Ratings are
what the learned ranking (`digest.match.learn`) reads when it builds the reader's next digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from digest.app.edition import learned_matches
from digest.app.tokens import Signer, verify_feedback
from digest.errors import InvalidValue, QueryError, TokenError
from digest.match import Matcher, PaperIndex
from digest.match.aliases import AliasTable
from digest.models import Match, Paper, Rating, RatingValue, Subscriber
from digest.store import Store
from digest.store.papers import list_papers
from digest.store.ratings import find_examples, find_paper, ratings_for, set_rating
from digest.store.subscribers import get_by_email, get_by_public_id

Choice = Literal["up", "down", "clear"]
CHOICES: tuple[Choice, ...] = ("up", "down", "clear")


@dataclass(frozen=True, slots=True)
class Rated:
    """What was recorded: the reader, the paper, and the rating now held (None once cleared)."""

    subscriber: Subscriber
    paper: Paper
    rating: RatingValue | None


def _value(choice: str) -> RatingValue | None:
    if choice == "up":
        return "up"
    if choice == "down":
        return "down"
    if choice == "clear":
        return None
    raise InvalidValue(f"rating: expected up, down or clear, got {choice!r}")


def rate(store: Store, email: str, paper_id: str, choice: str, *, now: datetime) -> Rated:
    """Record one rating from the CLI. Unknown address or paper: InvalidValue naming it."""
    value = _value(choice)
    with store.session() as session:
        subscriber = get_by_email(session, email)
        if subscriber is None:
            raise InvalidValue(f"no subscriber with address {email!r}")
        paper = find_paper(session, paper_id)
        if paper is None:
            raise InvalidValue(f"no stored paper with id {paper_id!r} (see `digest papers`)")
        set_rating(session, subscriber.id, paper.id, value, now)
        return Rated(subscriber, paper, value)


@dataclass(frozen=True, slots=True)
class FeedbackLink:
    """A verified feedback link: who, which paper, which rating it asks for."""

    subscriber: Subscriber
    paper: Paper
    rating: RatingValue


def open_link(store: Store, signer: Signer, token: str, rating: str | None) -> FeedbackLink:
    """Check a feedback link, its token and its `rating` ("up" or "down"; changes nothing: mail
    scanners open links). TokenError when it is forged or expired, names no valid rating, or
    its reader or paper is gone."""
    public_id, paper_id, rating = verify_feedback(signer, token, rating)
    with store.session() as session:
        subscriber = get_by_public_id(session, public_id)
        paper = find_paper(session, paper_id)
        if subscriber is None or paper is None:
            raise TokenError("this link is not valid")
        value: RatingValue = "up" if rating == "up" else "down"
        return FeedbackLink(subscriber, paper, value)


def rate_by_link(
    store: Store, signer: Signer, token: str, rating: str | None, *, now: datetime
) -> FeedbackLink:
    """Record what a feedback link asks for (on the page's POST). Idempotent."""
    link = open_link(store, signer, token, rating)
    with store.session() as session:
        set_rating(session, link.subscriber.id, link.paper.id, link.rating, now)
    return link


def reader_ratings(store: Store, public_id: str) -> tuple[Rating, ...]:
    """The reader's ratings, newest first (the preferences page lists them with undo)."""
    with store.session() as session:
        subscriber = get_by_public_id(session, public_id)
        return ratings_for(session, subscriber.id) if subscriber is not None else ()


def undo_rating(store: Store, public_id: str, paper_id: str, *, now: datetime) -> bool:
    """Clear one of the reader's ratings (the preferences page's undo); False if unknown."""
    with store.session() as session:
        subscriber = get_by_public_id(session, public_id)
        if subscriber is None:
            return False
        set_rating(session, subscriber.id, paper_id, None, now)
        return True


def subscriber_matches(
    store: Store,
    email: str,
    *,
    now: datetime,
    limit: int | None = None,
    aliases: AliasTable | None = None,
) -> tuple[Subscriber, list[Match]]:
    """What the reader's digest would carry from every stored paper (`digest match
    --subscriber`): their topics, their ratings, their min_upvotes; no edition window, no cap
    but `limit`. Papers they rated down are left out, as their digests leave them out.
    `aliases` is the table editions match with (`[match] aliases_file`), so both agree."""
    with store.session() as session:
        subscriber = get_by_email(session, email)
        if subscriber is None:
            raise InvalidValue(f"no subscriber with address {email!r}")
        ratings = ratings_for(session, subscriber.id)
        papers = list_papers(session)
        found = find_examples(session, [e for t in subscriber.profile.topics for e in t.like])
    examples = [(t.name, found[e]) for t in subscriber.profile.topics for e in t.like if e in found]
    profile = subscriber.profile
    matcher = Matcher(PaperIndex.build(papers, now=now), aliases=aliases)
    try:
        if ratings or examples:
            matches = learned_matches(matcher, profile, ratings, examples=examples)
        else:
            matches = matcher.match(profile.topics, min_upvotes=profile.min_upvotes)
    except QueryError as exc:
        raise exc.within(f"subscriber {subscriber.email}: topics") from None
    return subscriber, matches[:limit] if limit is not None else matches
