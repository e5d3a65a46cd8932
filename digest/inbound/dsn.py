"""Delivery status notifications: which recipients failed, and for good or for now.

A standard report (RFC 3464: multipart/report with a message/delivery-status part) is read
here, and classified by each recipient's `Status` class: 5.x.x is a hard bounce, 4.x.x a soft
one, 2.x.x no failure at all. Never by `Action`: Postfix reports a soft bounce that outlived
its queue as `Action: failed` with `Status: 4.x.x`, and that reader's mailbox was only full.
A block without a readable Status falls back to its Action (failed: hard, delayed: soft).

Everything else (the many shapes Exim, qmail, Exchange, Yahoo and others send) goes through
`flufl.bounce`, Mailman's maintained detectors: what they call permanent is hard, temporary
soft.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from flufl.bounce import all_failures

from digest.inbound.reading import address, content_type, header, param, parts

log = logging.getLogger(__name__)

Severity = Literal["hard", "soft"]
# An enhanced status code (RFC 3463), or the bare SMTP reply code some servers write there.
_STATUS = re.compile(r"\s*([245])(?:\.\d{1,3}\.\d{1,3}|\d\d)(?![\d.])")
DIAGNOSTIC_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient a report says was not delivered."""

    recipient: str | None
    severity: Severity
    status: str | None = None  # e.g. "5.1.1" when the report gave one
    diagnostic: str = ""

    def describe(self) -> str:
        kind = "hard bounce" if self.severity == "hard" else "soft bounce"
        status = f" {self.status}" if self.status else ""
        detail = f": {self.diagnostic}" if self.diagnostic else ""
        return f"{kind}{status}{detail}"[:DIAGNOSTIC_LIMIT]


def delivery_failures(message: Message) -> list[Failure]:
    """The failures a bounce reports: a standard report's own blocks when it has any (even if
    they say all was delivered), else what flufl.bounce's detectors find."""
    standard = _standard_failures(message)
    if standard is not None:
        return standard
    return _detected_failures(message)


def _standard_failures(message: Message) -> list[Failure] | None:
    found_blocks = False
    failures: list[Failure] = []
    for part in parts(message):
        if content_type(part) != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, Message):
                continue
            recipient_field = header(block, "Original-Recipient") or header(
                block, "Final-Recipient"
            )
            if not recipient_field:
                continue  # the per-message block
            found_blocks = True
            failure = _block_failure(block, recipient_field)
            if failure is not None:
                failures.append(failure)
    return failures if found_blocks else None


def _block_failure(block: Message, recipient_field: str) -> Failure | None:
    recipient = address(recipient_field.partition(";")[2] or recipient_field)
    diagnostic = header(block, "Diagnostic-Code", limit=DIAGNOSTIC_LIMIT).partition(";")[2]
    status_match = _STATUS.match(header(block, "Status"))
    if status_match is not None:
        status = status_match.group(0).strip()
        if status_match.group(1) == "2":
            return None
        severity: Severity = "hard" if status_match.group(1) == "5" else "soft"
        return Failure(recipient, severity, status, diagnostic.strip())
    action = header(block, "Action").lower()
    if action.startswith(("fail", "error")):
        return Failure(recipient, "hard", None, diagnostic.strip())
    if action.startswith("delayed"):
        return Failure(recipient, "soft", None, diagnostic.strip())
    return None


def _detected_failures(message: Message) -> list[Failure]:
    try:
        temporary, permanent = all_failures(message)
    except Exception as exc:  # a detector tripped over a shape nobody foresaw
        log.info("bounce detectors could not read a message: %s", exc)
        return []
    return [
        *(Failure(_decoded(r), "hard") for r in sorted(permanent)),
        *(Failure(_decoded(r), "soft") for r in sorted(temporary - permanent)),
    ]


def _decoded(recipient: bytes) -> str | None:
    return address(recipient.decode("ascii", errors="replace"))


def is_report(message: Message, report_type: str) -> bool:
    return content_type(message) == "multipart/report" and (
        param(message, "report-type") == report_type
    )
