"""The scheduler's per-minute question, "who is due now?", over many readers.

`due_pages` reads only the schedule columns of active readers, parses each distinct
(cadence, send time, zone) once, checks the ledger with one query over the few edition dates in
play, and loads whole profiles only for readers actually due. The naive baseline in the same run
loads every active reader with their topics, parses each schedule, and asks the ledger once per
reader. Both run against the same fresh SQLite file, at an instant when a few readers are due and
a fifth of the rest already have this edition in the ledger.
Run: .venv/bin/python bench/due.py [--readers N] [--ticks N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from digest.app.due import due_pages
from digest.profiles.cadence import Schedule
from digest.settings import Settings, load_settings
from digest.store import Store, open_store
from digest.store.schema import DeliveryRow, SubscriberRow, TopicRow
from digest.store.subscribers import list_subscribers

AT = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC"]
CADENCES = ["daily", "daily", "daily", "weekly:mon", "weekly:fri"]


def populate(store: Store, readers: int) -> None:
    rng = random.Random(6)
    subscribers = []
    topics = []
    for n in range(1, readers + 1):
        subscribers.append(
            {
                "id": n,
                "public_id": f"p{n}",
                "email": f"r{n}@example.org",
                "email_key": f"r{n}@example.org",
                "timezone": rng.choice(ZONES),
                "cadence": rng.choice(CADENCES),
                "send_time": f"{rng.randrange(24):02d}:{rng.choice([0, 15, 30, 45]):02d}",
                "max_papers": 10,
                "min_upvotes": 0,
                "trending": True,
                "status": "active",
                "origin": "import",
                "created_at": AT,
                "updated_at": AT,
            }
        )
        topics += [
            {"subscriber_id": n, "position": i, "name": f"t{i}", "query": "decoding"}
            for i in range(3)
        ]
    with store.session() as session:
        session.execute(insert(SubscriberRow), subscribers)
        session.execute(insert(TopicRow), topics)
        deliveries = []
        for row in subscribers:
            schedule = Schedule.parse(row["cadence"], row["send_time"], row["timezone"])
            edition = schedule.current_edition(AT)
            if rng.random() < 0.2:
                deliveries.append(
                    {
                        "subscriber_id": row["id"],
                        "edition": edition,
                        "status": "sent",
                        "attempts": 1,
                        "created_at": AT,
                        "updated_at": AT,
                    }
                )
        session.execute(insert(DeliveryRow), deliveries)


def naive(store: Store, settings: Settings, at: datetime) -> int:
    window = timedelta(hours=settings.schedule.catch_up_hours)
    due = 0
    with store.session() as session:
        for subscriber in list_subscribers(session, status="active"):
            profile = subscriber.profile
            schedule = Schedule.parse(profile.cadence, profile.send_time, profile.timezone)
            edition = schedule.current_edition(at)
            if at - schedule.slot(edition) > window:
                continue
            status = session.scalar(
                select(DeliveryRow.status).where(
                    DeliveryRow.subscriber_id == subscriber.id, DeliveryRow.edition == edition
                )
            )
            if status not in ("sent", "skipped", "bounced", "failed"):
                due += 1
    return due


def fast(store: Store, settings: Settings, at: datetime) -> int:
    return sum(len(page.due) for page in due_pages(store, at, settings))


def measure(fn: object, store: Store, settings: Settings, ticks: int) -> tuple[float, int]:
    assert callable(fn)
    count = fn(store, settings, AT)  # warm-up, and the answer to compare
    start = time.perf_counter()
    for _ in range(ticks):
        fn(store, settings, AT)
    return (time.perf_counter() - start) / ticks, int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--ticks", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        store = open_store(url)
        settings = load_settings(None, database={"url": url})
        populate(store, args.readers)
        fast_s, fast_due = measure(fast, store, settings, args.ticks)
        naive_s, naive_due = measure(naive, store, settings, args.ticks)
        store.dispose()
    assert fast_due == naive_due, (fast_due, naive_due)
    print(f"readers: {args.readers}, due at {AT:%Y-%m-%dT%H:%MZ}: {fast_due}")
    print(f"due_pages: {fast_s * 1000:.1f} ms per tick")
    print(f"naive (full profiles, one ledger query per reader): {naive_s * 1000:.1f} ms per tick")
    print(f"ratio naive / due_pages: {naive_s / fast_s:.1f}x")


if __name__ == "__main__":
    main()
