"""`send_now`: one-off mails (confirmations, notices) over a single connection, errors raised."""

from __future__ import annotations

import asyncio
import socket

import pytest

from digest.deliver.message import OutgoingMessage
from digest.deliver.transactional import send_now
from digest.errors import PermanentDeliveryError, TransientDeliveryError
from tests.delivery_support import smtp_settings
from tests.smtpd import RecordingHandler, SmtpServer

DATA = b"From: digest@example.org\r\nTo: ada@example.org\r\nSubject: Confirm\r\n\r\nHi\r\n"


def message(recipient: str = "ada@example.org") -> OutgoingMessage:
    return OutgoingMessage(recipient, "<c1@example.org>", DATA, None, None)


def test_the_message_is_handed_over_as_is(make_settings, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(send_now(smtp_settings(make_settings, smtp_server.port), message()))
    [received] = smtp_server.messages
    assert (received.mail_from, received.rcpt_tos, received.data) == (
        "digest@example.org",
        ["ada@example.org"],
        DATA,
    )


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (RecordingHandler(rcpt_fault=lambda a: "550 5.1.1 no such user"), PermanentDeliveryError),
        (RecordingHandler(fault=lambda e: "554 5.7.1 rejected"), PermanentDeliveryError),
        (RecordingHandler(fault=lambda e: "451 4.3.0 try later"), TransientDeliveryError),
        (RecordingHandler(rcpt_fault=lambda a: "450 4.2.0 mailbox busy"), TransientDeliveryError),
    ],
)
def test_refusals_raise_by_kind(make_settings, handler: RecordingHandler, error: type) -> None:  # type: ignore[no-untyped-def]
    with SmtpServer(handler) as server, pytest.raises(error):
        asyncio.run(send_now(smtp_settings(make_settings, server.port), message()))


def test_an_unreachable_server_is_transient(make_settings) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientDeliveryError, match="try again later"):
        asyncio.run(send_now(smtp_settings(make_settings, port), message()))


def test_a_forged_recipient_is_refused_before_connecting(
    make_settings, smtp_server: SmtpServer
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermanentDeliveryError, match="line break"):
        asyncio.run(
            send_now(
                smtp_settings(make_settings, smtp_server.port),
                message("a@example.org\r\nRCPT TO:<b@x.org>"),
            )
        )
    assert smtp_server.messages == []
