"""`digest inbound` over real SMTP: what returning mail does to readers, and what it never does.

Each test runs the real command as a child process on a port of its own, sends it mail with
smtplib, and reads the outcome from the SQLite file and from the SMTP server replies go to.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.app.tokens import Purpose, Signer
from digest.store import Store
from digest.store.schema import DeliveryRow, SubscriberRow, SuppressionRow
from digest.store.subscribers import get_row_by_email
from tests.conftest import TEST_SECRET
from tests.delivery_support import add_readers
from tests.inbound_support import (
    CODEC,
    COMMANDS,
    UNSUBSCRIBE,
    Inbound,
    delivery,
    dsn,
    personal,
    spawn_inbound,
    write_config,
)
from tests.smtpd import SmtpServer

EDITION = date(2026, 11, 29)


@pytest.fixture
def inbound(
    tmp_path: Path, db_url: str, store: Store, smtp_server: SmtpServer
) -> Iterator[Inbound]:
    """`digest inbound` on the test's database, replying through `smtp_server`."""
    running = spawn_inbound(write_config(tmp_path / "config.toml", db_url, smtp_server.port))
    yield running
    assert running.stop() == 0, running.errors


def states(store: Store) -> dict[str, str]:
    with store.session() as session:
        return dict(session.execute(select(SubscriberRow.email, SubscriberRow.status)).all())


def suppressed(store: Store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(select(SuppressionRow.email_key)))


def ledger(store: Store) -> dict[int, tuple[str, str | None]]:
    with store.session() as session:
        rows = session.execute(select(DeliveryRow.id, DeliveryRow.status, DeliveryRow.last_error))
        return {i: (s, e) for i, s, e in rows}


@pytest.fixture
def readers(store: Store) -> dict[str, int]:
    """Three active readers, each with yesterday's digest sent: email → delivery id."""
    ids = add_readers(store, 3)
    return {f"reader{n}@example.org": delivery(store, i, EDITION) for n, i in enumerate(ids)}


def test_a_5_1_1_bounce_to_a_readers_verp_address_suppresses_exactly_that_reader(
    inbound: Inbound, store: Store, readers: dict[str, int]
) -> None:
    target = readers["reader1@example.org"]
    before = ledger(store)
    inbound.send(
        dsn("reader1@example.org", CODEC.address(target), "5.1.1"),
        to=CODEC.address(target),
        mail_from="",
    )
    [line] = inbound.handled(1)
    assert "reader1@example.org" in line and "5.1.1" in line and "suppressed" in line
    assert states(store) == {
        "reader0@example.org": "active",
        "reader1@example.org": "bounced",
        "reader2@example.org": "active",
    }
    assert suppressed(store) == {"reader1@example.org"}
    after = ledger(store)
    status, error = after[target]
    assert status == "bounced" and error is not None and "5.1.1" in error
    assert {k: v for k, v in after.items() if k != target} == {
        k: v for k, v in before.items() if k != target
    }


def test_a_4_x_x_bounce_counts_but_does_not_suppress_at_once(
    inbound: Inbound, store: Store, readers: dict[str, int]
) -> None:
    """Postfix reports a soft bounce that outlived its queue as Action: failed, Status 4.x.x:
    the Status class decides, so the full mailbox is not treated as a dead one."""
    target = readers["reader2@example.org"]
    verp = CODEC.address(target)
    inbound.send(dsn("reader2@example.org", verp, "4.2.2", action="failed"), to=verp, mail_from="")
    [line] = inbound.handled(1)
    assert "score 1" in line and "still mailed" in line
    assert states(store)["reader2@example.org"] == "active"
    assert suppressed(store) == set()
    status, error = ledger(store)[target]
    assert status == "sent" and error is not None and "4.2.2" in error


