"""Readers, papers and a send helper shared by the delivery tests (real store, real servers)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from digest.app.send import SendEvent, SendSummary, send_editions
from digest.models import Paper, Profile, Topic
from digest.settings import Settings
from digest.store import Store
from digest.store.papers import upsert_papers
from digest.store.schema import DeliveryRow
from digest.store.subscribers import create
from tests.conftest import require
from tests.smtpd import Received

INGESTED = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
NOW = INGESTED + timedelta(hours=2)
TODAY = date(2026, 11, 29)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOPICS = (Topic("Speculative decoding", 'speculative decoding OR "draft model"'),)


def paper(
    n: int, *, title: str = "Speculative decoding with draft models", upvotes: int = 10
) -> Paper:
    return Paper(
        id=f"2511.{n:05d}",
        title=f"{title}, part {n}",
        abstract=(
            f"We study speculative decoding in setting {n}. A small draft model proposes tokens "
            "that a large model verifies, which makes long generations 2.5 times faster."
        ),
        authors=("Ada Lovelace", "Alan Turing"),
        author_count=2,
        organization="Example Lab",
        upvotes=upvotes + n,
        arxiv_id=f"2511.{n:05d}",
        url=f"https://huggingface.co/papers/2511.{n:05d}",
    )


def ingest(store: Store, papers: Sequence[Paper], at: datetime = INGESTED) -> None:
    with store.session() as session:
        upsert_papers(session, papers, at)


def add_readers(store: Store, count: int, *, start: int = 0, **profile: Any) -> list[int]:
    ids = []
    with store.session() as session:
        for n in range(start, start + count):
            values: dict[str, Any] = {
                "email": f"reader{n}@example.org",
                "name": f"Reader {n}",
                "topics": TOPICS,
            }
            values.update(profile)
            row = create(
                session,
                Profile(**values),
                status="active",
                origin="import",
                now=INGESTED - timedelta(days=30),
            )
            ids.append(row.id)
    return ids


@dataclass(frozen=True)
class Mail:
    """A hand-assembled message for the pool (anything with `recipient` and `data`)."""

    recipient: str
    data: bytes


def mail(recipient: str, n: int = 0) -> Mail:
    body = f"From: digest@example.org\r\nTo: {recipient}\r\nSubject: n{n}\r\n\r\nhello {n}\r\n"
    return Mail(recipient, body.encode())


def smtp_settings(make_settings: Any, port: int, **sections: dict[str, Any]) -> Settings:
    smtp = {"port": port, "retry_backoff": 0.005, "timeout": 5, "concurrency": 3}
    smtp.update(sections.pop("smtp", {}))
    return make_settings(smtp=smtp, **sections)  # type: ignore[no-any-return]


def send(store: Store, settings: Settings, **options: Any) -> tuple[SendSummary, list[SendEvent]]:
    events: list[SendEvent] = []
    options.setdefault("now", NOW)
    summary = asyncio.run(send_editions(store, settings, progress=events.append, **options))
    return summary, events


def statuses(store: Store) -> Counter[str]:
    with store.session() as session:
        return Counter(session.scalars(select(DeliveryRow.status)))


def copies(messages: Sequence[Received]) -> Counter[str]:
    """Messages received per envelope recipient."""
    return Counter(rcpt for m in messages for rcpt in m.rcpt_tos)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (skipped when no server runs)."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # any failure to reach a server means "not available here"
        require(False, f"PostgreSQL at {PG_ADMIN} is not reachable ({exc})")
        raise
    name = f"digest_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
