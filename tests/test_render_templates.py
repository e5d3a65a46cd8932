"""Digest templates: compile-once rendering, content, escaping, overrides and template errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.errors import TemplateError
from digest.render import DigestLinks, Renderer
from digest.render.context import author_line, build_context, highlight, trim_abstract
from digest.render.loader import HTML_TEMPLATE, TEXT_TEMPLATE
from digest.settings import Settings
from tests.conftest import ROOT, require
from tests.render_samples import HOSTILE_ABSTRACT, HOSTILE_TITLE, edition, paper, subscriber

LINKS = DigestLinks(
    manage="https://digest.example.org/preferences/tok-manage",
    unsubscribe="https://digest.example.org/unsubscribe/tok-unsub",
)
DEFAULTS = ROOT / "digest" / "templates"


@pytest.fixture
def settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings()  # type: ignore[no-any-return]


@pytest.fixture
def renderer(settings: Settings) -> Renderer:
    return Renderer(settings)


EDITIONS = {
    "ten papers": edition(10),
    "twenty-five papers": edition(25),
    "empty": edition(0, trending=0),
    "empty but trending": edition(0, trending=3),
    "no trending, anonymous, no topics": edition(
        4, trending=0, sub=subscriber(name=None, topics=())
    ),
    "sparse papers": edition(
        papers=[
            paper(1, url=None, arxiv_id=None, authors=(), author_count=None, abstract=""),
            paper(2, url="javascript:alert(1)", organization=None, upvotes=None, published=None),
            paper(3, authors=("Solo Author",), author_count=1),
        ]
    ),
    # Bidi controls are left out on purpose here: see test_per_email_mjml_mangles_bidi_controls.
    "hostile text": edition(
        papers=[
            paper(
                1,
                title=HOSTILE_TITLE.replace("\u202e", "").replace("\u202c", ""),
                abstract=HOSTILE_ABSTRACT,
            )
        ]
    ),
}


@pytest.mark.parametrize("name", EDITIONS)
def test_compile_once_equals_per_email_compile(renderer: Renderer, name: str) -> None:
    """The fast path (MJML compiled once, Jinja per mail) gives byte-identical HTML to the
    straightforward path (Jinja → MJML → HTML for every mail). Nothing is normalised."""
    ed = EDITIONS[name]
    rendered = renderer.render(ed, LINKS)
    assert rendered.html == renderer.render_per_email(build_context(ed, LINKS, renderer.settings))


def test_per_email_mjml_mangles_bidi_controls(renderer: Renderer) -> None:
    """Why the hostile case above omits U+202E: MRML writes it into attribute values as the
    literal text `\\u{202e}` when it compiles rendered text; the compiled-once path never hands
    MRML reader text, so the character reaches the mail intact."""
    ed = edition(papers=[paper(1, title=HOSTILE_TITLE)])
    fast = renderer.render(ed, LINKS).html
    slow = renderer.render_per_email(build_context(ed, LINKS, renderer.settings))
    assert "\\u{202e}" in slow
    assert "\\u{202e}" not in fast
    assert "\u202e" in fast


def test_hostile_paper_text_is_shown_as_text(renderer: Renderer) -> None:
    ed = edition(papers=[paper(1, title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT)])
    rendered = renderer.render(ed, LINKS)
    html = rendered.html
    assert "<script" not in html and "<b>bold" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quoted&#34;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\u202eRTL\u202c 😀 {{ 7*7 }}" in html  # as text, never evaluated
    assert "{% if true %}not a template{% endif %}" in html
    assert "\u05e2\u05d1\u05e8\u05d9\u05ea and 中文" in html
    # The text part is plain text: the same characters, unescaped.
    assert HOSTILE_TITLE in rendered.text
    assert "<img src=x onerror=alert(1)>" in rendered.text


def test_matched_terms_are_highlighted_after_escaping() -> None:
    marked = highlight(
        "<b>Speculative Decoding</b> & speculatively decoded", ("speculative decoding",)
    )
    assert str(marked).startswith('&lt;b&gt;<span class="hl"')
    assert marked.count('class="hl"') == 2
    assert ">Speculative Decoding</span>&lt;/b&gt; &amp; " in marked


def test_digest_content(renderer: Renderer, settings: Settings) -> None:
    rendered = renderer.render(edition(10), LINKS)
    html, text = rendered.html, rendered.text
    assert rendered.subject == "Speculative decoding for efficient inference, part 1 + 9 more"
    assert rendered.preheader.startswith("10 new papers")
    assert "Sunday 29 November 2026" in html and "Sunday 29 November 2026" in text
    assert html.count('class="title"') == 10
    assert 'href="https://huggingface.co/papers/2510.00001"' in html
    assert 'href="https://arxiv.org/abs/2510.00001"' in html
    assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in html
    assert "Example Lab · 99 upvotes · 27 Nov 2026" in html
    assert '<span class="hl" style="background-color:#fff1a8;color:#1f2328;">' in html
    assert ">Speculative decoding</span>" in html  # a topic chip
    assert "Trending today" in html and "Trending today" in text
    assert "A final sentence" not in html  # trimmed at a sentence boundary
    assert "these topics: Speculative decoding, Inference" in html
    assert settings.sender.postal_address in html and settings.sender.postal_address in text
    for link in (LINKS.manage, LINKS.unsubscribe):
        assert f'href="{link}"' in html and link in text
    assert "Hi Ada, 10 new papers matched your topics." in text


def test_html_is_self_contained_accessible_and_dark_mode_aware(renderer: Renderer) -> None:
    html = renderer.render(edition(10), LINKS).html
    assert html.startswith('<!doctype html><html lang="en"')
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "prefers-color-scheme: dark" in html and 'name="color-scheme"' in html
    assert "@media only screen and (max-width: 479px)" in html
    for img in re.findall(r"<img\b[^>]*>", html):
        assert " alt=" in img
    for href in re.findall(r'href="([^"]*)"', html):
        # Absolute links only, and in-page links to the headings of the table of contents.
        assert href.startswith(("https://", "http://")) or f'id="{href[1:]}"' in html, href


def test_lang_comes_from_settings(make_settings) -> None:  # type: ignore[no-untyped-def]
    html = Renderer(make_settings(site={"lang": "fr"})).render(edition(1), LINKS).html
    assert html.startswith('<!doctype html><html lang="fr"')


def test_empty_edition_is_a_short_friendly_mail(renderer: Renderer) -> None:
    rendered = renderer.render(edition(0, trending=0), LINKS)
    assert rendered.subject == "Nothing new on your topics"
    assert "nothing new matched your topics" in rendered.html
    assert "nothing new matched your topics" in rendered.text
    assert "Trending today" not in rendered.html
    assert len(rendered.text) < 800


@pytest.mark.parametrize(("count", "limit"), [(10, 60_000), (25, 100_000)])
def test_html_stays_under_gmail_clipping(renderer: Renderer, count: int, limit: int) -> None:
    html = renderer.render(edition(count), LINKS).html
    assert len(html.encode("utf-8")) < limit


def test_abstracts_are_trimmed_at_sentence_boundaries() -> None:
    text = "First sentence here. " * 30
    trimmed = trim_abstract(text)
    assert trimmed.endswith("here.") and len(trimmed) <= 320
    one_long = "word " * 200
    assert trim_abstract(one_long).endswith("…") and len(trim_abstract(one_long)) <= 321
    assert trim_abstract("  Short\n abstract.  ") == "Short abstract."


def test_author_line() -> None:
    assert author_line(paper(1)) == "Ada Lovelace, Alan Turing, Grace Hopper et al."
    assert author_line(paper(1, authors=("A", "B"), author_count=2)) == "A, B"
    assert author_line(paper(1, authors=("A",), author_count=9)) == "A et al."
    assert author_line(paper(1, authors=(), author_count=7)) == "7 authors"


def test_templates_dir_overrides_file_by_file(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / TEXT_TEMPLATE).write_text("Custom text for {{ list_name }}\n", encoding="utf-8")
    renderer = Renderer(make_settings(render={"templates_dir": str(tmp_path)}))
    rendered = renderer.render(edition(2), LINKS)
    assert rendered.text == "Custom text for Papers Digest\n"
    assert "Speculative decoding" in rendered.html  # HTML still from the packaged default


def _broken(tmp_path: Path, name: str, old: str, new: str) -> Path:
    source = (DEFAULTS / name).read_text(encoding="utf-8")
    assert old in source
    (tmp_path / name).write_text(source.replace(old, new, 1), encoding="utf-8")
    return tmp_path / name


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (HTML_TEMPLATE, "{{ card.meta }}", "{{ card.meta }", "unexpected '}'"),
        (HTML_TEMPLATE, "{% if more_count %}", "{% if 0 < more_count %}", "'<'"),
        (HTML_TEMPLATE, '<mj-spacer height="24px" />', '<mj-spacer height="24px">', "still open"),
        (HTML_TEMPLATE, "{{ card.meta }}<", "{{ card.no_such_field }}<", "no_such_field"),
        (TEXT_TEMPLATE, "{{ card.title_block }}", "{{ card.title_block | x }}", "x"),
        (TEXT_TEMPLATE, "{{ postal_address }}", "{{ postal_adress }}", "postal_adress"),
    ],
)
def test_template_errors_name_the_file_and_line(  # type: ignore[no-untyped-def]
    make_settings, tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    path = _broken(tmp_path, name, old, new)
    line = _line_of(path, new.split()[0] if "<mj-spacer" in new else new)
    with pytest.raises(TemplateError) as caught:
        Renderer(make_settings(render={"templates_dir": str(tmp_path)}))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}:") or f"from line {line} " in message, message
    assert expected in message


def test_mjml_parse_error_is_one_line_naming_the_template(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _broken(tmp_path, HTML_TEMPLATE, "<mj-body", "<mj-body <")
    with pytest.raises(TemplateError) as caught:
        Renderer(make_settings(render={"templates_dir": str(tmp_path)}))
    assert str(caught.value).startswith(f"{path}")
    assert "MJML" in str(caught.value) and "\n" not in str(caught.value)


def test_missing_templates_dir_is_a_config_error(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="templates_dir"):
        Renderer(make_settings(render={"templates_dir": str(tmp_path / "nope")}))


def _luminance(rgb: str) -> float:
    channels = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# The text colour and the first opaque background behind the element.
_COLOURS = """e => {
  const color = getComputedStyle(e).color;
  for (let n = e; n; n = n.parentElement) {
    const bg = getComputedStyle(n).backgroundColor;
    if (!bg.startsWith("rgba") || !bg.endsWith(", 0)")) return [color, bg];
  }
  return [color, "rgb(255, 255, 255)"];
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_is_readable_in_light_and_dark_mode(
    renderer: Renderer, tmp_path: Path, scheme: str
) -> None:
    """In a real browser, every kind of text keeps WCAG AA contrast (4.5:1) on the card."""
    chromium = "/usr/bin/chromium"
    require(Path(chromium).exists(), f"{chromium} is absent (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "digest.html"
    page_file.write_text(renderer.render(edition(3), LINKS).html, encoding="utf-8")
    selectors = [".title a", "h1", "h2", ".card p", ".muted", ".chip", ".hl"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(color_scheme=scheme)
            page.goto(page_file.as_uri())
            for selector in selectors:
                color, behind = page.eval_on_selector(selector, _COLOURS)
                assert _contrast(color, behind) >= 4.5, (scheme, selector, color, behind)
        finally:
            browser.close()


@pytest.mark.parametrize("name", list(EDITIONS))
def test_text_part_with_cached_entries_equals_the_text_template(
    renderer: Renderer, name: str
) -> None:
    """The text part is rendered with each paper's entry cached (the number stays in the loop):
    byte for byte what the text template itself renders, twice over (the second from cache)."""
    assert renderer.text_fast is not renderer.text_template
    context = build_context(EDITIONS[name], LINKS, renderer.settings)
    expected = renderer.text_template.render(context)
    assert renderer.text_fast.render(context) == expected
    assert renderer.text_fast.render(context) == expected
    assert renderer.render(EDITIONS[name], LINKS).text == expected
