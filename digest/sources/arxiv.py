"""`arxiv`: arXiv feeds through feedparser: the Atom API (`export.arxiv.org/api/query`) and the
listing feeds (`rss.arxiv.org/atom/cs.AI`, `rss.arxiv.org/rss/cs.AI`).

The API gives one `<author><name>` per author; the listing feeds give one `dc:creator` with every
name comma-separated and prefix the abstract with `arXiv:<id> Announce Type: new` lines. Both are
reduced to the same Paper. A feed that is not well-formed XML is refused with its line and column
rather than half-parsed (feedparser would otherwise return whatever it got before the break).
"""

from __future__ import annotations

import html
import re
import xml.sax
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from digest.errors import SourceError
from digest.identity import extract_arxiv_id, normalise_whitespace, paper_id
from digest.models import Paper
from digest.sources.base import ParseContext, decode_text, strip_bom
from digest.sources.limits import admit

EXPECTED = "an arXiv Atom API or RSS feed"

_TAG = re.compile(r"<[^>]+>")
_ANNOUNCE = re.compile(
    r"^arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.IGNORECASE | re.DOTALL
)
_TITLE_SUFFIX = re.compile(r"\s*\(arXiv:[^)]*\)\s*$")
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def _plain(value: str) -> str:
    """Text of a feed field that may carry HTML (old RSS descriptions and creators)."""
    if "<" in value:
        value = _TAG.sub(" ", value)
    return normalise_whitespace(html.unescape(value))


def _authors(entry: Any) -> tuple[str, ...]:
    raw = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, dict)]
    if not raw and entry.get("author"):
        raw = [entry["author"]]
    names: list[str] = []
    for item in raw:
        text = _plain(str(item))
        # Listing feeds pack every author into one dc:creator, comma-separated.
        parts = _AUTHOR_SPLIT.split(text) if len(raw) == 1 else [text]
        names.extend(part.strip() for part in parts if part.strip())
    return tuple(names)


def _arxiv_id(value: str) -> str | None:
    """The bare id in an entry id or link; old ids (`hep-th/9901001`) only parse on their own."""
    _, marker, rest = value.partition("/abs/")
    return extract_arxiv_id(rest if marker else value)


def _published(entry: Any) -> date | None:
    """The date as the feed wrote it (its own zone), not shifted to UTC."""
    for key in ("published", "updated"):
        raw = entry.get(key)
        if not raw:
            continue
        raw = str(raw).strip()
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
        except ValueError:
            pass
        try:
            return parsedate_to_datetime(raw).date()
        except (TypeError, ValueError, IndexError):
            pass
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    return None


def _entry(entry: Any, name: str, position: int) -> Paper:
    title = _TITLE_SUFFIX.sub("", _plain(str(entry.get("title", ""))))
    if not title:
        raise SourceError(f"{name}: entry {position}: no <title>; expected {EXPECTED}")
    link = str(entry.get("link", ""))
    raw_id = str(entry.get("id", ""))
    arxiv_id = _arxiv_id(raw_id) or (_arxiv_id(link) if link else None)
    if "api/errors" in raw_id:
        summary = _plain(str(entry.get("summary", "")))
        raise SourceError(f"{name}: the arXiv API answered with an error: {summary or title}")
    abstract = _ANNOUNCE.sub("", str(entry.get("summary", "")).strip())
    url = f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else (link or None)
    authors = _authors(entry)
    candidate = Paper(
        id=paper_id(arxiv_id, title),
        title=title,
        abstract=_plain(abstract),
        authors=authors,
        author_count=len(authors) or None,
        published=_published(entry),
        arxiv_id=arxiv_id,
        url=url,
    )
    return admit(candidate, lambda field: f"{name}: entry {position}: {field}")


class ArxivFormat:
    name = "arxiv"
    description = "arXiv Atom API or RSS feed"

    def sniff(self, data: bytes) -> bool:
        head = strip_bom(data[:4096]).lstrip()
        return head.startswith(b"<") and any(
            marker in head for marker in (b"<feed", b"<rss", b"<rdf:RDF", b"<RDF")
        )

    def parse(self, data: bytes, context: ParseContext) -> list[Paper]:
        name = context.name
        text = decode_text(data, name, EXPECTED)
        if not text.strip():
            raise SourceError(f"{name}: empty file; expected {EXPECTED}")
        parsed = feedparser.parse(strip_bom(data))
        problem = parsed.get("bozo_exception")
        if isinstance(problem, xml.sax.SAXParseException):
            raise SourceError(
                f"{name}:{problem.getLineNumber()}:{problem.getColumnNumber()}: "
                f"not well-formed XML ({problem.getMessage()}); expected {EXPECTED}"
            )
        if not parsed.get("version"):
            raise SourceError(f"{name}: not an Atom or RSS feed; expected {EXPECTED}")
        return [_entry(entry, name, index + 1) for index, entry in enumerate(parsed.entries)]


FORMAT = ArxivFormat()
