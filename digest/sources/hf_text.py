"""`hf-text`: the Daily Papers listing page captured as text (copy-paste or a text dump).

The page is a few header lines and the page date, then per paper a title line, an abstract
paragraph and, for most papers, a metadata block:

    <org-slug> <Org Name>   or   • 11 authors
    ·
    Sep 29, 2024 5          (date with optional year, then optional upvotes)

Some papers carry no metadata block at all, so papers are found between metadata blocks by
pairing paragraphs (title, abstract). Captures come with CRLF, a BOM, tabs and stray spaces; all
whitespace is normalised before anything is matched. A malformed metadata block is an error that
names its line: silently mis-pairing titles and abstracts would store wrong papers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from digest.errors import SourceError, map_value_errors
from digest.identity import normalise_whitespace, paper_id
from digest.models import Paper
from digest.sources.base import ParseContext, decode_text
from digest.sources.limits import MAX_LINE, admit

EXPECTED = (
    "the Daily Papers listing as text (title, abstract, then e.g. '• 5 authors', '·', 'Oct 17 12')"
)

HEADER_LINES = frozenset(
    {
        "new",
        "get trending papers in your email inbox!",
        "subscribe",
        "daily papers",
        "byak and the research community",
    }
)
# Header lines that identify the page (the others, like "new", occur in any text).
SIGNATURE_LINES = frozenset({"daily papers", "byak and the research community"})
DOT = "·"
_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MONTHS: dict[str, int] = {}
for _number, _name in enumerate(_MONTH_NAMES, start=1):
    MONTHS[_name] = _number
    MONTHS[_name[:3]] = _number
MONTHS["sept"] = 9

_DATE = re.compile(
    r"(?P<month>[A-Za-z]{3,9})\.?\s(?P<day>\d{1,2})(?:\s?,\s?(?P<year>\d{4}))?(?:\s(?P<upvotes>\d{1,9}))?"
)
_AUTHORS = re.compile(r"•\s?(?P<count>\d{1,6})\s(?:authors?)", re.IGNORECASE)
_UPVOTES = re.compile(r"[0-9]{1,9}")
_ORG_MAX = 120  # an organisation line is short; a longer line before '·' is an abstract


@dataclass(frozen=True, slots=True)
class _DateLine:
    month: int
    day: int
    year: int | None
    upvotes: int | None


@dataclass(slots=True)
class _Meta:
    line: int
    published: date | None = None
    upvotes: int | None = None
    organization: str | None = None
    author_count: int | None = None
    authors_line: int | None = None


@dataclass(slots=True)
class _Segment:
    """Paragraphs between two metadata blocks: one or more (title, abstract) papers."""

    paragraphs: list[tuple[int, str]] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    current_line: int = 0

    def add_line(self, number: int, text: str) -> None:
        if not self.current:
            self.current_line = number
        self.current.append(text)

    def close_paragraph(self) -> None:
        if self.current:
            self.paragraphs.append((self.current_line, " ".join(self.current)))
            self.current = []


def _match_date(text: str) -> _DateLine | None:
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    month = MONTHS.get(match["month"].casefold())
    if month is None:
        return None
    year = match["year"]
    upvotes = match["upvotes"]
    return _DateLine(
        month=month,
        day=int(match["day"]),
        year=int(year) if year else None,
        upvotes=int(upvotes) if upvotes else None,
    )


def resolve_date(month: int, day: int, year: int | None, reference: date) -> date:
    """A yearless date takes the reference's year, or the year before when it would be later.

    Feb 29 without a year falls back to the latest leap year not after the reference.
    Raises ValueError for a day that exists in no year considered.
    """
    if year is not None:
        return date(year, month, day)
    for candidate_year in range(reference.year, max(reference.year - 8, 0), -1):
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate <= reference:
            return candidate
    raise ValueError(f"no such day: month {month}, day {day}")


def _is_title_like(text: str) -> bool:
    return len(text) <= 300 and not text.endswith(".")


def _split_papers(paragraphs: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """(line, title, abstract) for each paper in a run of paragraphs.

    Captures alternate title and abstract, so an even run is paired. An odd run means an
    abstract spans several paragraphs or a paper lacks one: a short, title-like paragraph that
    follows an abstract starts a new paper, anything else continues the abstract.
    """
    if len(paragraphs) % 2 == 0:
        return [
            (paragraphs[i][0], paragraphs[i][1], paragraphs[i + 1][1])
            for i in range(0, len(paragraphs), 2)
        ]
    papers: list[tuple[int, str, list[str]]] = []
    for index, (line, text) in enumerate(paragraphs):
        if not papers:
            papers.append((line, text, []))
            continue
        abstract = papers[-1][2]
        has_more = index + 1 < len(paragraphs)
        if abstract and _is_title_like(text) and has_more:
            papers.append((line, text, []))
        else:
            abstract.append(text)
    return [(line, title, " ".join(parts)) for line, title, parts in papers]


class HfTextFormat:
    name = "hf-text"
    description = "Daily Papers listing page captured as text"

    def sniff(self, data: bytes) -> bool:
        head = data[:65536].decode("utf-8", errors="replace").lstrip("\ufeff")
        lines = [normalise_whitespace(line) for line in head.splitlines()]
        nonblank = [line for line in lines if line]
        if any(line.casefold() in SIGNATURE_LINES for line in nonblank[:12]):
            return True
        return any(
            line == DOT and nxt is not None and _match_date(nxt) is not None
            for line, nxt in zip(nonblank, [*nonblank[1:], None], strict=True)
        )

    def parse(self, data: bytes, context: ParseContext) -> list[Paper]:
        return _Parser(context).parse(decode_text(data, context.name, EXPECTED))


class _Parser:
    def __init__(self, context: ParseContext) -> None:
        self.context = context
        self.name = context.name
        self.papers: list[Paper] = []
        self.page_date: date = context.page_date or context.today
        self.saw_structure = False

    def error(self, line: int, message: str) -> SourceError:
        return SourceError(f"{self.name}:{line}: {message}")

    def parse(self, text: str) -> list[Paper]:
        raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for number, line in enumerate(raw, start=1):
            if len(line) > MAX_LINE:  # refused before the costly normalising (README limits)
                raise self.error(
                    number,
                    f"{len(line)} characters on one line; a listing line has at most "
                    f"{MAX_LINE} (is this a paper listing?)",
                )
        lines = [normalise_whitespace(line) for line in raw]
        if not any(lines):
            raise SourceError(f"{self.name}: empty file; expected {EXPECTED}")
        start = self._read_header(lines)
        self._read_body(lines, start)
        if not self.saw_structure:
            raise SourceError(
                f"{self.name}: no Daily Papers header and no paper metadata found; "
                f"expected {EXPECTED}"
            )
        return self.papers

    def _read_header(self, lines: list[str]) -> int:
        """Skip the page chrome; the first bare date before any paper is the page date."""
        header_date: _DateLine | None = None
        header_line = 0
        index = 0
        for index, line in enumerate(lines):
            if not line:
                continue
            if line.casefold() in HEADER_LINES:
                self.saw_structure = self.saw_structure or line.casefold() in SIGNATURE_LINES
                continue
            parsed = _match_date(line)
            if header_date is None and parsed is not None and parsed.upvotes is None:
                header_date, header_line = parsed, index + 1
                continue
            break
        else:
            index = len(lines)
        if header_date is not None and self.context.page_date is None:
            with map_value_errors(
                where="page date",
                value=lines[header_line - 1],
                expected="a real date",
                error=partial(self.error, header_line),
            ):
                self.page_date = resolve_date(
                    header_date.month, header_date.day, header_date.year, self.context.today
                )
        return index

    def _read_body(self, lines: list[str], start: int) -> None:
        segment = _Segment()
        pending: tuple[int, str] | None = None  # a '• N authors' line waiting for its '·'
        index = start
        while index < len(lines):
            line = lines[index]
            number = index + 1
            index += 1
            if not line:
                segment.close_paragraph()
                continue
            if line.startswith("•"):
                if _AUTHORS.fullmatch(line) is None:
                    raise self.error(number, f"expected '• N authors', got {line!r}")
                following = self._next_nonblank(lines, index)
                if following is None or lines[following] != DOT:
                    raise self.error(number, f"expected a line '·' after {line!r}")
                segment.close_paragraph()
                pending = (number, line)
                continue
            if line == DOT:
                meta = _Meta(line=number)
                if pending is not None:
                    count = _AUTHORS.fullmatch(pending[1])
                    meta.author_count = int(count["count"]) if count else None
                    meta.authors_line = pending[0]
                    pending = None
                elif len(segment.current) > 0 and len(segment.current[-1]) <= _ORG_MAX:
                    org_line = segment.current.pop()
                    slug, _, display = org_line.partition(" ")
                    meta.organization = display or slug
                segment.close_paragraph()
                index = self._read_date(lines, index, number, meta)
                self._close_segment(segment, meta)
                segment = _Segment()
                continue
            segment.add_line(number, line)
        segment.close_paragraph()
        self._close_segment(segment, None)

    @staticmethod
    def _next_nonblank(lines: list[str], index: int) -> int | None:
        while index < len(lines):
            if lines[index]:
                return index
            index += 1
        return None

    def _read_date(self, lines: list[str], index: int, dot_line: int, meta: _Meta) -> int:
        """Parse the date (and upvotes) after '·'; returns the index after the block."""
        found = self._next_nonblank(lines, index)
        if found is None:
            raise self.error(
                dot_line, "'·' ends the file; expected a date such as 'Oct 17' after it"
            )
        text = lines[found]
        parsed = _match_date(text)
        if parsed is None:
            raise self.error(
                found + 1,
                f"expected a date such as 'Oct 17' or 'Oct 17, 2024' (then optional upvotes) "
                f"after '·', got {text!r}",
            )
        with map_value_errors(
            value=text, expected="a real date", error=partial(self.error, found + 1)
        ):
            meta.published = resolve_date(parsed.month, parsed.day, parsed.year, self.page_date)
        meta.upvotes = parsed.upvotes
        index = found + 1
        # Some captures put the upvote count on its own line right under the date.
        if meta.upvotes is None and index < len(lines) and _UPVOTES.fullmatch(lines[index]):
            meta.upvotes = int(lines[index])
            index += 1
        self.saw_structure = True
        return index

    def _close_segment(self, segment: _Segment, meta: _Meta | None) -> None:
        found = _split_papers(segment.paragraphs)
        if meta is not None and not found:
            raise self.error(
                meta.line, "metadata block with no paper before it; expected a title and abstract"
            )
        for position, (line, title, abstract) in enumerate(found):
            own = meta if meta is not None and position == len(found) - 1 else None
            self.papers.append(
                admit(
                    Paper(
                        id=paper_id(None, title),
                        title=title,
                        abstract=abstract,
                        author_count=own.author_count if own else None,
                        organization=own.organization if own else None,
                        published=own.published if own else None,
                        upvotes=own.upvotes if own else None,
                    ),
                    self._locate(line, own),
                )
            )

    def _locate(self, line: int, meta: _Meta | None) -> Callable[[str], str]:
        """Title and abstract are found from the paper's first line, the rest in its block."""

        def where(field: str) -> str:
            at = line
            if meta is not None and field == "author_count":
                at = meta.authors_line or meta.line
            elif meta is not None and field == "organization":
                at = meta.line - 1  # the organisation is the line just above '·'
            return f"{self.name}:{at}: {field}"

        return where


FORMAT = HfTextFormat()
