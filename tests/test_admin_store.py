"""The operator's queries on both supported databases: the same pages, counts and figures from
SQLite and PostgreSQL (portable SQL: LIKE with an escape, GROUP BY, aggregates of timestamps)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from digest.app import admin
from digest.models import Profile, Topic
from digest.store import Store, open_store
from digest.store.schema import DeliveryRow, SuppressionRow
from digest.store.subscribers import create
from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[Store]:
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "postgres_url")
    store = open_store(url)
    yield store
    store.dispose()


def _fill(store: Store) -> dict[str, str]:
    ids: dict[str, str] = {}
    with store.session() as session:
        for n in range(7):
            status = "pending" if n == 6 else "active"
            email = f"reader_{n}@example.org" if n else "100%@example.org"
            row = create(
                session,
                Profile(email=email, name=f"Reader {n}", topics=(Topic("LLMs", "llm"),)),
                status=status,  # type: ignore[arg-type]
                origin="test",
                now=NOW + timedelta(minutes=n),
            )
            ids[email] = row.public_id
            for day in (date(2026, 3, 1), date(2026, 3, 2)):
                session.add(
                    DeliveryRow(
                        subscriber_id=row.id,
                        edition=day,
                        status="sent" if n % 2 == 0 else "deferred",
                        attempts=1,
                        last_error=None if n % 2 == 0 else "421 try later",
                        created_at=NOW,
                        updated_at=NOW,
                        sent_at=NOW if n % 2 == 0 else None,
                    )
                )
        session.add(SuppressionRow(email_key="reader_5@example.org", reason="550", created_at=NOW))
    return ids


def test_pages_counts_and_figures_agree_on_both_databases(backend: Store) -> None:
    ids = _fill(backend)
    first = admin.readers(backend, limit=4)
    assert [line.email for line in first.lines] == [f"reader_{n}@example.org" for n in (6, 5, 4, 3)]
    assert first.counts == {"pending": 1, "active": 6, "unsubscribed": 0, "bounced": 0}
    rest = admin.readers(backend, limit=4, before_id=first.next_before)
    assert [line.email for line in rest.lines][-1] == "100%@example.org"
    assert rest.next_before is None
    assert [line.email for line in admin.readers(backend, search="0%").lines] == [
        "100%@example.org"
    ]
    assert [line.email for line in admin.readers(backend, search="READER 6").lines] == [
        "reader_6@example.org"
    ]
    assert len(admin.readers(backend, status="pending").lines) == 1
    suppressed = [line for line in admin.readers(backend).lines if line.suppressed]
    assert [line.email for line in suppressed] == ["reader_5@example.org"]

    detail = admin.reader(backend, ids["reader_1@example.org"])
    assert detail is not None
    assert [d.edition for d in detail.deliveries] == [date(2026, 3, 2), date(2026, 3, 1)]
    assert detail.deliveries[0].last_error == "421 try later"

    [newest, older] = admin.editions(backend)
    assert newest.edition == date(2026, 3, 2) and newest.counts["sent"] == 4
    assert newest.counts["deferred"] == 3 and older.counts["sent"] == 4

    lines, more = admin.suppressions(backend, search="reader_5")
    assert [line.email_key for line in lines] == ["reader_5@example.org"] and more is None

    snapshot = admin.metrics_snapshot(backend)
    assert snapshot.last_send == NOW
    assert snapshot.deliveries["sent"] == 8 and snapshot.deliveries["deferred"] == 6

    assert admin.remove(backend, ids["reader_1@example.org"], now=NOW) == "reader_1@example.org"
    assert admin.reader(backend, ids["reader_1@example.org"]) is None
    assert admin.lift(backend, "reader_5@example.org", now=NOW) is not None
    assert admin.suppressions(backend)[0] == []
