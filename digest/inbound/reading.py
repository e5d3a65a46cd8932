"""Reading what a stranger sent, defensively: every accessor here returns plain text or
nothing, whatever the bytes (broken encodings, unknown charsets, MIME nested without end).

Messages are parsed with the stdlib's `compat32` policy, the one `flufl.bounce` expects and the
most forgiving: header values stay the raw strings the sender wrote, and decoding happens here,
where a failure can only yield less text, never an exception.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from email.utils import getaddresses

MAX_PARTS = 200  # a report has three parts; a message with more is read no further
MAX_DEPTH = 8
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")
_SPACE = re.compile(r"\s+")


def parse(data: bytes) -> Message:
    return BytesParser(policy=compat32).parsebytes(data)


def parse_headers(text: str) -> Message:
    return HeaderParser(policy=compat32).parsestr(text, headersonly=True)


def header(message: Message, name: str, *, limit: int = 998) -> str:
    """One header's text, RFC 2047 words decoded, on one line, control characters gone."""
    try:
        raw = message.get(name)
        if raw is None:
            return ""
        text = str(raw)
        # An undecodable encoded word keeps its raw text.
        with contextlib.suppress(LookupError, UnicodeError, ValueError, TypeError, AttributeError):
            text = str(make_header(decode_header(text)))
    except Exception:  # a header object the parser could not make sense of
        return ""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()[:limit]


def address(value: str) -> str | None:
    """The first plain `local@domain` in an address header, or None. No line breaks, no
    spaces, one @: anything else cannot be answered safely."""
    try:
        pairs = getaddresses([value])
    except Exception:
        return None
    for _name, candidate in pairs:
        candidate = candidate.strip()
        if (
            candidate.count("@") == 1
            and 3 <= len(candidate) <= 320
            and not any(ch.isspace() or ord(ch) < 32 or ch in "<>()," for ch in candidate)
            and all(candidate.partition("@")[0::2])
        ):
            return candidate
    return None


def parts(message: Message) -> Iterator[Message]:
    """Every part, depth first, bounded in number and depth."""
    count = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack and count < MAX_PARTS:
        part, depth = stack.pop()
        count += 1
        yield part
        if depth >= MAX_DEPTH:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [child for child in payload if isinstance(child, Message)]
            stack.extend((child, depth + 1) for child in reversed(children))


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value or "").strip().lower()


def text_of(part: Message, *, limit: int) -> str:
    """A leaf part's text, transfer encoding and charset undone as far as they can be."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw[:limit] if isinstance(raw, str) else ""
    charset = "utf-8"
    with contextlib.suppress(Exception):  # a charset parameter that does not parse
        charset = part.get_content_charset() or "utf-8"
    try:
        return payload[: limit * 4].decode(charset, errors="replace")[:limit]
    except (LookupError, ValueError):
        return payload[: limit * 4].decode("utf-8", errors="replace")[:limit]


def first_text(message: Message, *, limit: int = 10_000) -> str:
    """The first text/plain body that is not an attachment: where a person writes."""
    for part in parts(message):
        if content_type(part) != "text/plain":
            continue
        disposition = header(part, "Content-Disposition").lower()
        if disposition.startswith("attachment"):
            continue
        return text_of(part, limit=limit)
    return ""