def test_a_forged_or_unsigned_verp_address_changes_nothing(
    inbound: Inbound, store: Store, readers: dict[str, int]
) -> None:
    genuine = CODEC.address(readers["reader0@example.org"])
    local, _, domain = genuine.partition("@")
    tampered = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + domain
    other_key = "bounces+" + "a" * 24 + "@" + domain
    before = (states(store), ledger(store), suppressed(store))
    for address in (tampered, other_key, f"bounces@{domain}"):
        inbound.send(dsn("reader0@example.org", address, "5.1.1"), to=address, mail_from="")
    lines = inbound.handled(3)
    assert all("ignored" in line and "not signed" in line for line in lines)
    assert (states(store), ledger(store), suppressed(store)) == before


def arf(original_mail_from: str, unsubscribe_link: str | None = None) -> bytes:
    headers = "From: digest@example.org\r\nTo: reader0@example.org\r\nSubject: Papers Digest\r\n"
    if unsubscribe_link:
        headers += f"List-Unsubscribe: <{unsubscribe_link}>\r\n"
    return (
        "From: feedback@isp.example.net\r\nTo: abuse@example.org\r\n"
        "Subject: Abuse report\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n'
        "\r\n--F\r\nContent-Type: text/plain\r\n\r\nA user reported this message as spam.\r\n"
        "--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        f"Original-Mail-From: <{original_mail_from}>\r\n"
        "Original-Rcpt-To: <redacted@isp.example.net>\r\n"
        "\r\n--F\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n--F--\r\n"
    ).encode()


def test_an_abuse_report_unsubscribes_and_suppresses_the_reader_it_names(
    inbound: Inbound, store: Store, readers: dict[str, int]
) -> None:
    verp = CODEC.address(readers["reader0@example.org"])
    inbound.send(arf(verp), to=verp)
    with store.session() as session:
        row = get_row_by_email(session, "reader2@example.org")
        assert row is not None
        token = Signer([TEST_SECRET]).sign(Purpose.UNSUBSCRIBE, row.public_id)
    link = f"https://digest.example.org/unsubscribe/{token}"
    # The second report reaches a plain address and names the reader only by the signed link.
    inbound.send(arf("someone@elsewhere.example", link), to=UNSUBSCRIBE)
    lines = inbound.handled(2)
    assert all("complaint" in line and "suppressed" in line for line in lines)
    assert states(store) == {
        "reader0@example.org": "unsubscribed",
        "reader1@example.org": "active",
        "reader2@example.org": "unsubscribed",
    }
    assert suppressed(store) == {"reader0@example.org", "reader2@example.org"}


def test_a_report_naming_nobody_we_signed_changes_nothing(
    inbound: Inbound, store: Store, readers: dict[str, int]
) -> None:
    forged_link = "https://digest.example.org/unsubscribe/not-a-token"
    inbound.send(arf("reader1@example.org", forged_link), to=UNSUBSCRIBE)
    [line] = inbound.handled(1)
    assert "ignored" in line
    assert set(states(store).values()) == {"active"} and suppressed(store) == set()


def test_mail_to_the_unsubscribe_address_unsubscribes_its_sender_and_tells_them(
    inbound: Inbound, store: Store, readers: dict[str, int], smtp_server: SmtpServer
) -> None:
    inbound.send(
        personal("Reader One <reader1@example.org>", UNSUBSCRIBE, "unsubscribe"), to=UNSUBSCRIBE
    )
    inbound.send(personal("stranger@example.net", UNSUBSCRIBE, "unsubscribe"), to=UNSUBSCRIBE)
    lines = inbound.handled(2)
    assert "unsubscribed" in lines[0] and "not a subscriber" in lines[1]
    assert states(store)["reader1@example.org"] == "unsubscribed"
    assert suppressed(store) == set()
    [reply] = smtp_server.messages
    assert reply.rcpt_tos == ["reader1@example.org"]
    message = reply.message
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] is not None
    assert "no more digests" in message.get_content()


