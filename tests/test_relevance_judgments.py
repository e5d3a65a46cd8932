"""The development judgments under bench/relevance/ name real papers of the shared captures.

A title that no longer resolves (a typo, a capture re-read differently) would silently count as
a missed relevant paper in `digest eval`, lowering every figure measured with it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from digest.identity import title_key
from digest.sources import read
from tests.conftest import ROOT, shared_file

JUDGMENTS = sorted((ROOT / "bench" / "relevance").glob("judgments-*.json"))
CAPTURES = (
    ("daily-papers-page.txt", date(2025, 10, 17)),
    ("hf-daily-papers-api-2024-10-25.json", None),
    ("arxiv-rss-cs.AI-2025-08-20.xml", None),
)


@pytest.fixture(scope="module")
def titles() -> set[str]:
    found: set[str] = set()
    for name, page_date in CAPTURES:
        path = shared_file(name)
        for paper in read(str(path), page_date=page_date, today=date(2025, 10, 18)):
            found.add(title_key(paper.title))
    return found


def test_every_judgments_file_is_found() -> None:
    assert len(JUDGMENTS) >= 4, JUDGMENTS


@pytest.mark.parametrize("path", JUDGMENTS, ids=lambda p: p.name)
def test_every_judged_title_is_a_shared_paper(path: Path, titles: set[str]) -> None:
    topics = json.loads(path.read_text(encoding="utf-8"))["topics"]
    for name, judged in topics.items():
        relevant = {title_key(t) for t in judged["relevant"]}
        borderline = {title_key(t) for t in judged.get("borderline", [])}
        assert relevant, f"{path.name}: {name} has no relevant paper"
        assert not relevant & borderline, f"{path.name}: {name} judges a paper both ways"
        missing = sorted((relevant | borderline) - titles)
        assert not missing, f"{path.name}: {name} names papers not in the captures: {missing}"


def test_plain_and_expert_files_judge_the_same_papers() -> None:
    for plain in (p for p in JUDGMENTS if "expert" not in p.name):
        expert = plain.with_name(plain.name.replace("plain", "expert"))
        a = json.loads(plain.read_text(encoding="utf-8"))["topics"]
        b = json.loads(expert.read_text(encoding="utf-8"))["topics"]
        assert a.keys() == b.keys()
        for name in a:
            assert sorted(a[name]["relevant"]) == sorted(b[name]["relevant"]), name
            assert sorted(a[name].get("borderline", [])) == sorted(b[name].get("borderline", []))
