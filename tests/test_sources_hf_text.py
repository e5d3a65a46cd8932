"""hf-text: the Daily Papers listing captured as text, including the real capture's quirks."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import SourceError
from digest.identity import normalise_whitespace
from digest.sources import detect_format, parse
from tests.conftest import shared_file

PAGE_DATE = date(2025, 10, 17)  # the real capture's page says "Oct 17" (2025)


def page(*lines: str) -> bytes:
    return "\n".join(lines).encode("utf-8")


HEADER = ("Daily Papers", "", "byAK and the research community", "", "Oct 17", "")


@pytest.fixture(scope="module")
def real_page() -> bytes:
    return shared_file("daily-papers-page.txt").read_bytes()


def test_real_capture_has_every_paper_with_its_metadata(real_page: bytes) -> None:
    papers = parse(real_page, name="page.txt", page_date=PAGE_DATE)
    assert len(papers) == 123
    assert sum(p.published is not None for p in papers) == 113
    assert sum(p.organization is not None for p in papers) == 5
    assert sum(p.published is None and p.author_count is None for p in papers) == 10
    assert len({p.id for p in papers}) == 123
    assert all(p.title and p.abstract for p in papers)


def test_real_capture_titles_and_abstracts_are_exact(real_page: bytes) -> None:
    papers = parse(real_page, name="page.txt", page_date=PAGE_DATE)
    first, last = papers[0], papers[-1]
    assert first.title == "Socratic-Zero : Bootstrapping Reasoning via Data-Free Agent Co-evolution"
    assert first.abstract.startswith("Recent breakthroughs in large language models (LLMs)")
    assert first.abstract.endswith("Grok-4, and Claude-4.1-Opus.")
    assert (first.organization, first.published, first.upvotes) == (
        "alibaba-inc",
        date(2025, 9, 29),
        1,
    )
    assert last.title == (
        "Softplus Attention with Re-weighting Boosts Length Extrapolation in Large Language Models"
    )
    assert (last.author_count, last.published, last.upvotes) == (2, date(2025, 1, 23), None)
    # Every title and abstract is a line of the capture, whitespace-normalised.
    lines = {normalise_whitespace(line) for line in real_page.decode().splitlines()}
    assert all(p.title in lines and p.abstract in lines for p in papers)


def test_real_capture_paper_without_metadata_block(real_page: bytes) -> None:
    papers = {p.title: p for p in parse(real_page, name="page.txt", page_date=PAGE_DATE)}
    step3 = papers[
        "Step-3 is Large yet Affordable: Model-system Co-design for Cost-effective Decoding"
    ]
    assert step3.abstract.startswith("Large language models (LLMs) face low hardware efficiency")
    assert (step3.published, step3.upvotes, step3.author_count, step3.organization) == (
        None,
        None,
        None,
        None,
    )
    deepseek = papers[
        "Insights into DeepSeek-V3: Scaling Challenges and Reflections on Hardware for AI "
        "Architectures"
    ]
    assert (deepseek.organization, deepseek.upvotes) == ("DeepSeek", 5)


def test_real_capture_explicit_years_are_kept(real_page: bytes) -> None:
    papers = parse(real_page, name="page.txt", page_date=PAGE_DATE)
    years = {p.published.year for p in papers if p.published}
    assert min(years) < 2025  # "Oct 14, 2024" and older dates keep their own year
    assert all(p.published <= PAGE_DATE for p in papers if p.published)


def test_crlf_bom_tabs_and_stray_spaces_change_nothing(real_page: bytes) -> None:
    clean = parse(real_page, name="page.txt", page_date=PAGE_DATE)
    text = real_page.decode("utf-8")
    messy_lines = [f" \t{line.replace(' ', '  ')}\t " for line in text.split("\n")]
    messy = ("\ufeff" + "\r\n".join(messy_lines)).encode("utf-8")
    assert parse(messy, name="messy.txt", page_date=PAGE_DATE) == clean


def test_detected_from_content(real_page: bytes) -> None:
    assert detect_format(real_page, "page") == "hf-text"
    assert detect_format(page("Title", "", "Abstract.", "", "• 3 authors", "·", "Oct 1"), "x") == (
        "hf-text"
    )


@pytest.mark.parametrize(
    ("page_line", "paper_line", "today", "expected"),
    [
        ("Oct 17", "Sep 29 4", date(2025, 10, 20), date(2025, 9, 29)),
        ("Oct 17", "Nov 2", date(2025, 10, 20), date(2024, 11, 2)),  # after the page: year before
        ("Jan 5, 2026", "Dec 30", date(2026, 3, 1), date(2025, 12, 30)),
        ("Oct 17, 2025", "Oct 14, 2024", date(2026, 1, 1), date(2024, 10, 14)),
        ("Dec 30", "Dec 29", date(2026, 1, 2), date(2025, 12, 29)),  # page not after today
        ("Mar 3, 2025", "Feb 29", date(2025, 3, 3), date(2024, 2, 29)),  # nearest leap year
    ],
)
def test_dates_without_a_year_follow_the_page_date(
    page_line: str, paper_line: str, today: date, expected: date
) -> None:
    data = page(
        "Daily Papers", "", page_line, "", "T", "", "A.", "", "• 2 authors", "·", paper_line
    )
    (paper,) = parse(data, name="p.txt", today=today)
    assert paper.published == expected


def test_page_date_option_overrides_the_page() -> None:
    data = page(*HEADER, "T", "", "A.", "", "• 2 authors", "·", "Nov 2")
    (paper,) = parse(data, name="p.txt", today=date(2025, 10, 20), page_date=date(2025, 12, 1))
    assert paper.published == date(2025, 11, 2)


def test_metadata_variants() -> None:
    data = page(
        *HEADER,
        "Org Paper",
        "",
        "Abstract one.",
        "",
        "deepseek-ai DeepSeek AI",
        "·",
        "May 14, 2025 12",
        "",
        "Authors Paper",
        "",
        "Abstract two.",
        "",
        "  •  1 author",
        "·",
        "Sept 3",
        "7",
        "",
        "Bare Paper",
        "",
        "Abstract three.",
    )
    org, authors, bare = parse(data, name="p.txt", today=date(2025, 10, 20))
    assert (org.organization, org.published, org.upvotes) == ("DeepSeek AI", date(2025, 5, 14), 12)
    assert (authors.author_count, authors.published, authors.upvotes) == (1, date(2025, 9, 3), 7)
    assert (bare.title, bare.abstract, bare.published) == ("Bare Paper", "Abstract three.", None)


def test_abstract_wrapped_over_several_lines_is_joined() -> None:
    data = page(
        *HEADER, "A Title", "", "First half of", "the abstract.", "", "• 3 authors", "·", "Oct 1"
    )
    (paper,) = parse(data, name="p.txt", today=date(2025, 10, 20))
    assert paper.abstract == "First half of the abstract."


@pytest.mark.parametrize(
    ("lines", "line", "fragment"),
    [
        ((*HEADER, "T", "", "A.", "", "• 3 authors", "·", "Sepp 29"), 13, "expected a date"),
        (
            (*HEADER, "T", "", "A.", "", "• 3 authors", "·", "Feb 31, 2025"),
            13,
            "expected a real date, got 'Feb 31, 2025'",
        ),
        ((*HEADER, "T", "", "A.", "", "• many authors", "·", "Oct 1"), 11, "'• N authors'"),
        (
            (*HEADER[:4], "Feb 30", "", "T", "", "A.", "", "• 3 authors", "·", "Oct 1"),
            5,
            "page date: expected a real date, got 'Feb 30'",
        ),
        ((*HEADER, "T", "", "A.", "", "• 3 authors", "Oct 1"), 11, "expected a line '·'"),
        ((*HEADER, "T", "", "A.", "", "• 3 authors", "·"), 12, "ends the file"),
        ((*HEADER, "• 3 authors", "·", "Oct 1"), 8, "no paper before it"),
    ],
)
def test_broken_metadata_block_names_the_line(
    lines: tuple[str, ...], line: int, fragment: str
) -> None:
    with pytest.raises(SourceError) as caught:
        parse(page(*lines), name="broken.txt", format="hf-text", today=date(2025, 10, 20))
    message = str(caught.value)
    assert message.startswith(f"broken.txt:{line}: ")
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty file"),
        (b"\xef\xbb\xbf \r\n\t\n", "empty file"),
        (b"# A README\n\nNothing here looks like a paper listing.\n", "no Daily Papers header"),
        (b"New\n\nSubscribe\n\nA newsletter, not a listing.\n", "no Daily Papers header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "expected the Daily Papers listing"),
    ],
)
def test_not_a_listing_is_one_clear_error(data: bytes, fragment: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(data, name="in.txt", format="hf-text")
    assert str(caught.value).startswith("in.txt")
    assert fragment in str(caught.value)


_STRUCTURAL = st.sampled_from(
    [
        "",
        "·",
        "•",
        "• 3 authors",
        "• 0 author",
        "Oct 17",
        "Feb 29",
        "Feb 30 4",
        "Sep 29, 2024 12",
        "Jan 1, 0000",
        "99999",
        "Daily Papers",
        "new",
        "deepseek-ai DeepSeek",
        "A Title About Speculative Decoding",
        "An abstract sentence.",
        "\ufeff",
        "\r",
        "\t",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.one_of(_STRUCTURAL, st.text(max_size=40)), max_size=30),
    today=st.dates(min_value=date(1, 1, 1)),
    page_date=st.none() | st.dates(),
)
def test_fuzzed_pages_raise_only_source_error(
    lines: list[str], today: date, page_date: date | None
) -> None:
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    try:
        papers = parse(data, name="fuzz.txt", format="hf-text", today=today, page_date=page_date)
    except SourceError as exc:
        assert str(exc).startswith("fuzz.txt")
        assert "\n" not in str(exc)
    else:
        assert all(p.title for p in papers)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_fuzzed_bytes_raise_only_source_error(data: bytes) -> None:
    try:
        parse(data, name="fuzz.bin", format="hf-text", today=date(2025, 10, 20))
    except SourceError as exc:
        assert "\n" not in str(exc)
