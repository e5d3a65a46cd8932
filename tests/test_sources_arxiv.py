"""arxiv: the Atom API and the listing feeds (Atom and RSS 2.0), through feedparser."""

from __future__ import annotations

from datetime import date

import pytest

from digest.errors import SourceError
from digest.sources import detect_format, parse
from tests.conftest import shared_file

RSS_SAMPLE = "arxiv-rss-cs.AI-2025-08-20.xml"

# The documented Atom API response shape (export.arxiv.org/api/query), one entry per paper.
ATOM_API = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"
      xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <title type="html">ArXiv Query: search_query=all:speculative</title>
  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>
  <updated>2024-10-25T00:00:00-04:00</updated>
  <opensearch:totalResults>2</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/abs/2410.18234v2</id>
    <updated>2024-10-24T19:28:34Z</updated>
    <published>2024-10-23T19:28:34Z</published>
    <title>Multi-Draft Speculative Sampling:
  Canonical Architectures and Theoretical Limits</title>
    <summary>  We consider multi-draft speculative sampling, where the proposal sequences
are sampled independently from different draft models.
</summary>
    <author><name>Ashish Khisti</name></author>
    <author><name>M. Reza Ebrahimi</name></author>
    <author><name>Hassan Dbouk</name></author>
    <arxiv:comment>30 pages</arxiv:comment>
    <link href="http://arxiv.org/abs/2410.18234v2" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/2410.18234v2" rel="related"
          type="application/pdf"/>
    <arxiv:primary_category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/hep-th/9901001v1</id>
    <published>1999-01-01T12:00:00Z</published>
    <title>An old-style identifier</title>
    <summary>Strings.</summary>
    <author><name>Solo Author</name></author>
  </entry>
</feed>
"""

# The listing feed as RSS 2.0 (rss.arxiv.org/rss/cs.AI).
RSS_2 = b"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
  <channel>
    <title>cs.AI updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.AI</link>
    <description>cs.AI updates on the arXiv.org e-print archive.</description>
    <item>
      <title>Agents That Plan With Tools</title>
      <link>https://arxiv.org/abs/2508.10001</link>
      <description>arXiv:2508.10001v1 Announce Type: new
Abstract: Tool-using agents &amp; planners.</description>
      <guid isPermaLink="false">oai:arXiv.org:2508.10001v1</guid>
      <category>cs.AI</category>
      <pubDate>Wed, 20 Aug 2025 00:00:00 -0400</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:creator>Ada Lovelace, Alan Turing and Grace Hopper</dc:creator>
    </item>
  </channel>
</rss>
"""

API_ERROR = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>ArXiv Query: search_query=&amp;id_list=bad</title>
  <id>http://arxiv.org/api/x</id>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_bad</id>
    <title>Error</title>
    <summary>incorrect id format for bad</summary>
  </entry>
</feed>
"""


def test_real_listing_feed() -> None:
    data = shared_file(RSS_SAMPLE).read_bytes()
    assert detect_format(data, "feed.xml") == "arxiv"
    papers = parse(data, name="feed.xml")
    assert len(papers) == 7
    first = papers[0]
    assert first.arxiv_id == first.id == "2508.13426"
    assert first.title.startswith("ALIGN: Word Association Learning")
    assert first.authors == ("Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang")
    assert first.author_count == 3
    assert first.abstract.startswith("As large language models (LLMs) increasingly mediate")
    assert "Announce Type" not in first.abstract
    assert first.published == date(2025, 8, 20)
    assert first.url == "https://arxiv.org/abs/2508.13426"
    assert all(p.arxiv_id for p in papers)


def test_atom_api_response() -> None:
    assert detect_format(ATOM_API, "api.xml") == "arxiv"
    new, old = parse(ATOM_API, name="api.xml")
    assert new.arxiv_id == "2410.18234"
    assert new.title == (
        "Multi-Draft Speculative Sampling: Canonical Architectures and Theoretical Limits"
    )
    assert new.abstract.startswith("We consider multi-draft speculative sampling, where")
    assert new.authors == ("Ashish Khisti", "M. Reza Ebrahimi", "Hassan Dbouk")
    assert new.published == date(2024, 10, 23)
    assert old.arxiv_id == "hep-th/9901001"
    assert old.authors == ("Solo Author",)


def test_rss_2_listing_feed() -> None:
    (paper,) = parse(RSS_2, name="rss.xml")
    assert paper.arxiv_id == "2508.10001"
    assert paper.abstract == "Tool-using agents & planners."
    assert paper.authors == ("Ada Lovelace", "Alan Turing", "Grace Hopper")
    assert paper.published == date(2025, 8, 20)  # the feed's own day, not shifted to UTC


def test_empty_feed_is_valid() -> None:
    feed = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>none</title></feed>'
    assert parse(feed, name="none.xml") == []


def test_api_error_entry_is_reported() -> None:
    with pytest.raises(SourceError, match=r"api\.xml: the arXiv API answered with an error"):
        parse(API_ERROR, name="api.xml")


def test_truncated_feed_names_line_and_column() -> None:
    with pytest.raises(SourceError) as caught:
        parse(ATOM_API[:900], name="cut.xml")
    message = str(caught.value)
    assert message.startswith("cut.xml:")
    assert "not well-formed XML" in message and "\n" not in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty file"),
        (b'{"not": "a feed"}', "not well-formed XML"),
        (b"<html><body>hello</body></html>", "not an Atom or RSS feed"),
    ],
)
def test_not_a_feed(data: bytes, fragment: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(data, name="in.xml", format="arxiv")
    assert str(caught.value).startswith("in.xml")
    assert fragment in str(caught.value)
