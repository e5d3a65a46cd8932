"""Paper sources: one module per input format, a registry by name, detection from content.

    parse(data, name=…)        bytes → papers (format detected unless given)
    read(spec)                 a path, `-` (stdin) or an http(s) URL → papers
    detect_format(data, name)  the registry name that fits the content

Everything raises SourceError (one line naming the file, and the line or JSON path) and nothing
else, so a caller can parse every source before storing any of them.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

import httpx

from digest.errors import SourceError
from digest.models import Paper
from digest.sources import arxiv, hf_json, hf_text
from digest.sources.base import ParseContext, SourceFormat, strip_bom
from digest.sources.fetch import fetch, is_url

__all__ = [
    "FORMATS",
    "ParseContext",
    "SourceFormat",
    "detect_format",
    "parse",
    "read",
    "read_bytes",
]

FORMATS: dict[str, SourceFormat] = {
    fmt.name: fmt for fmt in (hf_text.FORMAT, hf_json.FORMAT, arxiv.FORMAT)
}
EXPECTED_ANY = (
    "a Daily Papers text capture (hf-text), the Daily Papers API JSON (hf-json) "
    "or an arXiv feed (arxiv)"
)


def detect_format(data: bytes, name: str) -> str:
    """The first format whose sniffer accepts the content (structured formats first)."""
    if not strip_bom(data).strip():
        raise SourceError(f"{name}: empty file; expected {EXPECTED_ANY}")
    for fmt_name in ("hf-json", "arxiv", "hf-text"):
        if FORMATS[fmt_name].sniff(data):
            return fmt_name
    if b"\x00" in data[:4096]:
        raise SourceError(f"{name}: binary data, not a paper listing; expected {EXPECTED_ANY}")
    raise SourceError(
        f"{name}: cannot tell the format from the content; expected {EXPECTED_ANY} "
        "(or pass --format)"
    )


def parse(
    data: bytes,
    *,
    name: str,
    format: str | None = None,
    page_date: date | None = None,
    today: date | None = None,
) -> list[Paper]:
    """Papers in `data`. `page_date` overrides an hf-text page's own date; `today` resolves a
    page date given without a year (defaults to the current UTC date)."""
    fmt_name = format or detect_format(data, name)
    fmt = FORMATS.get(fmt_name)
    if fmt is None:
        raise SourceError(
            f"{name}: unknown format {fmt_name!r}; expected one of {', '.join(FORMATS)}"
        )
    if not strip_bom(data).strip():
        raise SourceError(f"{name}: empty file; expected {fmt.description}")
    context = ParseContext(name=name, today=today or datetime.now(UTC).date(), page_date=page_date)
    return fmt.parse(data, context)


def read_bytes(
    spec: str,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    stdin: BinaryIO | None = None,
) -> bytes:
    """The raw bytes behind a source spec; SourceError names the spec on any failure."""
    if spec == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        try:
            return stream.read()
        except OSError as exc:
            raise SourceError(f"<stdin>: cannot read ({exc.strerror or exc})") from None
    if is_url(spec):
        return fetch(spec, transport=transport, timeout=timeout)
    path = Path(spec)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{spec}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{spec}: is a folder; expected a file") from None
    except PermissionError:
        raise SourceError(f"{spec}: permission denied") from None
    except OSError as exc:
        raise SourceError(f"{spec}: cannot read ({exc.strerror or exc})") from None


def read(
    spec: str,
    *,
    format: str | None = None,
    page_date: date | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    stdin: BinaryIO | None = None,
    today: date | None = None,
) -> list[Paper]:
    """Read and parse one source: a path, `-` for stdin, or an http(s) URL."""
    data = read_bytes(spec, transport=transport, timeout=timeout, stdin=stdin)
    name = "<stdin>" if spec == "-" else spec
    return parse(data, name=name, format=format, page_date=page_date, today=today)
