"""Editions: which papers one reader's digest for one date carries.

The rules (DESIGN.md "Editions"), shared by `digest preview`, `digest send` and the web preview so
that a preview is exactly what would be sent:

- candidates are the papers first seen after the reader's previous edition (the
  `candidates_until` of their latest earlier delivery that was sent or skipped), up to now; for a
  first edition, those first seen within one cadence period (a day, or a week) before now;
- a paper ever sent to the reader never comes back;
- candidates are matched against the reader's topics, filtered by their `min_upvotes`, ranked and
  capped at their `max_papers`;
- "Trending today" (when the reader wants it) holds the `[digest] trending_count` most upvoted
  candidates not already in the personal list.

One `PaperIndex` is built per run and shared by every reader: the Matcher then evaluates each
distinct query once, whoever wrote it. The index covers `DEFAULT_LOOKBACK`; a reader whose previous
edition is older widens it once (up to `MAX_LOOKBACK`, so a reader back after a year away gets a
month of papers, not a year's). The ledger is read once per page of readers, not per reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from digest.errors import QueryError
from digest.match import Matcher, PaperIndex, compile_query
from digest.match.aliases import load_aliases
from digest.match.learn import TextVectors, rerank
from digest.models import Edition, Match, Paper, Profile, Rating, Subscriber
from digest.profiles.cadence import parse_cadence
from digest.settings import Settings
from digest.store import Store
from digest.store.editions import History, histories
from digest.store.papers import list_papers
from digest.store.ratings import find_examples, ratings_of

DEFAULT_LOOKBACK = timedelta(days=8)
MAX_LOOKBACK = timedelta(days=31)
# Distinct window starts kept per run: readers share a few (one per earlier run that served
# them); the bound only matters for a run over readers served at thousands of instants.
WINDOWS_KEPT = 512
# A Matcher keeps every query it has evaluated. The shared ones pay for themselves, but topics
# that are a reader's own (~10% of them) would grow it with the readers: ~4 KB each, 40 MB held
# after 10,000 readers (bench/edition.py, 30,000 readers: 226 MB RSS renewing every 10,000, 218
# every 2,500, the same CPU). A fresh one over the same index every this many readers keeps
# memory flat; shared queries are evaluated again once each.
MATCHER_READERS = 2_500


@dataclass(frozen=True, slots=True)
class Candidates:
    """The papers an edition may carry, with what every reader of this window shares: their
    ids, and those with upvotes ranked for "Trending today". Readers whose window starts at the
    same instant (everyone on a first edition, everyone served by the same earlier run) share
    one, so a page of readers costs one pass over the papers, not one per reader."""

    papers: tuple[Paper, ...]
    ids: frozenset[str]
    by_upvotes: tuple[Paper, ...]

    @classmethod
    def of(cls, papers: Sequence[Paper]) -> Candidates:
        ranked = sorted(
            (p for p in papers if (p.upvotes or 0) > 0), key=lambda p: (-(p.upvotes or 0), p.id)
        )
        return cls(tuple(papers), frozenset(p.id for p in papers), tuple(ranked))


def trending_papers(
    candidates: Candidates, personal: Sequence[Match], count: int, sent: AbstractSet[str]
) -> tuple[Paper, ...]:
    """The `count` most upvoted candidates outside the personal list (ties: paper id)."""
    if count <= 0:
        return ()
    taken = {m.paper.id for m in personal}
    found: list[Paper] = []
    for paper in candidates.by_upvotes:
        if paper.id not in taken and paper.id not in sent:
            found.append(paper)
            if len(found) == count:
                break
    return tuple(found)


def select_edition(
    subscriber: Subscriber,
    edition_date: date,
    matcher: Matcher,
    candidates: Candidates,
    settings: Settings,
    *,
    now: datetime,
    sent: AbstractSet[str] = frozenset(),
    ratings: Sequence[Rating] = (),
    vectors: TextVectors | None = None,
    examples: Sequence[tuple[str, Paper]] = (),
) -> Edition:
    """Match, filter, cap and add trending, over `candidates` (a subset of the matcher's index)
    less the papers already `sent` to this reader. A reader's `ratings` re-rank, widen and
    narrow what the topics found (`digest.match.learn`, over `vectors` of the matcher's index);
    without ratings the topics alone decide.

    A topic whose stored query no longer parses raises QueryError naming the topic."""
    profile = subscriber.profile
    allowed = candidates.ids
    personal: list[Match] = []
    if (ratings or examples) and profile.max_papers > 0:
        outside = max(0, matcher.index.size - len(allowed)) + len(sent)
        try:
            found = learned_matches(
                matcher,
                profile,
                ratings,
                vectors,
                limit=profile.max_papers + outside,
                examples=examples,
            )
        except QueryError as exc:
            raise exc.within(_failing_topic(profile)) from None
        personal = [m for m in found if m.paper.id in allowed and m.paper.id not in sent]
        del personal[profile.max_papers :]
    elif profile.max_papers > 0:
        # Indexed papers outside the candidates (seen before the window, or already sent) can
        # take places at the top of the ranking: asking for the cap plus their number still
        # fills the cap from candidates, without ranking and explaining every match.
        outside = max(0, matcher.index.size - len(allowed)) + len(sent)
        limit = profile.max_papers + outside
        try:
            found = matcher.match(profile.topics, min_upvotes=profile.min_upvotes, limit=limit)
        except QueryError as exc:
            raise exc.within(_failing_topic(profile)) from None
        for match in found:
            if match.paper.id in allowed and match.paper.id not in sent:
                personal.append(match)
                if len(personal) >= profile.max_papers:
                    break
    count = settings.digest.trending_count if profile.trending else 0
    fresh = len(allowed.difference(sent)) if sent else len(allowed)
    below = 0
    if not personal and fresh and profile.min_upvotes > 0 and profile.max_papers > 0:
        below = _below_min_upvotes(matcher, profile, allowed, sent)
    return Edition(
        subscriber=subscriber,
        date=edition_date,
        papers=tuple(personal),
        trending=trending_papers(candidates, personal, count, sent),
        candidates_until=now,
        candidate_count=fresh,
        below_min_upvotes=below,
    )


def _below_min_upvotes(
    matcher: Matcher, profile: Profile, allowed: AbstractSet[str], sent: AbstractSet[str]
) -> int:
    """How many new papers matched but had fewer upvotes than the reader asks for: asked only
    for an empty edition, so that it can say why it is empty."""
    found = matcher.match(profile.topics, min_upvotes=0, limit=None)
    return sum(
        1
        for m in found
        if m.paper.id in allowed
        and m.paper.id not in sent
        and (m.paper.upvotes or 0) < profile.min_upvotes
    )


def learned_matches(
    matcher: Matcher,
    profile: Profile,
    ratings: Sequence[Rating],
    vectors: TextVectors | None = None,
    *,
    limit: int | None = None,
    examples: Sequence[tuple[str, Paper]] = (),
) -> list[Match]:
    """The papers of the matcher's index the reader's topics and ratings let in, best first
    (the first `limit`). QueryError (unnamed) when a topic does not parse.

    With a `limit`, the topics are asked for a few more papers than that (ratings may take some
    out), and for all of them only when that was not enough. A topic match further down that a
    liked paper lifts is then weighed like a paper the topics missed (it needs `widen`)."""
    index = matcher.index
    vectors = vectors or TextVectors(index.papers)
    position = vectors.position  # the index's paper order: vectors are built over it
    wanted = None
    if limit is not None:
        wanted = limit + sum(r.rating == "down" for r in ratings) + 2
    while True:
        found = matcher.match(profile.topics, min_upvotes=profile.min_upvotes, limit=wanted)
        moved = rerank(
            found,
            ratings,
            vectors,
            score_of=lambda pid: matcher.topic_score(profile.topics, position[pid]),
            examples=examples,
            upvotes=index.upvotes,
            min_upvotes=profile.min_upvotes,
            limit=limit,
        )
        if wanted is None or limit is None or len(moved) >= limit or len(found) < wanted:
            return moved
        wanted = None


def _failing_topic(profile: Profile) -> str:
    """Which stored topic's query broke (the matcher only says how): asked on the error path."""
    for topic in profile.topics:
        try:
            compile_query(topic.query)
        except QueryError:
            return f'topic "{topic.name}": query'
    return "topics"


def first_window(profile: Profile) -> timedelta:
    """How far back a first edition looks: one cadence period. The cadence was validated when
    the edition date was worked out, which every caller does first."""
    return parse_cadence(profile.cadence).period


class EditionBuilder:
    """Builds editions for many readers in one run, against one shared index and the ledger."""

    def __init__(self, store: Store, settings: Settings, *, now: datetime) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self._since = now - DEFAULT_LOOKBACK
        self._ratings: dict[int, tuple[Rating, ...]] = {}
        self._load(self._since)

    def _load(self, since: datetime) -> None:
        self._since = since
        with self.store.session() as session:
            self._papers: list[Paper] = list_papers(session, seen_after=since, seen_until=self.now)
        aliases = load_aliases(self.settings.match.aliases_file)
        self._matcher = Matcher(PaperIndex.build(self._papers, now=self.now), aliases=aliases)
        self._matched = 0  # readers built with this Matcher
        self._vectors: TextVectors | None = None  # built for the first reader with ratings
        # rated papers, read once per run whichever page of readers rated them
        self._rated: dict[str, Paper] = {p.id: p for p in self._papers}
        self._examples: dict[str, Paper | None] = {}  # a topic's `like` entry: its paper
        self._windows: dict[datetime, Candidates] = {}

    def window_start(self, subscriber: Subscriber, history: History) -> datetime:
        if history.previous_until is None:
            return self.now - first_window(subscriber.profile)
        return max(history.previous_until, self.now - MAX_LOOKBACK)

    def histories(self, wanted: Sequence[tuple[Subscriber, date]]) -> dict[int, History]:
        """The ledger's view of a page of readers, in a couple of statements; the page's
        ratings are read with it, in one more, for `build`."""
        with self.store.session() as session:
            self._ratings = ratings_of(
                session, [s.id for s, _day in wanted], self._rated, dated=False
            )
            return histories(
                session,
                {s.id: day for s, day in wanted},
                papers_seen_after=self.now - MAX_LOOKBACK,
            )

    def build(self, subscriber: Subscriber, edition_date: date, history: History) -> Edition:
        since = self.window_start(subscriber, history)
        if since < self._since:
            self._load(since)
        self._matched += 1
        if self._matched > MATCHER_READERS:
            self._matcher = Matcher(self._matcher.index, aliases=self._matcher.aliases)
            self._matched = 1
        ratings = self._ratings.get(subscriber.id, ())
        examples = self.examples(subscriber.profile)
        if (ratings or examples) and self._vectors is None:
            self._vectors = TextVectors(self._matcher.index.papers)
        return select_edition(
            subscriber,
            edition_date,
            self._matcher,
            self._window(since),
            self.settings,
            now=self.now,
            sent=history.sent,
            ratings=ratings,
            vectors=self._vectors,
            examples=examples,
        )

    def examples(self, profile: Profile) -> list[tuple[str, Paper]]:
        """The papers the reader's topics give as examples (`like = [...]`), with their topic;
        entries naming no stored paper yet are left out (they count once it is ingested).
        Each entry is looked up once per run."""
        wanted = [entry for topic in profile.topics for entry in topic.like]
        if not wanted:
            return []
        missing = [e for e in wanted if e not in self._examples]
        if missing:
            with self.store.session() as session:
                found = find_examples(session, missing)
            for entry in missing:
                self._examples[entry] = found.get(entry)
        out: list[tuple[str, Paper]] = []
        for topic in profile.topics:
            for entry in topic.like:
                paper = self._examples[entry]
                if paper is not None:
                    out.append((topic.name, paper))
        return out

    def _window(self, since: datetime) -> Candidates:
        found = self._windows.get(since)
        if found is None:
            if len(self._windows) >= WINDOWS_KEPT:
                self._windows.clear()
            found = self._windows[since] = Candidates.of(
                [
                    p
                    for p in self._papers
                    if p.first_seen is None or since < p.first_seen <= self.now
                ]
            )
        return found


@dataclass(frozen=True, slots=True)
class Selection:
    """How an edition came to hold what it holds, counted for `digest why`: the candidates of
    its window, those matching the reader's topics, and what the edition rules then dropped."""

    edition: Edition
    candidates: int
    matched: int  # candidates matching the topics, whatever their upvotes
    below_upvotes: int  # of those, dropped by the reader's min_upvotes
    already_sent: int  # of those, carried by an earlier edition


def explain(
    builder: EditionBuilder, subscriber: Subscriber, day: date, history: History
) -> Selection:
    """The edition `builder` makes for this reader, with the counts behind it: the same window,
    matcher and filters as `build`, asked once more without the upvote filter and the cap."""
    edition = builder.build(subscriber, day, history)
    window = builder._window(builder.window_start(subscriber, history))
    profile = subscriber.profile
    try:
        every = builder._matcher.match(profile.topics)
        kept = {
            m.paper.id
            for m in builder._matcher.match(profile.topics, min_upvotes=profile.min_upvotes)
        }
    except QueryError as exc:
        raise exc.within(_failing_topic(profile)) from None
    matched = [m.paper.id for m in every if m.paper.id in window.ids]
    sent = [i for i in matched if i in history.sent]
    below = [i for i in matched if i not in history.sent and i not in kept]
    return Selection(edition, len(window.papers), len(matched), len(below), len(sent))


def preview_for_profile(
    profile: Profile,
    papers: Sequence[Paper],
    settings: Settings,
    *,
    edition_date: date,
    now: datetime,
    matcher: Matcher | None = None,
) -> Edition:
    """The edition these settings would produce now from `papers`, as a first edition (no
    ledger): used by the web preview while a reader edits their topics. A caller previewing
    many times over the same papers passes a `matcher` built over them once."""
    since = now - first_window(profile)
    candidates = [p for p in papers if p.first_seen is None or since < p.first_seen <= now]
    subscriber = Subscriber(id=0, public_id="preview", status="active", profile=profile)
    if matcher is None:
        aliases = load_aliases(settings.match.aliases_file)
        matcher = Matcher(PaperIndex.build(candidates, now=now), aliases=aliases)
    return select_edition(
        subscriber, edition_date, matcher, Candidates.of(candidates), settings, now=now
    )
