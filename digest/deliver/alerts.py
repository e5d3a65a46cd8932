"""The operator's alert mail: one short text/plain message, marked auto-generated (RFC 3834) so
no vacation responder answers it."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

from digest.deliver.headers import domain_of, format_address, validate_address
from digest.deliver.message import OutgoingMessage
from digest.deliver.plain_text import compose_plain_text
from digest.settings import Settings


def compose_alert(
    settings: Settings, *, recipient: str, subject: str, text: str, now: datetime
) -> OutgoingMessage:
    to = validate_address(recipient, field="[alerts] email")
    sender = settings.sender
    message_id = make_msgid(idstring="alert", domain=domain_of(sender.from_address))
    headers = [
        ("Date", format_datetime(now.astimezone(UTC))),
        ("From", format_address(sender.from_name, sender.from_address, field="from_address")),
        ("To", to),
        ("Subject", f"[{settings.digest.list_name}] {subject}"),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
    ]
    return compose_plain_text(headers, text, recipient=to, message_id=message_id)
