"""hf-json: the Daily Papers API response, real sample and hand-written variants."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from digest.errors import SourceError
from digest.sources import detect_format, parse
from tests.conftest import shared_file

API_SAMPLE = "hf-daily-papers-api-2024-10-25.json"


def entry(**paper: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "2410.00001", "title": "A Title", "summary": "An abstract."}
    base.update(paper)
    return {"paper": base, "numComments": 1}


def encode(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


def test_real_sample_has_29_papers_with_arxiv_ids() -> None:
    data = shared_file(API_SAMPLE).read_bytes()
    papers = parse(data, name="api.json")
    assert len(papers) == 29
    assert all(p.arxiv_id and p.id == p.arxiv_id for p in papers)
    assert len({p.id for p in papers}) == 29
    assert all("\n" not in p.title and "\n" not in p.abstract for p in papers)
    assert all("  " not in p.title and "  " not in p.abstract for p in papers)


def test_real_sample_fields() -> None:
    papers = parse(shared_file(API_SAMPLE).read_bytes(), name="api.json")
    first = papers[0]
    assert first.arxiv_id == "2410.17243"
    assert first.title == (
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    )
    assert first.abstract.startswith("Contrastive loss is a powerful approach for representation")
    assert first.authors[:2] == ("Zesen Cheng", "Hang Zhang")
    assert first.author_count == len(first.authors)
    assert (first.published, first.upvotes, first.comments) == (date(2024, 10, 22), 64, 3)
    assert first.submitter == "Zesen Cheng"
    assert first.url == "https://huggingface.co/papers/2410.17243"


def test_detected_from_content() -> None:
    assert detect_format(shared_file(API_SAMPLE).read_bytes(), "api") == "hf-json"
    assert detect_format(b"\xef\xbb\xbf  [\n]", "x") == "hf-json"


def test_organization_submitter_and_bare_papers() -> None:
    document = [
        entry(
            title="Org\n  Paper",
            organization={"name": "deepseek-ai", "fullname": "DeepSeek"},
            authors=[{"name": "Ada Lovelace"}, {"name": "Alan  Turing"}],
            publishedAt="2025-01-02T03:04:05.000Z",
            upvotes=9,
            submittedOnDailyBy={"name": "ada", "fullname": "Ada L."},
        ),
        {"id": "2410.00002", "title": "Bare paper object", "summary": "Text."},
    ]
    org, bare = parse(encode(document), name="api.json")
    assert org.title == "Org Paper"
    assert org.organization == "DeepSeek"
    assert org.authors == ("Ada Lovelace", "Alan Turing")
    assert (org.published, org.upvotes, org.submitter) == (date(2025, 1, 2), 9, "Ada L.")
    assert (bare.arxiv_id, bare.title, bare.organization) == (
        "2410.00002",
        "Bare paper object",
        None,
    )
    (single,) = parse(encode({"paper": {"id": "2410.00003", "title": "One"}}), name="one.json")
    assert single.abstract == ""


def test_truncated_json_names_the_position() -> None:
    data = shared_file(API_SAMPLE).read_bytes()[:5000]
    with pytest.raises(SourceError) as caught:
        parse(data, name="api.json")
    message = str(caught.value)
    assert message.startswith("api.json: line ")
    assert "column" in message and "truncated" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"papers": []}, "$.id: missing; expected a string"),
        ("just a string", "$: expected an array of papers, got a string"),
        ([entry(), 42], "$[1]: expected an object, got a number"),
        ([entry(title=["x"])], "$[0].paper.title: expected a string, got an array"),
        ([entry(upvotes=-1)], "$[0].paper.upvotes: expected a non-negative integer"),
        ([entry(authors="Ada")], "$[0].paper.authors: expected an array"),
        ([entry(authors=[{"user": "x"}])], "$[0].paper.authors[0].name: missing"),
        ([entry(publishedAt="yesterday")], "$[0].paper.publishedAt: expected an ISO date"),
    ],
)
def test_unexpected_shape_names_the_json_path(document: Any, fragment: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(encode(document), name="api.json", format="hf-json")
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("api.json: ")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty file"),
        (b"Daily Papers\n\nOct 17\n", "line 1 column 1: invalid JSON"),
        (b"\xff\xfe[\x00]\x00", "not UTF-8 text"),
    ],
)
def test_not_json_is_one_clear_error(data: bytes, fragment: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(data, name="in.json", format="hf-json")
    assert str(caught.value).startswith("in.json: ")
    assert fragment in str(caught.value)