def test_subscribe_by_mail_sends_a_confirmation_and_leaves_the_address_pending(
    inbound: Inbound, store: Store, smtp_server: SmtpServer
) -> None:
    inbound.send(personal("New Reader <new@example.net>", COMMANDS, "subscribe"), to=COMMANDS)
    [line] = inbound.handled(1)
    assert "send-confirmation" in line
    assert states(store) == {"new@example.net": "pending"}
    [confirmation] = smtp_server.messages
    assert confirmation.rcpt_tos == ["new@example.net"]
    assert "https://digest.example.org/confirm/" in confirmation.data.decode()


def test_an_auto_reply_gets_no_answer_and_changes_nothing(
    inbound: Inbound, store: Store, readers: dict[str, int], smtp_server: SmtpServer
) -> None:
    vacation = {"Auto_Submitted": "auto-replied"}
    inbound.send(
        personal("reader0@example.org", COMMANDS, "Out of office", **vacation), to=COMMANDS
    )
    inbound.send(
        personal("reader1@example.org", UNSUBSCRIBE, "unsubscribe", Precedence="bulk"),
        to=UNSUBSCRIBE,
    )
    inbound.send(personal("reader2@example.org", COMMANDS, "help"), to=COMMANDS, mail_from="")
    lines = inbound.handled(3)
    assert all("never answered" in line for line in lines)
    assert smtp_server.messages == []
    assert set(states(store).values()) == {"active"}


def test_commands_list_add_and_remove_topics_with_short_plain_replies(
    inbound: Inbound, store: Store, readers: dict[str, int], smtp_server: SmtpServer
) -> None:
    who = "reader0@example.org"
    inbound.send(personal(who, COMMANDS, "Re: topics"), to=COMMANDS)
    inbound.send(personal(who, COMMANDS, "", 'add "protein folding" OR alphafold'), to=COMMANDS)
    inbound.send(personal(who, COMMANDS, "add broken (query"), to=COMMANDS)
    inbound.send(personal(who, COMMANDS, "remove 1"), to=COMMANDS)
    inbound.send(personal(who, COMMANDS, "what is this"), to=COMMANDS)
    lines = inbound.handled(5)
    assert [line.split(":")[1].strip() for line in lines] == [
        "listed", "added", "refused", "removed", "answered"
    ]  # fmt: skip
    with store.session() as session:
        row = get_row_by_email(session, who)
        assert row is not None
        assert [t.query for t in row.topics] == ['"protein folding" OR alphafold']
    replies = [m.message for m in smtp_server.messages]
    assert all(m.get_content_type() == "text/plain" for m in replies)
    assert "1. Speculative decoding" in replies[0].get_content()
    assert "Not changed" in replies[2].get_content()
    assert "add QUERY" in replies[4].get_content()


def test_replies_to_one_address_are_rate_limited(
    tmp_path: Path, db_url: str, store: Store, readers: dict[str, int], smtp_server: SmtpServer
) -> None:
    config = write_config(
        tmp_path / "limited.toml", db_url, smtp_server.port, replies_per_address="2"
    )
    running = spawn_inbound(config)
    try:
        for _ in range(4):
            running.send(personal("reader0@example.org", COMMANDS, "help"), to=COMMANDS)
        running.handled(4)
    finally:
        assert running.stop() == 0
    assert len(smtp_server.messages) == 2


def test_mail_for_an_address_that_is_not_ours_is_refused(inbound: Inbound) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        inbound.send(
            personal("a@example.net", "someone@example.org", "hi"), to="someone@example.org"
        )
    [(code, _)] = refused.value.recipients.values()
    assert code == 550


def test_with_no_address_to_receive_the_command_says_so_in_one_line(digest) -> None:  # type: ignore[no-untyped-def]
    code, out, err = digest("inbound", "--port", "0")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: nothing to receive: set [bounces] domain, [sender] unsubscribe_mailto or "
        "[inbound] command_address"
    ]


def test_a_busy_port_is_one_line_naming_the_flag(digest, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_INBOUND__COMMAND_ADDRESS", "commands@example.org")
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", "k" * 40)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out, err = digest("inbound", "--port", str(port))
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: --port: cannot listen on 127.0.0.1:{port}")
