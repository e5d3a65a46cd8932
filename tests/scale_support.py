"""Many readers at once for the scale tests: bulk rows, and a relay that only counts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from digest.store import Store
from digest.store.schema import SubscriberRow, TopicRow
from tests.conftest import ROOT
from tests.delivery_support import ingest, paper
from tests.smtpd import RecordingHandler


def add_many(
    store: Store,
    count: int,
    *,
    joined: datetime,
    query: str = "decoding",
    other_query: str | None = None,
    every: int = 1,
) -> None:
    """`count` daily readers due at 08:00 UTC, ids 1..count. Every `every`-th has the topic
    `query` and wants "Trending today"; the others (when `other_query` is given) follow
    `other_query` alone, so that an edition of theirs without a match is empty."""
    with store.session() as session:
        for start in range(1, count + 1, 5000):
            ids = range(start, min(count, start + 4999) + 1)
            session.execute(
                insert(SubscriberRow),
                [
                    {
                        "id": n,
                        "public_id": f"p{n}",
                        "email": f"r{n}@example.org",
                        "email_key": f"r{n}@example.org",
                        "timezone": "UTC",
                        "cadence": "daily",
                        "send_time": "08:00",
                        "max_papers": 10,
                        "min_upvotes": 0,
                        "trending": n % every == 0 or other_query is None,
                        "status": "active",
                        "origin": "import",
                        "created_at": joined,
                        "updated_at": joined,
                    }
                    for n in ids
                ],
            )
            session.execute(
                insert(TopicRow),
                [
                    {
                        "subscriber_id": n,
                        "position": 0,
                        "name": "Topic",
                        "query": query if n % every == 0 or other_query is None else other_query,
                    }
                    for n in ids
                ],
            )


@dataclass
class CountingHandler(RecordingHandler):
    """Accepts every message after `delay` and keeps only who got it and its Message-ID, so
    that thousands of digests cost no memory in the test process."""

    received: Counter[str] = field(default_factory=Counter)
    message_ids: dict[str, set[str]] = field(default_factory=dict)
    count_lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        content = bytes(envelope.content)
        start = content.find(b"Message-ID:")
        message_id = content[start : content.find(b"\r\n", start)].decode() if start >= 0 else ""
        with self.count_lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt] += 1
                self.message_ids.setdefault(rcpt, set()).add(message_id)
        return "250 Message accepted for delivery"

    def snapshot(self) -> Counter[str]:
        with self.count_lock:
            return Counter(self.received)


def readers_with_news(store: Store, readers: int) -> None:
    """`readers` who joined a month ago, and five papers from an hour ago for all of them."""
    now = datetime.now(UTC)
    add_many(store, readers, joined=now - timedelta(days=30))
    ingest(store, [paper(n) for n in range(5)], at=now - timedelta(hours=1))


def start_sender(env: dict[str, str]) -> subprocess.Popen[str]:
    """`digest send --json` in a process of its own, as cron or an operator starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
