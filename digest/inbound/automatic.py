"""Mail that must never be answered (RFC 3834 section 2, and what mailers do in practice).

Answering an automatic message is how two robots mail each other forever, and answering a
bounce or a list mail is backscatter. So a reply is only ever sent to mail a person wrote:
not to a bounce (empty envelope sender or Return-Path), not to anything that says it was sent
automatically (Auto-Submitted other than "no", the Microsoft and vacation-program headers), not
to list or bulk mail (Precedence bulk/list/junk, List-Id), and not to a mailer daemon.
"""

from __future__ import annotations

from email.message import Message

from digest.inbound.reading import header

_BULK = frozenset({"bulk", "list", "junk"})
_SUPPRESSING = frozenset({"all", "autoreply", "oof"})
_ROBOTS = ("mailer-daemon", "postmaster")


def automatic_reason(message: Message, mail_from: str) -> str | None:
    """Why this message must not be answered, or None when a person may have written it."""
    sender = mail_from.strip().strip("<>").strip()
    if not sender:
        return "empty envelope sender (a bounce or an automatic notice)"
    if "Return-Path" in message and not header(message, "Return-Path").strip("<> "):
        return "empty Return-Path (a bounce or an automatic notice)"
    auto = header(message, "Auto-Submitted").partition(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = header(message, "Precedence").strip().lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    if header(message, "List-Id"):
        return "list mail (List-Id)"
    suppress = {
        word.strip().lower() for word in header(message, "X-Auto-Response-Suppress").split(",")
    }
    if suppress & _SUPPRESSING:
        return "X-Auto-Response-Suppress"
    if header(message, "X-Autoreply") or header(message, "X-Autorespond"):
        return "an automatic reply"
    local = sender.rpartition("@")[0].lower()
    if local.startswith(_ROBOTS):
        return "from a mailer daemon"
    return None
