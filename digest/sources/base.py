"""What every source format shares: the parser interface and the text decoding rules.

A format is a pure function from bytes to papers plus a cheap content sniffer, so formats can be
detected from content alone (a URL or `-` carries no file extension) and parsed without I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from digest.errors import SourceError
from digest.models import Paper


@dataclass(frozen=True, slots=True)
class ParseContext:
    """Where the bytes came from (for messages) and the dates that resolve partial dates."""

    name: str
    today: date
    page_date: date | None = None


class SourceFormat(Protocol):
    """One input format. `sniff` must be cheap and never raise; `parse` raises only SourceError."""

    name: str
    description: str

    def sniff(self, data: bytes) -> bool: ...

    def parse(self, data: bytes, context: ParseContext) -> list[Paper]: ...


def decode_text(data: bytes, name: str, expected: str) -> str:
    """UTF-8 text without a BOM; anything else is a one-line error naming the first bad byte."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"expected {expected}"
        ) from None
    if "\x00" in text:
        offset = text.index("\x00")
        raise SourceError(
            f"{name}: binary data (NUL character at offset {offset}); expected {expected}"
        )
    return text


def strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data
