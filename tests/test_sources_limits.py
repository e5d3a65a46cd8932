"""What a source may put into a paper: sanitised text, capped fields, URLs from validated ids.

Real files go through the real `digest ingest`; the mail a reader would get is rendered by
`digest preview` and parsed back with the stdlib `email` package.
"""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources import parse
from digest.sources.limits import MAX_ABSTRACT, MAX_LINE, MAX_TITLE, sanitise
from tests.conftest import TEST_SECRET, Cli

UNSAFE = "\x00\x01\x07\x1b\x7f\x9b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
PHISH_ID = "2410.99999\n\nURGENT: verify your account at http://phish.example/login"


def text_page(title: str, abstract: str = "We study things at length.") -> str:
    return f"Daily Papers\n\n{title}\n\n{abstract}\n\n• 5 authors\n\n·\n\nOct 17 12\n"


def api_page(**paper: object) -> str:
    base: dict[str, object] = {
        "id": "2410.12345",
        "title": "Agents that plan",
        "summary": "Agent planning.",
    }
    base.update(paper)
    return json.dumps([{"paper": base}])


def papers(digest: Cli) -> list[dict[str, object]]:
    code, out, err = digest("papers", "--json")
    assert (code, err) == (0, "")
    result: list[dict[str, object]] = json.loads(out)
    return result


def test_a_page_with_a_huge_line_is_refused_with_its_line(digest: Cli, tmp_path: Path) -> None:
    page = tmp_path / "huge.txt"
    page.write_text(text_page("word " * 8_000_000), encoding="utf-8")  # a 40 MB line
    code, out, err = digest("ingest", str(page))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {page}:3: 40000000 characters on one line; a listing line has at most "
        f"{MAX_LINE} (is this a paper listing?)\n"
    )
    assert papers(digest) == []


def test_a_title_over_its_cap_is_refused_with_its_line(digest: Cli, tmp_path: Path) -> None:
    page = tmp_path / "long-title.txt"
    page.write_text(text_page("word " * 1_000), encoding="utf-8")
    code, out, err = digest("ingest", str(page))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {page}:3: title: 4999 characters; a title has at most {MAX_TITLE} "
        "(is this a paper listing?)\n"
    )
    assert papers(digest) == []


def test_an_overlong_abstract_is_truncated_with_a_warning(digest: Cli, tmp_path: Path) -> None:
    page = tmp_path / "long.json"
    page.write_text(api_page(summary="agents " * 10_000), encoding="utf-8")
    code, _out, err = digest("ingest", str(page))
    assert code == 0
    assert err == (
        f"warning: {page}: $[0].paper.summary: 69999 characters, truncated to {MAX_ABSTRACT}\n"
    )
    [stored] = papers(digest)
    abstract = str(stored["abstract"])
    assert len(abstract) <= MAX_ABSTRACT and abstract.endswith("agents…")


def test_over_long_names_and_too_many_authors_are_cut_with_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    authors = [{"name": "N" * 500}] + [{"name": f"Author {n}"} for n in range(1_200)]
    [paper] = parse(api_page(authors=authors).encode(), name="api.json")
    assert len(paper.authors) == 1_000
    assert len(paper.authors[0]) == 200 and paper.authors[0].endswith("…")
    assert paper.author_count == 1_201
    assert [r.getMessage() for r in caplog.records] == [
        "api.json: $[0].paper.authors[0]: 500 characters, truncated to 200",
        "api.json: $[0].paper.authors: 1201 names, the first 1000 kept",
    ]


def test_an_overlong_id_is_refused_with_its_json_path() -> None:
    with pytest.raises(SourceError) as caught:
        parse(api_page(id="2410.12345 " + "x" * 100).encode(), name="api.json")
    assert str(caught.value) == "api.json: $[0].paper.id: 111 characters; an id has at most 64"


def test_an_impossible_author_count_is_refused_with_its_line() -> None:
    page = text_page("A title").replace("• 5 authors", "• 999999 authors")
    with pytest.raises(SourceError, match=r"^page\.txt:7: author_count: 999999 authors"):
        parse(page.encode(), name="page.txt")


def test_control_and_bidi_characters_are_removed_at_the_source() -> None:
    dirty = f"Agents{UNSAFE} that\tplan\u202e"
    [paper] = parse(
        api_page(
            title=dirty,
            summary=dirty,
            authors=[{"name": dirty}],
            organization={"fullname": dirty},
        ).encode(),
        name="api.json",
    )
    assert paper.title == "Agents that plan"
    assert paper.abstract == "Agents that plan"
    assert paper.authors == ("Agents that plan",)
    assert paper.organization == "Agents that plan"


@pytest.mark.parametrize("char", list(UNSAFE))
def test_sanitise_removes_each_unsafe_character(char: str) -> None:
    assert sanitise(f"a{char}b") in ("ab", "a b")


def test_urls_are_built_from_the_validated_id_not_the_raw_field() -> None:
    [paper] = parse(api_page(id=PHISH_ID[:64]).encode(), name="api.json")
    assert paper.id == "2410.99999"
    assert paper.url == "https://huggingface.co/papers/2410.99999"


def test_a_feed_link_that_is_not_a_plain_url_is_dropped() -> None:
    feed = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        "<entry><id>urn:x:1</id><title>Agents that plan</title>"
        '<link href="javascript:alert(1)"/><summary>s</summary></entry></feed>'
    )
    [paper] = parse(feed.encode(), name="feed.xml", format="arxiv")
    assert paper.url is None


def test_the_mail_carries_no_control_characters_and_no_phishing_text(
    digest: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", TEST_SECRET)
    source = tmp_path / "api.json"
    source.write_text(
        api_page(id=PHISH_ID[:64], title="Agents\x00 that \u202eplan", summary="agents\x00 plan"),
        encoding="utf-8",
    )
    profile = tmp_path / "ada.toml"
    profile.write_text(
        'email = "ada@example.org"\n[[topics]]\nname = "Agents"\nquery = "agents"\n',
        encoding="utf-8",
    )
    assert digest("ingest", str(source))[0] == 0
    assert digest("subscribers", "import", str(profile))[0] == 0
    code, _out, err = digest("preview", "--out", str(tmp_path / "out"))
    assert (code, err) == (0, "")
    raw = (tmp_path / "out" / "ada-example-org.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts = {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    }
    assert set(parts) == {"text/plain", "text/html"}
    for body in parts.values():
        assert "Agents that plan" in body
        assert "\x00" not in body and "\u202e" not in body
        assert "URGENT" not in body and "phish.example" not in body
    assert "https://huggingface.co/papers/2410.99999" in parts["text/html"]
