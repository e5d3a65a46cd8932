"""Mailman's bounce score for soft bounces: one step per bouncing day, suppressed at the
threshold, forgotten after a quiet spell (`[bounces]` settings)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from digest.store import Store
from digest.store.bounces import ScorePolicy, record_soft_bounce
from digest.store.subscribers import is_suppressed
from tests.delivery_support import add_readers
from tests.inbound_support import delivery

POLICY = ScorePolicy(per_day=1.0, threshold=5.0, reset_days=7)
START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def bounce_on(store: Store, delivery_id: int, at: datetime) -> tuple[float, bool]:
    with store.session() as session:
        outcome = record_soft_bounce(session, delivery_id, "soft bounce 4.2.2", at, POLICY)
        assert outcome is not None
        return outcome.score, outcome.suppressed


def test_many_bounces_on_one_day_count_once_and_five_days_suppress(store: Store) -> None:
    [reader] = add_readers(store, 1)
    target = delivery(store, reader, date(2026, 12, 1))
    assert [bounce_on(store, target, START + timedelta(hours=h)) for h in range(3)] == [
        (1.0, False)
    ] * 3
    scores = [bounce_on(store, target, START + timedelta(days=d)) for d in range(1, 5)]
    assert scores == [(2.0, False), (3.0, False), (4.0, False), (5.0, True)]
    with store.session() as session:
        assert is_suppressed(session, "reader0@example.org")


def test_the_score_starts_over_after_a_quiet_spell(store: Store) -> None:
    [reader] = add_readers(store, 1)
    target = delivery(store, reader, date(2026, 12, 1))
    for d in range(4):
        bounce_on(store, target, START + timedelta(days=d))
    assert bounce_on(store, target, START + timedelta(days=3 + 8)) == (1.0, False)
    assert bounce_on(store, target, START + timedelta(days=3 + 8 + 7)) == (2.0, False)
