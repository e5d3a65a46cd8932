"""Relevance feedback and topics by example: what ratings and `like = [...]` do to a digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.app.feedback import subscriber_matches
from digest.match import Matcher, PaperIndex
from digest.match.learn import TextVectors, rerank
from digest.models import Paper, Profile, Rating, Topic
from digest.profiles.files import parse_text
from digest.store import Store
from digest.store.papers import upsert_papers
from digest.store.ratings import set_rating
from digest.store.subscribers import create
from tests.conftest import Cli

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
TOPIC = (Topic("Code generation", "code generation"),)

CODE = Paper(
    "c1",
    "Repository-level code generation with retrieval",
    "We train a code language model on repositories; program synthesis, unit tests, "
    "compilers and software engineering benchmarks such as HumanEval.",
)
SIMILAR = Paper(
    "c2",
    "Writing functions for software repositories",
    "A language model writes functions for repositories, evaluated with unit tests on "
    "HumanEval and software engineering benchmarks; compilers check every function.",
)
OFF = Paper(
    "r1",
    "Chain-of-thought generation for arithmetic word problems",
    "Reasoning traces for arithmetic word problems and olympiad mathematics, checked by "
    "running code. Generation of chain-of-thought improves arithmetic accuracy.",
)
OFF_TOO = Paper(
    "r2",
    "Better chain-of-thought generation for olympiad mathematics",
    "Arithmetic word problems and olympiad mathematics reasoning traces, verified by running "
    "code. Chain-of-thought generation with verification.",
)
CELLS = Paper("u1", "Image segmentation of cells", "Microscopy images of cells, segmented.")
PAPERS = [CODE, SIMILAR, OFF, OFF_TOO, CELLS]


def matcher() -> Matcher:
    return Matcher(PaperIndex.build(PAPERS, now=NOW))


def test_a_reader_without_ratings_gets_exactly_the_topic_matching() -> None:
    m = matcher()
    plain = m.match(TOPIC)
    assert rerank(plain, (), TextVectors(m.index.papers)) == plain
    assert rerank(plain, (), TextVectors(m.index.papers), limit=2) == plain[:2]


def test_a_disliked_paper_pushes_its_look_alikes_down_or_out() -> None:
    m = matcher()
    plain = {x.paper.id: x.score for x in m.match(TOPIC)}
    moved = rerank(m.match(TOPIC), (Rating(OFF, "down"),), TextVectors(m.index.papers))
    scores = {x.paper.id: x.score for x in moved}
    assert "r1" not in scores
    assert "c1" in scores  # less like the disliked paper: stays, moved less
    assert "r2" not in scores or plain["r2"] - scores["r2"] > plain["c1"] - scores["c1"]


def test_a_liked_paper_pulls_in_a_similar_paper_the_topics_missed() -> None:
    m = matcher()
    assert "c2" not in {x.paper.id for x in m.match(TOPIC)}
    moved = rerank(m.match(TOPIC), (Rating(CODE, "up"),), TextVectors(m.index.papers))
    pulled = next(x for x in moved if x.paper.id == "c2")
    assert pulled.because == (
        'like "Repository-level code generation with retrieval", which you rated up',
    )
    assert "u1" not in {x.paper.id for x in moved}


def reader(store: Store, profile: Profile) -> int:
    with store.session() as session:
        upsert_papers(session, PAPERS, NOW - timedelta(hours=2))
        return create(
            session, profile, status="active", origin="import", now=NOW - timedelta(days=3)
        ).id


def test_a_topic_by_example_matches_papers_like_its_examples(store: Store) -> None:
    topic = Topic("Like this", "", like=("Repository-level code generation with retrieval",))
    reader(store, Profile(email="ada@example.org", topics=(topic,)))
    _subscriber, found = subscriber_matches(store, "ada@example.org", now=NOW)
    by_id = {m.paper.id: m for m in found}
    assert "c2" in by_id and "u1" not in by_id
    assert by_id["c2"].because == ('like "Repository-level code generation with retrieval"',)
    assert by_id["c2"].topics == ("Like this",)


def test_ratings_change_what_match_subscriber_shows(store: Store) -> None:
    sid = reader(store, Profile(email="ada@example.org", topics=TOPIC))
    _s, before = subscriber_matches(store, "ada@example.org", now=NOW)
    plain = matcher().match(TOPIC)  # no ratings: the topics alone, in their order and scores
    assert [(m.paper.id, m.score, m.because) for m in before] == [
        (m.paper.id, m.score, m.because) for m in plain
    ]
    with store.session() as session:
        set_rating(session, sid, "c1", "up", NOW)
        set_rating(session, sid, "r1", "down", NOW)
    _s, after = subscriber_matches(store, "ada@example.org", now=NOW)
    ids = [m.paper.id for m in after]
    assert "c2" in ids and "r1" not in ids


def profile_error(text: str) -> str:
    (result,) = parse_text(Path("ada.toml"), text)
    assert result.error is not None
    return str(result.error)


def test_like_entries_must_be_paper_ids_or_titles() -> None:
    head = 'email = "ada@example.org"\n[[topics]]\nname = "Mine"\n'
    message = profile_error(head + "like = 2501.12345\n")
    assert "ada.toml:4" in message and 'topic "Mine": like' in message and "2501.12345" in message
    assert "''" in profile_error(head + 'like = ["2501.12345", ""]\n')
    assert 'missing key "query" (or "like")' in profile_error(head)


def test_a_topic_may_give_examples_instead_of_words() -> None:
    text = (
        'email = "ada@example.org"\n[[topics]]\nname = "Mine"\nlike = ["2501.12345", "A title"]\n'
    )
    (result,) = parse_text(Path("ada.toml"), text)
    assert result.profile is not None
    assert result.profile.topics == (Topic("Mine", "", like=("2501.12345", "A title")),)


def test_examples_survive_import_list_and_export(tmp_path: Path, digest: Cli) -> None:
    profile = tmp_path / "ada.toml"
    profile.write_text(
        'email = "ada@example.org"\n[[topics]]\nname = "Mine"\nlike = ["2501.12345"]\n'
        '[[topics]]\nname = "Both"\nquery = "code generation"\nlike = ["A title"]\n',
        encoding="utf-8",
    )
    assert digest("subscribers", "import", str(profile))[0] == 0
    _code, listed, _err = digest("subscribers", "list", "--json")
    topics = json.loads(listed)[0]["topics"]
    assert topics == [
        {"name": "Mine", "query": "", "like": ["2501.12345"]},
        {"name": "Both", "query": "code generation", "like": ["A title"]},
    ]
    again = tmp_path / "again.toml"
    again.write_text(digest("subscribers", "export")[1], encoding="utf-8")
    assert digest("subscribers", "import", str(again))[0] == 0
    assert digest("subscribers", "list", "--json")[1] == listed


def test_the_preferences_form_keeps_and_edits_a_topics_examples() -> None:
    from digest.web.forms import ProfileForm, read_profile_form

    topic = Topic("Mine", "", like=("2501.12345", "A title"))
    shown = ProfileForm.from_profile(Profile(email="ada@example.org", topics=(topic,)), ())
    assert [(t.name, t.like) for t in shown.topics] == [("Mine", "2501.12345\nA title")]
    form = {
        "topic_name": ["Mine", "Words"],
        "topic_query": ["", "code generation"],
        "topic_like": ["2501.12345\r\n\r\nAnother title\n", ""],
    }
    read = read_profile_form(form, (), email="ada@example.org", require_topic=True)
    assert read.profile is not None
    assert read.profile.topics == (
        Topic("Mine", "", like=("2501.12345", "Another title")),
        Topic("Words", "code generation"),
    )
    unnamed = {"topic_name": [""], "topic_query": [""], "topic_like": ["2501.12345"]}
    read = read_profile_form(unnamed, (), email="ada@example.org", require_topic=True)
    assert read.profile is None and read.topic_errors
