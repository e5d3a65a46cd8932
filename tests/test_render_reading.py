"""A digest reads well: headings to jump between, a contents list, a preheader and subject that
add information, reasons given once, and a text part that fits a terminal.

All on the real templates and renderer (no database): what a reader's client shows first, what a
screen reader navigates by, what a plain-text reader sees.
"""

from __future__ import annotations

import re

import pytest

from digest.render import DigestLinks, Renderer
from digest.render.summary import SUBJECT_LIMIT
from digest.settings import Settings
from tests.render_samples import edition, paper

LINKS = DigestLinks(
    manage="https://digest.example.org/preferences/tok.en-1",
    unsubscribe="https://digest.example.org/unsubscribe/tok.en-2",
    browser="https://digest.example.org/editions/tok.en-3",
)
LONG_TITLE = (
    "A very long title about speculative decoding that goes on and on, well past the width of "
    "any inbox, about efficient inference with draft models and tree attention"
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(Settings())


def test_titles_are_headings_a_screen_reader_can_jump_between(renderer: Renderer) -> None:
    html = renderer.render(edition(4, trending=2), LINKS).html
    assert len(re.findall(r'<h2 class="title" id="paper-[\w-]+"', html)) == 4
    assert "<h3 " in html and html.count("<h3 ") == 2  # trending papers, under their h2
    assert html.count("<h1 ") == 1


@pytest.mark.parametrize(("count", "has_toc"), [(5, False), (6, True)])
def test_more_than_five_papers_open_with_a_table_of_contents(
    renderer: Renderer, count: int, has_toc: bool
) -> None:
    html = renderer.render(edition(count), LINKS).html
    assert ("In this digest" in html) is has_toc
    if has_toc:
        targets = re.findall(r'<li[^>]*><a href="#([\w-]+)"', html)
        assert len(targets) == count
        assert all(f'id="{t}"' in html for t in targets)


def test_the_preheader_counts_papers_per_topic_and_hides_without_white_text(
    renderer: Renderer,
) -> None:
    rendered = renderer.render(edition(10), LINKS)
    assert rendered.preheader == "10 new papers on Speculative decoding · 3 trending"
    assert rendered.preheader != rendered.subject
    hidden = re.search(r'<div class="preheader" style="([^"]*)">(.*?)</div>', rendered.html)
    assert hidden and hidden.group(2).startswith(rendered.preheader)
    assert hidden.group(2).count("&zwnj;") >= 40, "padded, so clients pull no body text"
    assert "color" not in hidden.group(1) and "font-size" not in hidden.group(1)
    assert "#ffffff;line-height:1px" not in rendered.html  # MJML's own white-text preview


def test_the_subject_leads_with_the_top_paper_and_fits_78_characters(
    renderer: Renderer,
) -> None:
    rendered = renderer.render(edition(papers=[paper(1, title=LONG_TITLE), paper(2)]), LINKS)
    assert rendered.subject.startswith("A very long title about speculative decoding")
    assert rendered.subject.endswith("… + 1 more")
    assert len(rendered.subject) <= SUBJECT_LIMIT
    short = renderer.render(edition(1), LINKS).subject
    assert short == "Speculative decoding for efficient inference, part 1"


def test_reasons_shared_by_every_paper_are_given_once(renderer: Renderer) -> None:
    rendered = renderer.render(edition(10), LINKS)
    assert rendered.html.count("Matched: ") == 1
    assert rendered.text.count("Matched: ") == 1


def test_the_text_part_wraps_at_72_columns_with_urls_on_their_own_lines(
    renderer: Renderer,
) -> None:
    text = renderer.render(edition(papers=[paper(1, title=LONG_TITLE), paper(2)]), LINKS).text
    for line in text.splitlines():
        if len(line) > 72:
            assert re.fullmatch(r"\s*https?://\S+", line), line
    for url in (LINKS.manage, LINKS.unsubscribe, LINKS.browser, "https://arxiv.org/abs/"):
        assert url is not None
        assert re.search(rf"^\s*{re.escape(url)}", text, re.MULTILINE), url
    assert "\n-- \n" in text, "the signature separator, with its trailing space"
