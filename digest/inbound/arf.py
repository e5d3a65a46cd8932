"""Abuse reports (RFC 5965, "ARF"): a reader pressed "this is spam" at their provider.

A report is multipart/report with report-type=feedback-report: a human part, a
message/feedback-report part (Feedback-Type, Original-Mail-From, Original-Rcpt-To) and the
original message or its headers. Nothing in it is trusted as an identity by itself: what names
the reader is a signed value we wrote into the original, the VERP envelope sender
(Original-Mail-From) or the unsubscribe link in its List-Unsubscribe header, which the use case
verifies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from digest.inbound.dsn import is_report
from digest.inbound.reading import address, content_type, header, parse_headers, parts, text_of

# Types that mean "stop mailing me"; not-spam and auth-failure reports do not.
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus"})
_LINK = re.compile(r"<(https?://[^>\s]{1,500})>")


@dataclass(frozen=True, slots=True)
class Feedback:
    feedback_type: str
    original_mail_from: str | None
    original_rcpt_to: str | None
    unsubscribe_links: tuple[str, ...]

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type in COMPLAINT_TYPES


def feedback(message: Message) -> Feedback | None:
    """The report's fields, or None when the message is not a feedback report."""
    if not is_report(message, "feedback-report"):
        return None
    fields: Message | None = None
    original: Message | None = None
    for part in parts(message):
        kind = content_type(part)
        if kind == "message/feedback-report" and fields is None:
            fields = _report_fields(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_headers(part)
    if fields is None:
        return None
    links: tuple[str, ...] = ()
    if original is not None:
        links = tuple(_LINK.findall(header(original, "List-Unsubscribe", limit=2000)))
    return Feedback(
        feedback_type=header(fields, "Feedback-Type").lower(),
        original_mail_from=address(header(fields, "Original-Mail-From")),
        original_rcpt_to=address(header(fields, "Original-Rcpt-To")),
        unsubscribe_links=links,
    )


def _report_fields(part: Message) -> Message:
    """message/feedback-report: the stdlib reads its fields as an enclosed message's headers;
    some senders' bodies come back as plain text instead."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return parse_headers(text_of(part, limit=20_000))


def _original_headers(part: Message) -> Message | None:
    if content_type(part) == "message/rfc822":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return None
    return parse_headers(text_of(part, limit=64_000))
