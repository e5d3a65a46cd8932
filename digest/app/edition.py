"""Editions: which papers one reader's digest for one date carries.

The rules (DESIGN.md "Editions"), shared by `digest preview`, `digest send` and the web preview so
that a preview is exactly what would be sent:

- candidates are the papers first seen after the reader's previous edition (the
  `candidates_until` of their latest earlier delivery that was sent or skipped), up to now; for a
  first edition, those first seen within one cadence period (a day, or a week) before now;
- a paper ever sent to the reader (ledger `delivery_papers` of sent deliveries) never comes back;
- candidates are matched against the reader's topics, filtered by their `min_upvotes`, ranked and
  capped at their `max_papers`;
- "Trending today" (when the reader wants it) holds the `[digest] trending_count` most upvoted
  candidates not already in the personal list.

One `PaperIndex` is built per run and shared by every reader: the Matcher then evaluates each
distinct query once, whoever wrote it. The index covers `DEFAULT_LOOKBACK`; a reader whose previous
edition is older widens it once (up to `MAX_LOOKBACK`, so a reader back after a year away gets a
month of papers, not a year's).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.match import Matcher, PaperIndex
from digest.models import Edition, Match, Paper, Profile, Subscriber
from digest.profiles.cadence import Schedule, parse_cadence
from digest.settings import Settings
from digest.store.papers import list_papers
from digest.store.schema import DeliveryPaperRow, DeliveryRow

DEFAULT_LOOKBACK = timedelta(days=8)
MAX_LOOKBACK = timedelta(days=31)
CLOSED_STATUSES = ("sent", "skipped")


def cadence_window(profile: Profile) -> timedelta:
    try:
        return parse_cadence(profile.cadence).period
    except ValueError:
        return timedelta(days=1)


def trending_papers(
    candidates: Sequence[Paper], personal: Sequence[Match], count: int
) -> tuple[Paper, ...]:
    """The `count` most upvoted candidates outside the personal list (ties: paper id)."""
    if count <= 0:
        return ()
    taken = {m.paper.id for m in personal}
    ranked = sorted(
        (p for p in candidates if p.id not in taken and (p.upvotes or 0) > 0),
        key=lambda p: (-(p.upvotes or 0), p.id),
    )
    return tuple(ranked[:count])


def select_edition(
    subscriber: Subscriber,
    edition_date: date,
    matcher: Matcher,
    candidates: Sequence[Paper],
    settings: Settings,
    *,
    now: datetime,
) -> Edition:
    """Match, filter, cap and add trending, over `candidates` (a subset of the matcher's index)."""
    profile = subscriber.profile
    allowed = {p.id for p in candidates}
    personal: list[Match] = []
    if profile.max_papers > 0:
        # Indexed papers outside the candidates (seen before the window, or already sent) can
        # take places at the top of the ranking: asking for the cap plus their number still
        # fills the cap from candidates, without ranking and explaining every match.
        limit = profile.max_papers + max(0, matcher.index.size - len(allowed))
        for found in matcher.match(profile.topics, min_upvotes=profile.min_upvotes, limit=limit):
            if found.paper.id in allowed:
                personal.append(found)
                if len(personal) >= profile.max_papers:
                    break
    count = settings.digest.trending_count if profile.trending else 0
    return Edition(
        subscriber=subscriber,
        date=edition_date,
        papers=tuple(personal),
        trending=trending_papers(candidates, personal, count),
        candidates_until=now,
    )


class EditionBuilder:
    """Builds editions for many readers in one run, against one shared index and the ledger."""

    def __init__(self, session: Session, settings: Settings, *, now: datetime) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self._since = now - DEFAULT_LOOKBACK
        self._papers: list[Paper] = list_papers(session, seen_after=self._since, seen_until=now)
        self._matcher = Matcher(PaperIndex.build(self._papers, now=now))

    def _widen(self, since: datetime) -> None:
        self._since = since
        self._papers = list_papers(self.session, seen_after=since, seen_until=self.now)
        self._matcher = Matcher(PaperIndex.build(self._papers, now=self.now))

    def previous_until(self, subscriber_id: int, edition_date: date) -> datetime | None:
        """`candidates_until` of the reader's latest earlier edition that was sent or skipped."""
        return self.session.scalar(
            select(DeliveryRow.candidates_until)
            .where(
                DeliveryRow.subscriber_id == subscriber_id,
                DeliveryRow.status.in_(CLOSED_STATUSES),
                DeliveryRow.edition < edition_date,
                DeliveryRow.candidates_until.is_not(None),
            )
            .order_by(DeliveryRow.edition.desc())
            .limit(1)
        )

    def papers_sent(self, subscriber_id: int) -> set[str]:
        return set(
            self.session.scalars(
                select(DeliveryPaperRow.paper_id)
                .join(DeliveryRow, DeliveryRow.id == DeliveryPaperRow.delivery_id)
                .where(DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.status == "sent")
            )
        )

    def window_start(self, subscriber: Subscriber, edition_date: date) -> datetime:
        previous = self.previous_until(subscriber.id, edition_date)
        if previous is None:
            return self.now - cadence_window(subscriber.profile)
        return max(previous, self.now - MAX_LOOKBACK)

    def build(self, subscriber: Subscriber, edition_date: date) -> Edition:
        since = self.window_start(subscriber, edition_date)
        if since < self._since:
            self._widen(since)
        sent = self.papers_sent(subscriber.id)
        candidates = [
            p
            for p in self._papers
            if p.id not in sent and (p.first_seen is None or since < p.first_seen <= self.now)
        ]
        return select_edition(
            subscriber, edition_date, self._matcher, candidates, self.settings, now=self.now
        )


def preview_for_profile(
    profile: Profile,
    papers: Sequence[Paper],
    settings: Settings,
    *,
    now: datetime,
    matcher: Matcher | None = None,
) -> Edition:
    """The edition these settings would produce now from `papers`, as a first edition (no
    ledger): used by the web preview while a reader edits their topics. A caller previewing
    many times over the same papers passes a `matcher` built over them once."""
    since = now - cadence_window(profile)
    candidates = [p for p in papers if p.first_seen is None or since < p.first_seen <= now]
    try:
        edition_date = Schedule.parse(
            profile.cadence, profile.send_time, profile.timezone
        ).edition_for_hand_send(now)
    except ValueError:
        edition_date = now.date()
    subscriber = Subscriber(id=0, public_id="preview", status="active", profile=profile)
    if matcher is None:
        matcher = Matcher(PaperIndex.build(candidates, now=now))
    return select_edition(subscriber, edition_date, matcher, candidates, settings, now=now)
