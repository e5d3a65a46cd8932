"""Header values that are safe to put on the wire: validated, encoded, folded.

No header is built from unvalidated text. Every address goes through email-validator; any value
holding CR, LF or NUL is refused outright (that is how header injection and SMTP smuggling
start), and so is a line that cannot be folded under the 998-octet limit of RFC 5322.
Non-ASCII display names and subjects are RFC 2047 encoded.
"""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr
from functools import lru_cache

from digest.addresses import check_address
from digest.errors import DeliveryError, map_value_errors

MAX_LINE = 998  # octets, RFC 5322 2.1.1
FOLD_AT = 78  # preferred width
_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ':'
_WORD_PREFIX, _WORD_SUFFIX, _LINE_LIMIT = "=?utf-8?b?", "?=", 76
# Header names already found printable: the same dozen names head every mail.
_CHECKED_NAMES: set[str] = set()
_CHECKED_NAMES_LIMIT = 256


def check_value(field: str, value: str) -> None:
    """DeliveryError for a value that could break out of its header line; `field` names it."""
    # Three `in` tests, not any() over a generator: every header of every mail comes here.
    if "\r" in value or "\n" in value or "\0" in value:
        raise DeliveryError(f"{field}: CR, LF or NUL in {value[:60]!r}; refusing to send")


def validate_address(address: str, *, field: str) -> str:
    """The address in its ASCII form (IDN domains as punycode), or DeliveryError naming `field`.

    The rule is digest.addresses (a non-ASCII local part would need SMTPUTF8 end to end).
    """
    check_value(field, address)
    with map_value_errors(where=field, error=DeliveryError):
        return check_address(address).ascii


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def format_address(name: str | None, address: str, *, field: str) -> str:
    """`Name <addr>` with the name quoted or RFC 2047 encoded as needed; address validated."""
    return named_address(name, validate_address(address, field=field), field=field)


def named_address(name: str | None, ascii_address: str, *, field: str) -> str:
    """`format_address` for an address `validate_address` has already returned (a message
    names its sender and its reader twice: validated once each)."""
    if not name:
        return ascii_address
    check_value(field, name)
    return formataddr((" ".join(name.split()), ascii_address), charset="utf-8")


def encode_header(name: str, value: str) -> str:
    """`Name: value` as wire text (CRLF folds, no trailing CRLF), ASCII only."""
    if name not in _CHECKED_NAMES:
        if not _NAME.fullmatch(name):
            raise DeliveryError(f"header name {name!r} is not printable ASCII")
        if len(_CHECKED_NAMES) < _CHECKED_NAMES_LIMIT:
            _CHECKED_NAMES.add(name)
    check_value(f"header {name}", value)
    # A literal "=?…?=" in a subject would be decoded by the reader's client: encode it too.
    if not value.isascii() or (name.lower() == "subject" and "=?" in value):
        return f"{name}: {encoded_words(value, len(name) + 2)}"
    line = f"{name}: {value}"
    if len(line) <= FOLD_AT:
        return line
    return _fold(line, name)


def encoded_words(value: str, first_offset: int) -> str:
    """RFC 2047 base64 encoded-words split between whole characters, one per folded line, each
    line at most 76 characters (RFC 2047 2). email.header.Header does the same ~50x slower: it
    measures every candidate split in quoted-printable first."""
    raw = value.encode("utf-8")
    overhead = len(_WORD_PREFIX) + len(_WORD_SUFFIX)
    # Raw bytes in the first word; at least 6, so a 4-byte character always fits.
    budget = max(6, (_LINE_LIMIT - first_offset - overhead) // 4 * 3)
    words: list[str] = []
    start = 0
    while len(raw) - start > budget:
        cut = start + budget
        while raw[cut] & 0xC0 == 0x80:  # never split a character: back off continuation bytes
            cut -= 1
        words.append(_word(raw[start:cut]))
        start = cut
        budget = (_LINE_LIMIT - 1 - overhead) // 4 * 3
    words.append(_word(raw[start:]))
    return "\r\n ".join(words)


def _word(raw: bytes) -> str:
    encoded = binascii.b2a_base64(raw, newline=False).decode("ascii")
    return f"{_WORD_PREFIX}{encoded}{_WORD_SUFFIX}"


def _fold(line: str, name: str) -> str:
    """Greedy folding at spaces; unfolding (removing each CRLF) gives the value back exactly."""
    words = line.split(" ")
    out: list[str] = []
    current = f"{words[0]} {words[1]}"  # never fold between the name and the value
    for word in words[2:]:
        if len(current) + 1 + len(word) > FOLD_AT and current.strip():
            out.append(current)
            current = " " + word
        else:
            current = f"{current} {word}"
    out.append(current)
    if any(len(part) > MAX_LINE for part in out):
        raise DeliveryError(f"header {name}: a word is longer than {MAX_LINE} octets")
    return "\r\n".join(out)


@lru_cache(maxsize=8)
def date_header(now: datetime) -> str:
    """Formatted once per second: messages handed over in the same second share it."""
    return format_datetime(now.astimezone(UTC))


def stamp_date(data: bytes, when: datetime) -> bytes:
    """`data` with its leading `Date:` header set to `when`, the moment it is handed to the
    server: a run paced over hours must not stamp its last mail with the time it started
    (receivers score a Date hours in the past as spam). compose writes Date first, so only the
    first line is looked at; a message without one is returned as it is. The MIME boundary does
    not depend on it (it only has to be unique, and the Message-ID keeps it so)."""
    if not data.startswith(b"Date: "):
        return data
    end = data.find(b"\r\n")
    if end < 0:
        return data
    stamp = date_header(when.replace(microsecond=0)).encode("ascii")
    return b"Date: " + stamp + data[end:]
