"""Learning from ratings: what a reader rated moves their next digest, and says why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from digest.app.edition import EditionBuilder
from digest.match import Matcher, PaperIndex
from digest.match.learn import TextVectors, Tuning, rerank
from digest.models import Match, Paper, Profile, Rating, Topic
from digest.settings import Settings
from digest.store import Store
from digest.store.papers import upsert_papers
from digest.store.ratings import set_rating
from digest.store.schema import SubscriberRow
from digest.store.subscribers import create, to_subscriber

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
TOPIC = (Topic("Code generation", "code generation"),)

# What a "code generation" query finds and what a reader means by it.
CODE_LLM = Paper(
    "c1",
    "Repository-level code generation with retrieval",
    "We train a code language model on repositories; program synthesis, unit tests, "
    "compilers and software engineering benchmarks such as HumanEval.",
)
PROGRAM_SYNTHESIS = Paper(
    "c2",
    "Writing functions for software repositories",
    "A language model writes functions for repositories, evaluated with unit tests on "
    "HumanEval and software engineering benchmarks; compilers check every function.",
)
IN_PASSING = Paper(
    "r1",
    "Chain-of-thought generation for arithmetic word problems",
    "Reasoning traces for arithmetic word problems and olympiad mathematics, checked by "
    "running code. Generation of chain-of-thought improves arithmetic accuracy.",
)
IN_PASSING_TOO = Paper(
    "r2",
    "Better chain-of-thought generation for olympiad mathematics",
    "Arithmetic word problems and olympiad mathematics reasoning traces, verified by running "
    "code. Chain-of-thought generation with verification.",
)
UNRELATED = Paper("u1", "Image segmentation of cells", "Microscopy images of cells, segmented.")
PAPERS = [CODE_LLM, PROGRAM_SYNTHESIS, IN_PASSING, IN_PASSING_TOO, UNRELATED]


def topic_matches() -> tuple[list[str], Matcher]:
    matcher = Matcher(PaperIndex.build(PAPERS, now=NOW))
    return [m.paper.id for m in matcher.match(TOPIC)], matcher


def test_without_ratings_the_topics_alone_decide() -> None:
    found, matcher = topic_matches()
    plain = matcher.match(TOPIC)
    assert rerank(plain, (), TextVectors(matcher.index.papers)) == plain
    assert set(found) == {"c1", "r1", "r2"}


def test_a_disliked_papers_look_alike_leaves_the_digest() -> None:
    _found, matcher = topic_matches()
    ratings = (Rating(IN_PASSING, "down"), Rating(CODE_LLM, "up"))
    moved = rerank(matcher.match(TOPIC), ratings, TextVectors(matcher.index.papers))
    ids = [m.paper.id for m in moved]
    assert "r2" not in ids  # like the paper rated down, though it has the query's words
    assert "r1" not in ids  # a paper rated down never comes back


def test_a_liked_paper_pulls_in_its_look_alike_and_says_so() -> None:
    _found, matcher = topic_matches()
    moved = rerank(matcher.match(TOPIC), (Rating(CODE_LLM, "up"),), TextVectors(PAPERS))
    pulled = next(m for m in moved if m.paper.id == "c2")  # it never says "code" at all
    assert pulled.topics == ()
    assert pulled.because == (
        'like "Repository-level code generation with retrieval", which you rated up',
    )
    assert "u1" not in [m.paper.id for m in moved]
    assert [m.score for m in moved] == sorted((m.score for m in moved), reverse=True)


def test_the_readers_cut_off_drops_only_what_is_like_a_paper_rated_down() -> None:
    # The reader's ratings separate by score: liked c1 at 0.9, disliked r1 at 0.5, so a match
    # scoring no more than r1 is below their cut-off. r2 is like r1 and leaves; u1 is like no
    # rated paper and keeps the place its topic gave it (narrowing by similarity alone off).
    vectors = TextVectors(PAPERS)
    scores = {"c1": 0.9, "r1": 0.5, "r2": 0.3, "u1": 0.3}
    matches = [Match(p, scores[p.id], ("Code generation",)) for p in PAPERS if p.id in scores]
    matches.sort(key=lambda m: -m.score)
    moved = rerank(
        matches,
        (Rating(CODE_LLM, "up"), Rating(IN_PASSING, "down")),
        vectors,
        score_of=lambda pid: scores.get(pid, 0.0),
        tuning=Tuning(narrow=1.0),
    )
    ids = [m.paper.id for m in moved]
    assert "r2" not in ids and "r1" not in ids
    assert ids[0] == "c1" and "u1" in ids


def test_with_three_liked_papers_the_cut_off_alone_decides() -> None:
    compilers = Paper("c3", "Compilers for code models", "Compiler passes written by a model.")
    papers = [*PAPERS, compilers]
    scores = {"c1": 0.9, "c2": 0.8, "c3": 0.85, "r1": 0.5, "u1": 0.3}
    matches = [Match(p, scores[p.id], ("Code generation",)) for p in papers if p.id in scores]
    matches.sort(key=lambda m: -m.score)
    liked = [Rating(p, "up") for p in (CODE_LLM, PROGRAM_SYNTHESIS, compilers)]
    moved = rerank(
        matches,
        (*liked, Rating(IN_PASSING, "down")),
        TextVectors(papers),
        score_of=lambda pid: scores.get(pid, 0.0),
        tuning=Tuning(narrow=1.0),
    )
    assert "u1" not in [m.paper.id for m in moved]  # below r1, the reader's cut-off
    assert {"c1", "c2", "c3"} <= {m.paper.id for m in moved}


@pytest.fixture
def settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings()  # type: ignore[no-any-return]


def reader(store: Store) -> int:
    with store.session() as session:
        upsert_papers(session, PAPERS, NOW - timedelta(hours=2))
        return create(
            session,
            Profile(email="ada@example.org", topics=TOPIC),
            status="active",
            origin="import",
            now=NOW - timedelta(days=30),
        ).id


def edition_ids(
    store: Store, settings: Settings, sid: int
) -> tuple[list[str], list[tuple[str, ...]]]:
    builder = EditionBuilder(store, settings, now=NOW)
    with store.session() as session:
        subscriber = to_subscriber(session.get_one(SubscriberRow, sid))
    day = date(2026, 11, 29)
    history = builder.histories([(subscriber, day)])[sid]
    edition = builder.build(subscriber, day, history)
    return [m.paper.id for m in edition.papers], [m.because for m in edition.papers]


def test_the_edition_build_applies_the_readers_ratings(store: Store, settings: Settings) -> None:
    sid = reader(store)
    before, _ = edition_ids(store, settings, sid)
    assert set(before) == {"c1", "r1", "r2"}
    with store.session() as session:
        set_rating(session, sid, "r1", "down", NOW)
        set_rating(session, sid, "c1", "up", NOW)
    after, because = edition_ids(store, settings, sid)
    assert "r1" not in after and "r2" not in after
    assert "c2" in after
    assert because[after.index("c2")][0].startswith('like "Repository-level code generation')
    with store.session() as session:  # cleared ratings: back to the topics alone
        set_rating(session, sid, "r1", None, NOW)
        set_rating(session, sid, "c1", None, NOW)
    assert edition_ids(store, settings, sid)[0] == before
