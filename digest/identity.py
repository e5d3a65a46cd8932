"""Stable paper identity: the arXiv id when known, otherwise a digest of the normalised title.

Re-ingesting the same or an overlapping source must land on the same row, so the title key
ignores case, accents, punctuation and whitespace differences between captures.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_ARXIV_ID = re.compile(r"(?:arxiv[:/ ]|abs/|pdf/)?(\d{4}\.\d{4,5})(?:v\d+)?", re.IGNORECASE)
_OLD_ARXIV_ID = re.compile(r"([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


def title_key(title: str) -> str:
    """Case-, accent-, punctuation- and spacing-insensitive form of a title."""
    decomposed = unicodedata.normalize("NFKD", title)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


def extract_arxiv_id(text: str) -> str | None:
    """The bare arXiv id (no version) in an id, URL or `oai:arXiv.org:…` string, if any."""
    match = _ARXIV_ID.search(text)
    if match:
        return match.group(1)
    old = _OLD_ARXIV_ID.fullmatch(text.strip())
    return old.group(1) if old else None


def paper_id(arxiv_id: str | None, title: str) -> str:
    if arxiv_id:
        return arxiv_id
    digest = hashlib.sha256(title_key(title).encode("utf-8")).hexdigest()[:16]
    return f"t-{digest}"
