"""A reader can open every paper of a digest: each one links somewhere that answers.

Papers from the Daily Papers text page carry no URL of their own; their digest links point at the
site's page for the paper (`GET /papers/{id}`), which shows what is known of it and links out to
searches for its title.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import digest
from digest.app.edition import EditionBuilder
from digest.app.ingest import ingest
from digest.app.tokens import digest_links
from digest.models import Profile, Topic
from digest.render import Renderer
from digest.store.subscribers import create, to_subscriber
from tests.websupport import Site

SAMPLE = Path(digest.__file__).parent / "samples" / "daily-papers-sample.txt"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TITLE_LINK = re.compile(r'<h[23][^>]*>\s*<a href="([^"]+)"[^>]*>(.*?)</a>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")


def _digest_from_text_page(site: Site) -> tuple[str, str, list[str]]:
    """(HTML, text, titles) of a digest whose papers all come from the text page."""
    ingest(site.store, [str(SAMPLE)], format="hf-text", now=NOW - timedelta(hours=1))
    profile = Profile(
        email="ada@example.org",
        max_papers=100,
        topics=(Topic("Models", "model OR models OR language OR learning"),),
    )
    with site.store.session() as session:
        reader = to_subscriber(create(session, profile, status="active", origin="test", now=NOW))
    builder = EditionBuilder(site.store, site.settings, now=NOW)
    history = builder.histories([(reader, date(2026, 3, 2))])[reader.id]
    edition = builder.build(reader, date(2026, 3, 2), history)
    assert edition.papers, "the sample page should match the topic"
    links = digest_links(site.settings, site.signer, reader.public_id)
    rendered = Renderer(site.settings).render(edition, links)
    titles = [m.paper.title for m in edition.papers] + [p.title for p in edition.trending]
    return rendered.html, rendered.text, titles


def test_every_paper_from_the_text_page_links_to_a_page_that_answers(site: Site) -> None:
    html, text, titles = _digest_from_text_page(site)
    found = TITLE_LINK.findall(html)
    assert len(found) == len(titles)
    client = site.client()
    for href, title_html in found:
        url = unescape(href)
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == site.settings.site.base_url
        assert parts.path.startswith("/papers/")
        page = client.get(parts.path)
        assert page.status_code == 200
        title = unescape(TAG.sub("", title_html)).strip()
        assert title in unescape(page.text)
        assert url in text, "the text part gives the same link"


def test_the_paper_page_shows_the_paper_and_links_out_to_searches(site: Site) -> None:
    client = site.client()
    html, _, titles = _digest_from_text_page(site)
    href = unescape(TITLE_LINK.findall(html)[0][0])
    page = client.get(urlsplit(href).path)
    body = unescape(page.text)
    assert f'<h1 id="heading">{titles[0]}</h1>' in body
    assert "https://arxiv.org/search/?searchtype=title&query=" in body
    assert "https://huggingface.co/papers?q=" in body


@pytest.mark.parametrize("path", ["/papers/t-0000000000000000", "/papers/%3Cscript%3E"])
def test_an_unknown_paper_is_not_found(site: Site, path: str) -> None:
    page = site.client().get(path)
    assert page.status_code == 404
    assert "<script>" not in page.text
