"""`send_editions` happy path: every active reader gets one complete, well-formed digest."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime

import pytest
from sqlalchemy import select

from digest.app.due import HAND_SEND_PAGE, WorkPage
from digest.app.send import SendEvent, send_editions
from digest.app.tokens import Purpose, Signer
from digest.store import Store
from digest.store.schema import DeliveryPaperRow, DeliveryRow, SubscriberRow
from digest.store.subscribers import by_ids
from tests.conftest import TEST_SECRET
from tests.delivery_support import (
    NOW,
    TODAY,
    add_readers,
    copies,
    ingest,
    paper,
    send,
    smtp_settings,
    statuses,
)
from tests.smtpd import SmtpServer

SENDER = {
    "from_address": "digest@example.org",
    "from_name": "Papers Digest",
    "reply_to": "editors@example.org",
    "unsubscribe_mailto": "unsubscribe@example.org",
    "list_id": "papers-digest.example.org",
}


@pytest.fixture
def sent(store: Store, make_settings, smtp_server: SmtpServer):  # type: ignore[no-untyped-def]
    ingest(store, [paper(n) for n in range(6)] + [paper(9, title="Protein folding")])
    add_readers(store, 5)
    settings = smtp_settings(make_settings, smtp_server.port, sender=SENDER)
    summary, events = send(store, settings)
    return summary, events, smtp_server.messages


def public_ids(store: Store) -> dict[str, str]:
    with store.session() as session:
        return dict(session.execute(select(SubscriberRow.email, SubscriberRow.public_id)).all())


def test_each_active_reader_gets_exactly_one_message(sent, store: Store) -> None:  # type: ignore[no-untyped-def]
    summary, events, messages = sent
    assert summary.as_dict() == {"sent": 5, "skipped": 0, "deferred": 0, "failed": 0, "bounced": 0}
    assert copies(messages) == {f"reader{n}@example.org": 1 for n in range(5)}
    assert events[0].kind == "start" and events[0].total == 5
    assert sorted(e.email for e in events[1:] if e.kind == "sent") == sorted(copies(messages))
    with store.session() as session:
        rows = session.scalars(select(DeliveryRow)).all()
        assert {(r.status, r.edition, r.attempts) for r in rows} == {("sent", TODAY, 1)}
        carried = set(session.scalars(select(DeliveryPaperRow.paper_id)))
        assert carried == {f"2511.{n:05d}" for n in (0, 1, 2, 3, 4, 5, 9)}


def test_every_header_a_list_mail_needs_is_there(sent, store: Store) -> None:  # type: ignore[no-untyped-def]
    _, _, messages = sent
    ids = public_ids(store)
    signer = Signer([TEST_SECRET])
    with store.session() as session:
        ledger_ids = dict(
            session.execute(
                select(SubscriberRow.email, DeliveryRow.message_id).join(
                    DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
                )
            ).all()
        )
    for received in messages:
        message: EmailMessage = received.message
        recipient = received.rcpt_tos[0]
        number = recipient.removeprefix("reader").split("@")[0]
        assert received.mail_from == "digest@example.org"
        assert message["From"] == "Papers Digest <digest@example.org>"
        assert parseaddr(str(message["To"])) == (f"Reader {number}", recipient)
        assert message["Reply-To"] == "editors@example.org"
        assert str(message["Subject"]).startswith("Speculative decoding with draft models, part ")
        assert re.search(r" [+-]\d{4}$", str(message["Date"]))
        assert parsedate_to_datetime(str(message["Date"])).utcoffset() is not None
        assert message["Message-ID"] == ledger_ids[recipient]
        assert re.fullmatch(r"<[^<>@\s]+@example\.org>", str(message["Message-ID"]))
        assert "<papers-digest.example.org>" in str(message["List-Id"])
        unsubscribe = str(message["List-Unsubscribe"])
        link = re.search(r"<(https://digest\.example\.org/unsubscribe/([^>]+))>", unsubscribe)
        assert link, unsubscribe
        assert signer.verify(Purpose.UNSUBSCRIBE, link.group(2)) == ids[recipient]
        assert "<mailto:unsubscribe@example.org" in unsubscribe
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Auto-Submitted"] == "auto-generated"


def test_the_body_is_text_first_then_html(sent) -> None:  # type: ignore[no-untyped-def]
    _, _, messages = sent
    for received in messages:
        message = received.message
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert "Speculative decoding" in text.get_content()
        assert "https://digest.example.org/unsubscribe/" in html.get_content()


def test_message_ids_are_distinct_per_reader(sent) -> None:  # type: ignore[no-untyped-def]
    _, _, messages = sent
    ids = [m.message["Message-ID"] for m in messages]
    assert len(set(ids)) == len(ids) == 5


def test_a_dry_run_renders_everything_and_sends_and_writes_nothing(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
    smtp_server: SmtpServer,
) -> None:
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 3)
    settings = smtp_settings(make_settings, smtp_server.port)
    summary, _ = send(store, settings, dry_run=True)
    assert summary.sent == 3
    assert smtp_server.messages == []
    with store.session() as session:
        assert session.scalars(select(DeliveryRow)).all() == []
    summary, _ = send(store, settings)
    assert summary.sent == 3 and len(smtp_server.messages) == 3


def test_only_the_work_given_is_served(
    store: Store, make_settings, smtp_server: SmtpServer
) -> None:  # type: ignore[no-untyped-def]
    ingest(store, [paper(n) for n in range(3)])
    ids = add_readers(store, 4)
    settings = smtp_settings(make_settings, smtp_server.port)
    with store.session() as session:
        readers = by_ids(session, ids[1:3])
    work = [WorkPage(editions=[(reader, TODAY) for reader in readers])]
    summary, _ = send(store, settings, work=work)
    assert summary.sent == 2
    assert set(copies(smtp_server.messages)) == {"reader1@example.org", "reader2@example.org"}


def test_a_bad_sender_setting_stops_before_anything_is_claimed(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
    smtp_server: SmtpServer,
) -> None:
    from digest.errors import DeliveryError

    ingest(store, [paper(1)])
    add_readers(store, 2)
    settings = smtp_settings(
        make_settings, smtp_server.port, sender={"reply_to": "editors@example.org\r\nBcc: x@y.org"}
    )
    with pytest.raises(DeliveryError, match="reply_to"):
        send(store, settings)
    with store.session() as session:
        assert session.scalars(select(DeliveryRow)).all() == []


def test_by_hand_each_reader_gets_their_own_local_edition(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
    smtp_server: SmtpServer,
) -> None:
    now = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # Sunday evening in UTC
    ingest(store, [paper(n) for n in range(3)], at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    add_readers(store, 1, timezone="Pacific/Auckland")  # already Monday 30 Nov there
    add_readers(store, 1, start=1, timezone="America/Los_Angeles")  # still Sunday 29 Nov
    add_readers(store, 1, start=2, cadence="weekly:wed")  # the week's edition: Wed 25 Nov
    settings = smtp_settings(make_settings, smtp_server.port)
    summary, _ = send(store, settings, now=now)
    assert summary.sent == 3
    with store.session() as session:
        editions = dict(
            session.execute(
                select(SubscriberRow.email, DeliveryRow.edition).join(
                    DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
                )
            ).all()
        )
    assert editions == {
        "reader0@example.org": date(2026, 11, 30),
        "reader1@example.org": date(2026, 11, 29),
        "reader2@example.org": date(2026, 11, 25),
    }


def test_readers_are_claimed_and_streamed_a_page_at_a_time(
    store: Store,
    make_settings,  # type: ignore[no-untyped-def]
    smtp_server: SmtpServer,
) -> None:
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 230)  # more than one page of readers
    settings = smtp_settings(make_settings, smtp_server.port, smtp={"concurrency": 2})
    held: list[int] = []

    def progress(event: SendEvent) -> None:
        if event.kind == "sent":
            held.append(statuses(store)["queued"])  # claimed, not yet answered

    summary = asyncio.run(send_editions(store, settings, now=NOW, progress=progress))
    assert summary.sent == 230 and len(smtp_server.messages) == 230
    # Claims are taken a page at a time, never for every reader at once.
    assert 0 < max(held) <= HAND_SEND_PAGE
