"""`digest eval FILE`: the matcher scored against relevance judgments over the stored papers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.app.evaluate import ndcg
from tests.conftest import ROOT, Cli

SAMPLE = ROOT / "digest" / "samples" / "daily-papers-sample.txt"
SPEC_1 = "Draft Trees That Grow Themselves: Adaptive Speculative Decoding for Long-Form Generation"
SPEC_2 = "Self-Speculative Decoding With Early-Exit Layers"
MOE = "Sparse Experts, Dense Results: Load-Balanced Routing Without Auxiliary Losses"


@pytest.fixture
def stored(digest: Cli) -> Cli:
    assert digest("ingest", str(SAMPLE))[0] == 0
    return digest


def write(tmp_path: Path, topics: object) -> str:
    path = tmp_path / "judgments.json"
    path.write_text(json.dumps({"topics": topics}), encoding="utf-8")
    return str(path)


def test_scores_each_topic_and_the_macro_f1(stored: Cli, tmp_path: Path) -> None:
    judgments = write(
        tmp_path,
        {
            "spec": {"query": '"speculative decoding"', "relevant": [SPEC_1, SPEC_2]},
            "moe": {"query": '"mixture of experts"', "relevant": [MOE]},
        },
    )
    code, out, err = stored("eval", judgments, "--json")
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert set(result) == {"macro_f1", "topics"}
    assert set(result["topics"]) == {"spec", "moe"}
    spec = result["topics"]["spec"]
    assert set(spec) == {"precision", "recall", "f1", "ndcg"}
    assert spec["recall"] == 1.0
    f1s = [t["f1"] for t in result["topics"].values()]
    assert result["macro_f1"] == pytest.approx(sum(f1s) / 2, abs=1e-4)


def test_titles_match_whatever_their_case_and_spacing(stored: Cli, tmp_path: Path) -> None:
    sloppy = "  self-speculative   DECODING with early-exit layers "
    judgments = write(tmp_path, {"t": {"query": "ti:self", "relevant": [sloppy]}})
    result = json.loads(stored("eval", judgments, "--json")[1])
    assert result["topics"]["t"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "ndcg": 1.0}


def test_borderline_papers_count_neither_way(stored: Cli, tmp_path: Path) -> None:
    plain = {"query": '"speculative decoding"', "relevant": [SPEC_1]}
    lenient = dict(plain, borderline=[SPEC_2])
    judgments = write(tmp_path, {"plain": plain, "lenient": lenient})
    topics = json.loads(stored("eval", judgments, "--json")[1])["topics"]
    assert topics["plain"]["precision"] < 1.0  # the second paper counts against
    assert topics["lenient"]["precision"] == 1.0  # and here it does not


def test_the_text_report_ends_with_the_macro_f1(stored: Cli, tmp_path: Path) -> None:
    judgments = write(tmp_path, {"spec": {"query": "speculative", "relevant": [SPEC_1]}})
    code, out, _ = stored("eval", judgments)
    assert code == 0
    assert out.splitlines()[-1].startswith("macro F1: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "line 1: invalid JSON"),
        ('{"topics": []}', 'expected an object with "topics"'),
        ('{"topics": {"x": {"relevant": []}}}', 'topic "x": "query" must be a string'),
        ('{"topics": {"x": {"query": "a (b"}}}', 'topic "x": query: column 3: unclosed "("'),
        ('{"topics": {"x": {"query": "a", "relevant": "b"}}}', '"relevant" must be a list'),
    ],
)
def test_a_bad_judgments_file_is_one_line_naming_it(
    stored: Cli, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = stored("eval", str(path))
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err and message in err


def test_ndcg_rewards_relevant_papers_first() -> None:
    assert ndcg(["a", "b", "x"], {"a", "b"}, set()) == 1.0
    assert ndcg(["x", "a", "b"], {"a", "b"}, set()) < 1.0
    assert ndcg(["y", "a"], {"a"}, {"y"}) == 1.0  # a borderline paper is skipped
