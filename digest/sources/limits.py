"""What a source may put into a Paper: one sanitising step and a documented cap per field.

Every format ends each paper with `admit`, so the rules hold whatever the format and whatever
the caller. Text is sanitised first: NUL and the other C0 controls (tab and newline become
spaces like any whitespace), DEL, the C1 controls, and the bidi embeddings, overrides and
isolates (U+202A–U+202E, U+2066–U+2069) are removed: RFC 5322 forbids NUL in mail, and a
right-to-left override in a title makes a reader's client show text other than the one sent.
Then every field is held to its cap (README "Source limits"):

    field          cap        over the cap
    source id      64         refused (hf-json `id`; an arXiv id is matched by pattern anyway)
    title          1,000      refused: a "title" that long is a page parsed wrong
    abstract       20,000     truncated at a word, with a warning
    author name    200        truncated, with a warning
    author names   1,000      the first 1,000 kept, with a warning; author_count stays the
                              source's count
    author_count   100,000    refused
    organization   200        truncated, with a warning
    submitter      200        truncated, with a warning
    url            2,048      dropped (None), with a warning; also when not http(s) or not one
                              token: links in mail are built from validated ids, not copied
    hf-text line   200,000    refused before parsing (a page with one giant line is not a
                              listing, and normalising it would cost seconds and gigabytes)

A refusal is a SourceError naming the file and the line or JSON path; a warning goes to the
`digest.sources` logger (the CLI prints it as a `warning:` line).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace

from digest.errors import SourceError
from digest.identity import normalise_whitespace, paper_id
from digest.models import Paper

MAX_ID = 64
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_AUTHOR_NAME = 200
MAX_AUTHORS = 1_000
MAX_AUTHOR_COUNT = 100_000
MAX_ORGANIZATION = 200
MAX_SUBMITTER = 200
MAX_URL = 2_048
MAX_LINE = 200_000

log = logging.getLogger("digest.sources")

# Field name (title, abstract, authors[3], …) → where it is, for messages: `file:12: title`
# or `file: $[3].paper.title`.
Locate = Callable[[str], str]

# Controls that separate words become spaces; the rest vanish.
_SPACES = {*range(0x09, 0x0E), *range(0x1C, 0x20), 0x85}
_REMOVED = {
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}
_TABLE: dict[int, str | None] = {code: (" " if code in _SPACES else None) for code in _REMOVED}
_URL = re.compile(r"https?://[^\s<>\"'`\\{}|^]+", re.IGNORECASE)


def sanitise(text: str) -> str:
    """`text` without control and bidi-control characters, whitespace collapsed to one line."""
    if not text.isprintable():  # one C-level scan; most fields need nothing more
        text = text.translate(_TABLE)
    return normalise_whitespace(text)


def check_source_id(raw: str, where: str) -> str:
    """A source's own id, refused past MAX_ID characters (it names one paper, not a sentence)."""
    if len(raw) > MAX_ID:
        raise SourceError(f"{where}: {len(raw)} characters; an id has at most {MAX_ID}")
    return raw


def safe_url(url: str | None, where: str) -> str | None:
    """An absolute http(s) URL that is one token, or None (with a warning) for anything else."""
    if not url:
        return None
    if len(url) <= MAX_URL and _URL.fullmatch(url):
        return url
    log.warning("%s: not a plain http(s) URL of at most %d characters; dropped", where, MAX_URL)
    return None


def _truncated(text: str, cap: int, where: str) -> str:
    if len(text) <= cap:
        return text
    log.warning("%s: %d characters, truncated to %d", where, len(text), cap)
    cut = text[: cap - 1]
    space = cut.rfind(" ")
    if space > cap // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _optional(text: str | None, cap: int, where: str) -> str | None:
    if text is None:
        return None
    return _truncated(sanitise(text), cap, where) or None


def admit(paper: Paper, at: Locate) -> Paper:
    """`paper` sanitised and held to the caps above; SourceError for a refused field."""
    title = sanitise(paper.title)
    if len(title) > MAX_TITLE:
        raise SourceError(
            f"{at('title')}: {len(title)} characters; a title has at most {MAX_TITLE} "
            "(is this a paper listing?)"
        )
    if not title:
        raise SourceError(f"{at('title')}: empty; expected the paper's title")
    if paper.author_count is not None and paper.author_count > MAX_AUTHOR_COUNT:
        raise SourceError(
            f"{at('author_count')}: {paper.author_count} authors; at most {MAX_AUTHOR_COUNT}"
        )
    names = [
        _truncated(name, MAX_AUTHOR_NAME, at(f"authors[{index}]"))
        for index, raw in enumerate(paper.authors)
        if (name := sanitise(raw))
    ]
    if len(names) > MAX_AUTHORS:
        log.warning("%s: %d names, the first %d kept", at("authors"), len(names), MAX_AUTHORS)
        names = names[:MAX_AUTHORS]
    return replace(
        paper,
        # The parser keyed the paper by its raw title: a new key only if sanitising changed it.
        id=paper.id if paper.arxiv_id or title == paper.title else paper_id(None, title),
        title=title,
        abstract=_truncated(sanitise(paper.abstract), MAX_ABSTRACT, at("abstract")),
        authors=tuple(names),
        organization=_optional(paper.organization, MAX_ORGANIZATION, at("organization")),
        submitter=_optional(paper.submitter, MAX_SUBMITTER, at("submitter")),
        url=safe_url(paper.url, at("url")),
    )
