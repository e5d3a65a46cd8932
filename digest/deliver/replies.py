"""Short plain-text replies to mail a reader sent (commands by mail, the unsubscribe address).

One text/plain part, quoted-printable, with the headers RFC 3834 asks of a response:
`Auto-Submitted: auto-replied` (so the reader's own vacation program stays quiet), In-Reply-To
and References to the message answered, a subject that says what it answers. Every header
value goes through `encode_header`, which refuses line breaks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

from digest.deliver.headers import domain_of, format_address, validate_address
from digest.deliver.message import OutgoingMessage
from digest.deliver.plain_text import compose_plain_text
from digest.settings import Settings

_ID = re.compile(r"<[^<>\s]{1,250}>")


def compose_reply(
    settings: Settings,
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    now: datetime,
    in_reply_to: str | None = None,
) -> OutgoingMessage:
    """The reply as bytes to hand to SMTP. `sender` is the address the reader wrote to."""
    to = validate_address(recipient, field="reply recipient")
    from_header = format_address(settings.sender.from_name, sender, field="reply sender")
    message_id = make_msgid(idstring="reply", domain=domain_of(sender))
    headers = [
        ("Date", format_datetime(now.astimezone(UTC))),
        ("From", from_header),
        ("To", to),
        ("Subject", subject),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-replied"),
    ]
    if in_reply_to is not None and _is_message_id(in_reply_to):
        headers += [("In-Reply-To", in_reply_to), ("References", in_reply_to)]
    return compose_plain_text(headers, text, recipient=to, message_id=message_id)


def _is_message_id(value: str) -> bool:
    return _ID.fullmatch(value.strip()) is not None
