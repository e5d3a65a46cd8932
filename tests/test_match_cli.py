"""`digest match`: a query or a profile against the stored papers, as JSON or text."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, Cli

SAMPLE = ROOT / "digest" / "samples" / "daily-papers-sample.txt"


@pytest.fixture
def stored(digest: Cli) -> Cli:
    assert digest("ingest", str(SAMPLE))[0] == 0
    return digest


def test_match_query_as_json(stored: Cli) -> None:
    code, out, err = stored("match", "--query", "speculative decoding", "--json")
    assert (code, err) == (0, "")
    found = json.loads(out)
    assert found, "the bundled sample has speculative decoding papers"
    assert set(found[0]) == {"id", "title", "score", "matched"}
    assert "Speculative Decoding" in found[0]["title"]
    assert {"term": "speculative decoding", "field": "title"} in found[0]["matched"]
    scores = [m["score"] for m in found]
    assert scores == sorted(scores, reverse=True)


def test_match_limit(stored: Cli) -> None:
    code, out, _ = stored(
        "match", "--query", "attention, agents, diffusion", "--json", "--limit", "2"
    )
    assert code == 0
    assert len(json.loads(out)) == 2


def test_match_is_deterministic(stored: Cli) -> None:
    first = stored("match", "--query", "models", "--json")[1]
    assert stored("match", "--query", "models", "--json")[1] == first


def test_match_a_profile_uses_its_topics_and_cap(stored: Cli) -> None:
    code, out, err = stored("match", "--profile", str(ROOT / "subscribers" / "ada-inference.toml"))
    assert (code, err) == (0, "")
    assert "matched:" in out


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("speculative (decoding", 'error: column 13: unclosed "("'),
        ("", "error: column 1: empty query"),
        ("foo:bar", 'error: column 1: unknown field "foo:"; expected ti:, abs:, au: or org:'),
    ],
)
def test_a_bad_query_exits_2_with_the_column(stored: Cli, query: str, message: str) -> None:
    code, out, err = stored("match", "--query", query, "--json")
    assert (code, out) == (2, "")
    assert err.strip() == message


def test_query_and_profile_are_exclusive(stored: Cli) -> None:
    code, _, err = stored("match", "--json")
    assert code == 2 and "--query" in err


def test_a_profile_file_with_several_profiles_is_refused(stored: Cli) -> None:
    code, _, err = stored("match", "--profile", str(ROOT / "subscribers" / "team.toml"))
    assert code == 2 and "holds 2 profiles; expected one" in err
