"""Reading one inbound message: what it is, decided from its bytes alone (no store, no server).

Bounces are classified by their Status class, never by Action; abuse reports, commands and the
RFC 3834 rules for never answering are read here too. Whatever the bytes, nothing raises and
every message is decided (how fast is bench/inbound.py's business: no timing here).
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.inbound.automatic import automatic_reason
from digest.inbound.commands import Command, read_command
from digest.inbound.decide import (
    Bounce,
    CommandRequest,
    Complaint,
    Ignored,
    InboundAddresses,
    UnsubscribeRequest,
    decide,
)
from digest.inbound.reading import parse
from digest.inbound.server import read_safely
from tests.inbound_support import BOUNCE_DOMAIN, CODEC, COMMANDS, UNSUBSCRIBE, dsn, personal

ADDRESSES = InboundAddresses(verp=CODEC, unsubscribe=UNSUBSCRIBE, commands=COMMANDS)
VERP = CODEC.address(42)


def read(data: bytes, to: str = VERP, mail_from: str = "") -> object:
    return decide(data, mail_from=mail_from, recipient=to, addresses=ADDRESSES)


@pytest.mark.parametrize(
    ("status", "action", "severity"),
    [
        ("5.1.1", "failed", "hard"),
        ("5.7.1", "failed", "hard"),
        ("4.2.2", "failed", "soft"),  # Postfix: a soft bounce that outlived the queue
        ("4.4.7", "delayed", "soft"),
        ("550", "failure", "hard"),  # a bare SMTP code where the status belongs
        ("452", "failed", "soft"),
    ],
)
def test_a_standard_report_is_classified_by_its_status_class(
    status: str, action: str, severity: str
) -> None:
    decision = read(dsn("reader@example.org", VERP, status, action=action))
    assert isinstance(decision, Bounce) and decision.delivery_id == 42
    assert decision.worst.severity == severity and decision.worst.status == status
    assert decision.worst.recipient == "reader@example.org"


def test_a_success_report_is_no_bounce() -> None:
    decision = read(dsn("reader@example.org", VERP, "2.0.0", action="delivered"))
    assert isinstance(decision, Ignored) and "no delivery failure" in decision.reason


def test_a_report_without_status_falls_back_to_its_action() -> None:
    data = dsn("reader@example.org", VERP, "x").replace(b"Status: x\r\n", b"")
    decision = read(data)
    assert isinstance(decision, Bounce) and decision.worst.severity == "hard"


def test_a_non_standard_bounce_is_read_by_the_detectors() -> None:
    qmail = (
        b"From: MAILER-DAEMON@mx.example.net\r\nTo: x\r\nSubject: failure notice\r\n\r\n"
        b"Hi. This is the qmail-send program at mx.example.net.\r\n"
        b"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        b"This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        b"<reader@example.org>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
        b"--- Below this line is a copy of the message.\r\n"
    )
    decision = read(qmail)
    assert isinstance(decision, Bounce)
    assert [(f.recipient, f.severity) for f in decision.failures] == [
        ("reader@example.org", "hard")
    ]


def test_a_vacation_reply_to_a_bounce_address_is_no_bounce() -> None:
    decision = read(personal("reader@example.org", VERP, "Out of office", "Back Monday."))
    assert isinstance(decision, Ignored)


@pytest.mark.parametrize(
    "address",
    [
        CODEC.address(43).replace("bounces+", "bounces+a"),
        "bounces+" + "a" * 24 + "@" + BOUNCE_DOMAIN,
        f"bounces@{BOUNCE_DOMAIN}",
        f"bounces+!!!!@{BOUNCE_DOMAIN}",
    ],
)
def test_a_bounce_to_an_address_we_did_not_sign_names_nothing(address: str) -> None:
    decision = read(dsn("reader@example.org", address, "5.1.1"), to=address)
    assert isinstance(decision, Ignored) and "not signed" in decision.reason


def test_a_verp_address_survives_case_changes_and_key_rotation() -> None:
    from digest.inbound.verp import VerpCodec

    assert CODEC.delivery(VERP.upper()) == 42
    rotated = VerpCodec(
        ["newer-key", "test-secret-key-not-for-production-0123456789"], BOUNCE_DOMAIN
    )
    assert rotated.delivery(VERP) == 42
    assert VerpCodec(["another-site"], BOUNCE_DOMAIN).delivery(VERP) is None
    assert len(VERP.partition("@")[0]) <= 64


def test_abuse_reports_are_complaints_wherever_they_arrive() -> None:
    message = EmailMessage()
    message["From"] = "fbl@isp.example.net"
    message["To"] = UNSUBSCRIBE
    message["Subject"] = "report"
    message.set_content("This message was reported as spam.")
    report = EmailMessage()
    report["Feedback-Type"] = "abuse"
    report["Original-Mail-From"] = f"<{VERP}>"
    message.add_attachment(report, subtype="feedback-report")
    del message["Content-Type"]
    boundary = message.get_boundary() or "X"
    message["Content-Type"] = (
        f'multipart/report; report-type=feedback-report; boundary="{boundary}"'
    )
    decision = read(message.as_bytes(), to=UNSUBSCRIBE, mail_from="fbl@isp.example.net")
    assert decision == Complaint("abuse", 42, ())


@pytest.mark.parametrize(
    ("headers", "mail_from", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "a@example.net", "Auto-Submitted"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y"}, "a@example.net", "Auto-Submitted"),
        ({"Precedence": "bulk"}, "a@example.net", "Precedence"),
        ({"Precedence": "junk"}, "a@example.net", "Precedence"),
        ({"Precedence": "list"}, "a@example.net", "Precedence"),
        ({"List-Id": "<x.example.net>"}, "a@example.net", "List-Id"),
        ({"X-Auto-Response-Suppress": "OOF, AutoReply"}, "a@example.net", "Suppress"),
        ({"Return-Path": "<>"}, "a@example.net", "Return-Path"),
        ({}, "", "empty envelope sender"),
        ({}, "<>", "empty envelope sender"),
        ({}, "MAILER-DAEMON@mx.example.net", "mailer daemon"),
    ],
)
def test_automatic_mail_is_never_answered(
    headers: dict[str, str], mail_from: str, reason: str
) -> None:
    data = personal(
        "a@example.net", COMMANDS, "help", **{k.replace("-", "_"): v for k, v in headers.items()}
    )
    found = automatic_reason(parse(data), mail_from)
    assert found is not None and reason in found
    decision = read(data, to=COMMANDS, mail_from=mail_from)
    assert isinstance(decision, Ignored) and "never answered" in decision.reason


def test_a_person_writing_auto_submitted_no_is_answered() -> None:
    data = personal("a@example.net", COMMANDS, "help", Auto_Submitted="no")
    assert read(data, to=COMMANDS, mail_from="a@example.net") == CommandRequest(
        "a@example.net", Command("help"), decision_id(data)
    )


def decision_id(data: bytes) -> str:
    return str(parse(data)["Message-ID"])


def test_mail_to_the_unsubscribe_address_names_its_from_address() -> None:
    data = personal('"Ada L." <Ada@Example.org>', UNSUBSCRIBE, "")
    decision = read(data, to=UNSUBSCRIBE.upper(), mail_from="bounce-srs@fwd.example")
    assert decision == UnsubscribeRequest("Ada@Example.org", decision_id(data))


@pytest.mark.parametrize(
    ("subject", "body", "command"),
    [
        ("subscribe", "", Command("subscribe")),
        ("Re: Fwd: UNSUBSCRIBE", "", Command("unsubscribe")),
        ("AW: topics", "", Command("topics")),
        ("", "\n\n  add  diffusion   OR gan \n-- \nsig", Command("add", "diffusion OR gan")),
        ("Hello", "remove 2", Command("remove", "2")),  # no command in the subject: the body
        ("", "remove 02", Command("remove", "2")),
        (
            "remove two",
            "",
            Command("remove", "two", "remove needs a topic's number, as topics lists them"),
        ),
        ("add", "", Command("add", problem="add needs a topic query, e.g. add diffusion OR gan")),
        ("", "help me", Command("help")),
        ("", "", None),
    ],
)
def test_commands_are_read_from_the_subject_or_the_first_line(
    subject: str, body: str, command: Command | None
) -> None:
    assert read_command(subject, body) == command


MIME_PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n",
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=B\r\n",
        b"Content-Type: message/delivery-status\r\n",
        b"Content-Type: message/feedback-report\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: text/plain; charset=x-unknown\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Status: 5.1.1\r\n",
        b"Status: 4.\r\n",
        b"Action: failed\r\n",
        b"Final-Recipient: rfc822; reader@example.org\r\n",
        b"Final-Recipient: ;;;\r\n",
        b"Subject: =?utf-8?b?////?=\r\n",
        b"From: =?x?q?broken?= <@>\r\n",
        b"Feedback-Type: abuse\r\n",
        b"Original-Mail-From: <" + VERP.encode() + b">\r\n",
        b"\r\n",
        b"--B\r\n",
        b"--B--\r\n",
        b"\xff\xfe\x00garbage\r\n",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(MIME_PIECES | st.binary(max_size=60), max_size=40),
    st.sampled_from([VERP, UNSUBSCRIBE, COMMANDS]),
)
def test_no_message_crashes_the_reader(pieces: list[bytes], to: str) -> None:
    data = b"".join(pieces)
    decision = decide(data, mail_from="", recipient=to, addresses=ADDRESSES)
    assert decision is not None
    assert read_safely(data, mail_from="x@y.example", recipient=to, addresses=ADDRESSES)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=400))
def test_no_text_crashes_the_command_reader(subject: str, body: str) -> None:
    command = read_command(subject, body)
    assert command is None or len(command.argument) <= 500


@settings(deadline=None)
@given(st.text(max_size=80))
def test_only_signed_addresses_name_a_delivery(local: str) -> None:
    """Guessing a signature is a 2**-80 chance: no generated local part ever names one."""
    assert CODEC.delivery(f"bounces+{local}@{BOUNCE_DOMAIN}") is None
