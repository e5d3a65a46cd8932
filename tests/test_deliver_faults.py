"""Delivery under faults: transient replies, dropped connections, hard bounces, partial refusals,
deferral to the next run and a graceful stop. Nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiosmtplib
from sqlalchemy import select

from digest.app.send import SendEvent, send_editions
from digest.deliver.smtp import transact
from digest.store import Store
from digest.store.schema import DeliveryRow, SubscriberRow
from digest.store.subscribers import is_suppressed
from tests.delivery_support import (
    NOW,
    add_readers,
    copies,
    ingest,
    paper,
    send,
    smtp_settings,
    statuses,
)
from tests.smtpd import RecordingHandler, SmtpServer

READERS = [f"reader{n}@example.org" for n in range(12)]


def number(envelope: Any) -> int:
    return int(envelope.rcpt_tos[0].removeprefix("reader").split("@")[0])


def test_transient_replies_and_cut_connections_still_deliver_everyone_once(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(n) for n in range(4)])
    add_readers(store, len(READERS))
    tries: Counter[int] = Counter()

    def drop(envelope: Any) -> bool:  # runs first on every DATA: count tries here
        tries[number(envelope)] += 1
        return number(envelope) % 4 == 1 and tries[number(envelope)] == 1

    def fault(envelope: Any) -> str | None:
        n, seen = number(envelope), tries[number(envelope)]
        if n % 3 == 0 and seen <= 2:
            return "451 4.3.0 mailbox busy, try later"
        if n % 5 == 2 and seen == 1:
            return "421 4.7.0 too many connections, closing"
        return None

    with SmtpServer(RecordingHandler(fault=fault, drop=drop)) as server:
        settings = smtp_settings(make_settings, server.port, smtp={"max_attempts": 4})
        summary, _ = send(store, settings)
    assert summary.as_dict() == {"sent": 12, "skipped": 0, "deferred": 0, "failed": 0, "bounced": 0}
    assert copies(server.messages) == dict.fromkeys(READERS, 1)
    with store.session() as session:
        attempts = dict(
            session.execute(
                select(SubscriberRow.email, DeliveryRow.attempts).join(
                    DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
                )
            ).all()
        )
    assert attempts["reader3@example.org"] == 3  # two 451s, then accepted
    assert attempts["reader1@example.org"] == 2  # connection cut once
    assert attempts["reader2@example.org"] == 2  # one 421
    assert attempts["reader4@example.org"] == 1


def test_a_hard_bounce_suppresses_that_address_and_spares_the_others(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 4)
    handler = RecordingHandler(
        rcpt_fault=lambda a: "550 5.1.1 mailbox unavailable" if a == "reader2@example.org" else None
    )
    with SmtpServer(handler) as server:
        settings = smtp_settings(make_settings, server.port)
        summary, events = send(store, settings)
        assert (summary.sent, summary.bounced) == (3, 1)
        assert set(copies(server.messages)) == set(READERS[:4]) - {"reader2@example.org"}
        [bounce] = [e for e in events if e.kind == "bounced"]
        assert bounce.email == "reader2@example.org" and "550" in (bounce.error or "")
        with store.session() as session:
            assert is_suppressed(session, "reader2@example.org")
            assert (
                session.scalar(
                    select(SubscriberRow.status).where(SubscriberRow.email == "reader2@example.org")
                )
                == "bounced"
            )
        # The next run (say, tomorrow's edition) does not try the suppressed address again.
        handler.rcpt_fault = None
        ingest(store, [paper(n) for n in range(10, 13)], at=NOW.replace(day=30, hour=6))
        summary, _ = send(store, settings, now=NOW.replace(day=30))
    assert summary.sent == 3
    assert copies(server.messages)["reader2@example.org"] == 0
    assert statuses(store) == {"sent": 6, "bounced": 1}


def test_a_message_refused_at_data_is_failed_and_not_retried(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(1)])
    add_readers(store, 2)
    fault = lambda e: "554 5.7.1 message content rejected" if number(e) == 0 else None  # noqa: E731
    with SmtpServer(RecordingHandler(fault=fault)) as server:
        settings = smtp_settings(make_settings, server.port)
        summary, _ = send(store, settings)
        assert (summary.sent, summary.failed) == (1, 1)
        summary, _ = send(store, settings)
    assert summary.as_dict() == {"sent": 0, "skipped": 0, "deferred": 0, "failed": 0, "bounced": 0}
    assert statuses(store) == {"sent": 1, "failed": 1}


def test_a_delivery_still_refused_after_max_attempts_is_deferred_then_sent_next_run(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(1)])
    add_readers(store, 3)
    handler = RecordingHandler(fault=lambda e: "451 4.7.1 greylisted" if number(e) == 1 else None)
    with SmtpServer(handler) as server:
        settings = smtp_settings(make_settings, server.port, smtp={"max_attempts": 3})
        summary, _ = send(store, settings)
        assert (summary.sent, summary.deferred) == (2, 1)
        assert statuses(store) == {"sent": 2, "deferred": 1}
        handler.fault = None
        summary, _ = send(store, settings)
    assert (summary.sent, summary.deferred) == (1, 0)
    assert copies(server.messages) == dict.fromkeys(READERS[:3], 1)
    with store.session() as session:
        row = session.scalars(select(DeliveryRow).where(DeliveryRow.status == "sent")).all()
        assert sorted(r.attempts for r in row) == [1, 1, 4]  # 3 refused + 1 accepted


def test_an_unreachable_server_defers_everyone_and_the_run_still_completes(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
) -> None:
    import socket

    ingest(store, [paper(1)])
    add_readers(store, 3)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = smtp_settings(make_settings, port, smtp={"max_attempts": 2})
    summary, _ = send(store, settings)
    assert summary.deferred == 3 and summary.sent == 0
    assert statuses(store) == {"deferred": 3}


def test_a_partial_refusal_without_an_exception_is_a_bounce_for_that_recipient_only() -> None:
    # One digest has one recipient, but the transaction code must not trust that: aiosmtplib
    # reports a refused recipient among accepted ones in its return value, not by raising.
    handler = RecordingHandler(
        rcpt_fault=lambda a: "550 5.1.1 unknown" if a.startswith("gone") else None
    )

    async def main(port: int) -> dict[str, Any]:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="localhost")
        await client.connect()
        try:
            recipients = ["ada@example.org", "gone@example.org"]
            return await transact(
                client, "digest@example.org", recipients, b"Subject: x\r\n\r\nx\r\n"
            )
        finally:
            await client.quit()

    with SmtpServer(handler) as server:
        verdicts = asyncio.run(main(server.port))
    assert verdicts["ada@example.org"].outcome == "sent"
    assert verdicts["gone@example.org"].outcome == "bounced"
    assert [m.rcpt_tos for m in server.messages] == [["ada@example.org"]]


def test_a_stopped_run_releases_what_it_did_not_send_and_the_next_run_finishes(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
) -> None:
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 12)
    stop = asyncio.Event()
    events: list[SendEvent] = []

    def progress(event: SendEvent) -> None:
        events.append(event)
        if event.kind == "sent" and sum(e.kind == "sent" for e in events) == 3:
            stop.set()

    with SmtpServer(RecordingHandler(delay=0.05)) as server:
        settings = smtp_settings(make_settings, server.port, smtp={"concurrency": 2})
        first = asyncio.run(send_editions(store, settings, now=NOW, progress=progress, stop=stop))
        assert 3 <= first.sent < 12
        assert "queued" not in statuses(store)  # in-flight finished, queued released
        second, _ = send(store, settings)
    assert first.sent + second.sent == 12
    assert copies(server.messages) == dict.fromkeys(READERS, 1)
    assert statuses(store) == {"sent": 12}


def test_a_reader_whose_stored_address_is_unusable_is_failed_and_the_rest_go_out(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
    smtp_server: SmtpServer,
) -> None:
    ingest(store, [paper(1)])
    add_readers(store, 2)
    with store.session() as session:  # written behind the application's back
        row = session.scalar(
            select(SubscriberRow).where(SubscriberRow.email == "reader0@example.org")
        )
        assert row is not None
        row.email = "reader0@example.org\r\nBcc: everyone@example.org"
    settings = smtp_settings(make_settings, smtp_server.port)
    summary, events = send(store, settings)
    assert (summary.sent, summary.failed) == (1, 1)
    assert [m.rcpt_tos for m in smtp_server.messages] == [["reader1@example.org"]]
    [failed] = [e for e in events if e.kind == "failed"]
    assert "subscriber email" in (failed.error or "")
    assert statuses(store) == {"sent": 1, "failed": 1}
