"""Editions through the whole send pipeline, as the ledger keeps them: consecutive editions
share no paper, an edition with nothing new follows `send_empty`, a re-run sends only what is
not yet sent."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from digest.store import Store
from digest.store.schema import DeliveryPaperRow, DeliveryRow
from tests.delivery_support import INGESTED, ingest, paper, send, smtp_settings
from tests.delivery_support import add_readers as add_reader_profiles


def rows(store: Store) -> list[DeliveryRow]:
    with store.session() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def carried_by_edition(store: Store) -> dict[date, set[str]]:
    with store.session() as session:
        found: dict[date, set[str]] = {}
        for day, paper_id in session.execute(
            select(DeliveryRow.edition, DeliveryPaperRow.paper_id).join(
                DeliveryPaperRow, DeliveryPaperRow.delivery_id == DeliveryRow.id
            )
        ):
            found.setdefault(day, set()).add(paper_id)
        return found


def test_two_consecutive_editions_share_no_paper(store: Store, make_settings, smtp_server) -> None:  # type: ignore[no-untyped-def]
    add_reader_profiles(store, 1)
    settings = smtp_settings(make_settings, smtp_server.port, digest={"trending_count": 2})
    ingest(store, [paper(n) for n in range(6)], at=INGESTED)
    first, _ = send(store, settings, now=INGESTED + timedelta(hours=2))
    # The next day: three new papers, and the old ones seen again (upvotes changed).
    next_day = INGESTED + timedelta(days=1)
    ingest(store, [paper(n, upvotes=50) for n in range(9)], at=next_day)
    second, _ = send(store, settings, now=next_day + timedelta(hours=2))
    assert first.sent == second.sent == 1
    carried = carried_by_edition(store)
    day_one, day_two = sorted(carried)
    assert carried[day_one] and carried[day_two]
    assert not carried[day_one] & carried[day_two]
    assert carried[day_two] == {f"2511.{n:05d}" for n in range(6, 9)}
    assert [
        len(m.message.get_body(("plain",)).get_content()) > 0 for m in smtp_server.messages
    ] == [True, True]


@pytest.mark.parametrize("send_empty", [False, True])
def test_an_edition_with_nothing_new_follows_send_empty(
    store: Store,
    make_settings,
    smtp_server,
    send_empty: bool,  # type: ignore[no-untyped-def]
) -> None:
    add_reader_profiles(store, 2)
    settings = smtp_settings(make_settings, smtp_server.port, digest={"send_empty": send_empty})
    summary, _ = send(store, settings, now=INGESTED)
    if send_empty:
        assert (summary.sent, summary.skipped) == (2, 0)
        assert len(smtp_server.messages) == 2
        assert {r.status for r in rows(store)} == {"sent"}
    else:
        assert (summary.sent, summary.skipped) == (0, 2)
        assert smtp_server.messages == []
        assert {r.status for r in rows(store)} == {"skipped"}
        assert all(r.candidates_until == INGESTED for r in rows(store))
    again, _ = send(store, settings, now=INGESTED)
    assert again.as_dict() == {"sent": 0, "skipped": 0, "deferred": 0, "failed": 0, "bounced": 0}


def test_a_rerun_for_the_same_edition_sends_only_what_is_not_yet_sent(
    store: Store,
    make_settings,
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(n) for n in range(3)], at=INGESTED)
    first_ids = add_reader_profiles(store, 3)
    settings = smtp_settings(make_settings, smtp_server.port)
    now = INGESTED + timedelta(hours=1)
    assert send(store, settings, now=now)[0].sent == 3
    add_reader_profiles(store, 2, start=3)  # two readers join; same edition date
    summary, events = send(store, settings, now=now)
    assert summary.sent == 2
    assert sum(e.kind == "unchanged" for e in events) == len(first_ids)
    recipients = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert sorted(recipients) == [f"reader{n}@example.org" for n in range(5)]
