"""Edition rules (DESIGN.md "Editions") against a real SQLite store and ledger."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from digest.app.edition import Candidates, EditionBuilder, preview_for_profile, select_edition
from digest.match import Matcher, PaperIndex
from digest.models import Paper, Profile, Subscriber, Topic
from digest.settings import Settings
from digest.store import Store
from digest.store.papers import upsert_papers
from digest.store.schema import DeliveryPaperRow, DeliveryRow, SubscriberRow
from digest.store.subscribers import create, to_subscriber

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
TOPICS = (Topic("Speculative decoding", "speculative decoding"),)


def paper(n: int, title: str = "speculative decoding", upvotes: int = 10) -> Paper:
    return Paper(
        id=f"2511.{n:05d}",
        title=f"{title} study {n}",
        abstract="An abstract.",
        upvotes=upvotes,
        arxiv_id=f"2511.{n:05d}",
    )


def ingest(store: Store, papers: list[Paper], at: datetime) -> None:
    with store.session() as session:
        upsert_papers(session, papers, at)


def add_reader(store: Store, email: str = "ada@example.org", **profile: object) -> int:
    values: dict[str, object] = {"email": email, "topics": TOPICS}
    values.update(profile)
    with store.session() as session:
        return create(
            session,
            Profile(**values),
            status="active",
            origin="import",
            now=NOW - timedelta(days=60),  # type: ignore[arg-type]
        ).id


def record(
    store: Store,
    subscriber_id: int,
    edition: date,
    until: datetime,
    papers: list[str],
    status: str = "sent",
) -> None:
    with store.session() as session:
        row = DeliveryRow(
            subscriber_id=subscriber_id,
            edition=edition,
            status=status,
            candidates_until=until,
            created_at=until,
            updated_at=until,
        )
        session.add(row)
        session.flush()
        for position, paper_id in enumerate(papers):
            session.add(DeliveryPaperRow(delivery_id=row.id, paper_id=paper_id, position=position))


def build(store: Store, settings: Settings, sid: int, day: date, now: datetime = NOW):  # type: ignore[no-untyped-def]
    with store.session() as session:
        subscriber = to_subscriber(session.get_one(SubscriberRow, sid))
    return build_with(EditionBuilder(store, settings, now=now), subscriber, day)


def build_with(builder: EditionBuilder, subscriber: Subscriber, day: date):  # type: ignore[no-untyped-def]
    history = builder.histories([(subscriber, day)])[subscriber.id]
    return builder.build(subscriber, day, history)


def ids(edition) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.paper.id for m in edition.papers]


@pytest.fixture
def settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings()  # type: ignore[no-any-return]


def test_first_daily_edition_takes_papers_first_seen_in_the_last_day(
    store: Store, settings: Settings
) -> None:
    ingest(store, [paper(1)], NOW - timedelta(days=2))
    ingest(store, [paper(2)], NOW - timedelta(hours=20))
    ingest(store, [paper(3)], NOW + timedelta(minutes=5))  # after "now": next edition's
    sid = add_reader(store)
    edition = build(store, settings, sid, NOW.date())
    assert ids(edition) == ["2511.00002"]
    assert edition.candidates_until == NOW
    assert edition.date == NOW.date()


def test_first_weekly_edition_looks_back_a_week(store: Store, settings: Settings) -> None:
    ingest(store, [paper(1)], NOW - timedelta(days=8))
    ingest(store, [paper(2)], NOW - timedelta(days=6))
    sid = add_reader(store, cadence="weekly:sun")
    assert ids(build(store, settings, sid, NOW.date())) == ["2511.00002"]


def test_next_edition_starts_where_the_previous_one_stopped(
    store: Store, settings: Settings
) -> None:
    ingest(store, [paper(1)], NOW - timedelta(days=3))
    ingest(store, [paper(2)], NOW - timedelta(days=2))
    ingest(store, [paper(3)], NOW - timedelta(hours=1))
    sid = add_reader(store)
    # The previous edition was sent three days ago and considered papers up to then.
    record(
        store, sid, NOW.date() - timedelta(days=3), NOW - timedelta(days=3) + timedelta(hours=1), []
    )
    assert sorted(ids(build(store, settings, sid, NOW.date()))) == ["2511.00002", "2511.00003"]


def test_deferred_or_failed_deliveries_do_not_advance_the_window(
    store: Store, settings: Settings
) -> None:
    ingest(store, [paper(1)], NOW - timedelta(hours=10))
    sid = add_reader(store)
    record(
        store, sid, NOW.date() - timedelta(days=1), NOW - timedelta(hours=2), [], status="deferred"
    )
    assert ids(build(store, settings, sid, NOW.date())) == ["2511.00001"]


def test_a_skipped_edition_advances_the_window(store: Store, settings: Settings) -> None:
    ingest(store, [paper(1)], NOW - timedelta(hours=10))
    sid = add_reader(store)
    record(
        store, sid, NOW.date() - timedelta(days=1), NOW - timedelta(hours=2), [], status="skipped"
    )
    assert ids(build(store, settings, sid, NOW.date())) == []


def test_a_paper_once_sent_never_comes_back(store: Store, settings: Settings) -> None:
    ingest(store, [paper(1), paper(2)], NOW - timedelta(hours=10))
    sid = add_reader(store)
    # An older edition carried paper 1; its window closed long ago (so paper 1 is in the window).
    record(store, sid, NOW.date() - timedelta(days=5), NOW - timedelta(days=5), ["2511.00001"])
    edition = build(store, settings, sid, NOW.date())
    assert ids(edition) == ["2511.00002"]
    assert "2511.00001" not in {p.id for p in edition.trending}


def test_two_consecutive_editions_share_no_paper(store: Store, settings: Settings) -> None:
    ingest(store, [paper(n) for n in range(1, 6)], NOW - timedelta(hours=5))
    sid = add_reader(store, max_papers=3)
    first = build(store, settings, sid, NOW.date())
    record(store, sid, NOW.date(), NOW, ids(first) + [p.id for p in first.trending])
    later = NOW + timedelta(days=1)
    ingest(store, [paper(n) for n in range(6, 9)], later - timedelta(hours=3))
    second = build(store, settings, sid, later.date(), now=later)
    assert len(ids(first)) == 3 and len(ids(second)) == 3
    assert not set(ids(first)) & set(ids(second))
    assert set(ids(second)) == {"2511.00006", "2511.00007", "2511.00008"}


def test_min_upvotes_cap_ranking_and_trending(store: Store, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(digest={"trending_count": 2})
    matching = [paper(n, upvotes=n) for n in range(1, 8)]
    others = [paper(20 + n, title="protein folding", upvotes=100 + n) for n in range(4)]
    ingest(store, matching + others, NOW - timedelta(hours=3))
    sid = add_reader(store, min_upvotes=3, max_papers=4)
    edition = build(store, settings, sid, NOW.date())
    assert len(edition.papers) == 4
    assert all((m.paper.upvotes or 0) >= 3 for m in edition.papers)
    assert [m.score for m in edition.papers] == sorted(
        (m.score for m in edition.papers), reverse=True
    )
    assert all(m.topics == ("Speculative decoding",) for m in edition.papers)
    assert [p.id for p in edition.trending] == ["2511.00023", "2511.00022"]


def test_trending_is_left_out_when_the_reader_turned_it_off(
    store: Store, settings: Settings
) -> None:
    ingest(
        store, [paper(1), paper(2, title="protein folding", upvotes=500)], NOW - timedelta(hours=3)
    )
    sid = add_reader(store, trending=False)
    edition = build(store, settings, sid, NOW.date())
    assert ids(edition) == ["2511.00001"] and edition.trending == ()


def test_one_index_serves_every_reader_and_widens_for_a_long_absence(
    store: Store, settings: Settings
) -> None:
    ingest(store, [paper(1)], NOW - timedelta(days=20))
    ingest(store, [paper(2)], NOW - timedelta(hours=2))
    back = add_reader(store, "back@example.org")
    fresh = add_reader(store, "fresh@example.org")
    record(store, back, NOW.date() - timedelta(days=25), NOW - timedelta(days=25), [])
    with store.session() as session:
        subscribers = {
            sid: to_subscriber(session.get_one(SubscriberRow, sid)) for sid in (back, fresh)
        }
    builder = EditionBuilder(store, settings, now=NOW)
    assert ids(build_with(builder, subscribers[fresh], NOW.date())) == ["2511.00002"]
    assert sorted(ids(build_with(builder, subscribers[back], NOW.date()))) == [
        "2511.00001",
        "2511.00002",
    ]


def test_preview_for_profile_needs_no_ledger(settings: Settings) -> None:
    profile = Profile(email="ada@example.org", topics=TOPICS, timezone="Europe/Paris", max_papers=2)
    papers = [
        Paper(
            id=f"p{n}",
            title=f"speculative decoding {n}",
            abstract="",
            upvotes=n,
            first_seen=NOW - timedelta(hours=n),
        )
        for n in range(1, 5)
    ]
    old_paper = Paper(
        id="old", title="speculative decoding old", abstract="", first_seen=NOW - timedelta(days=3)
    )
    papers.append(old_paper)
    edition = preview_for_profile(
        profile, papers, settings, edition_date=date(2026, 11, 29), now=NOW
    )
    assert len(edition.papers) == 2
    assert "old" not in {m.paper.id for m in edition.papers}
    assert edition.date == date(2026, 11, 29)
    assert edition.subscriber.profile is profile


def test_the_capped_ranking_equals_ranking_everything_then_filtering() -> None:
    """select_edition asks the matcher for a bounded list; it must pick exactly what ranking
    every match and keeping the first candidates would pick, whatever the candidate subset."""
    rng = random.Random(7)
    words = ["decoding", "speculative", "cache", "quantization", "agents", "diffusion", "reasoning"]
    now = datetime(2026, 11, 1, tzinfo=UTC)
    papers = [
        Paper(
            id=f"p{i:03}",
            title=" ".join(rng.sample(words, 3)),
            abstract=" ".join(rng.choices(words, k=12)),
            upvotes=rng.randint(0, 90),
            first_seen=now,
        )
        for i in range(120)
    ]
    matcher = Matcher(PaperIndex.build(papers, now=now))
    settings = Settings()
    for trial in range(40):
        topics = tuple(Topic(f"t{n}", rng.choice(words)) for n in range(rng.randint(1, 3)))
        profile = Profile(email="r@example.org", max_papers=rng.randint(1, 12), topics=topics)
        reader = Subscriber(id=1, public_id="x", status="active", profile=profile)
        candidates = [p for p in papers if rng.random() < (0.2 if trial % 2 else 0.9)]
        allowed = {p.id for p in candidates}
        expected = [m for m in matcher.match(topics) if m.paper.id in allowed]
        expected = expected[: profile.max_papers]
        edition = select_edition(
            reader, now.date(), matcher, Candidates.of(candidates), settings, now=now
        )
        assert [m.paper.id for m in edition.papers] == [m.paper.id for m in expected]
        assert [m.score for m in edition.papers] == [m.score for m in expected]
