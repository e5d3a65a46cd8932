"""`digest eval`: score the matcher against relevance judgments, over the stored papers.

A digest is only as good as the papers its topics let in, and "good" has to be measured
against what a careful reader would pick, not against what the matcher happens to do. A
judgments file names, per topic, a query and the papers that are relevant (and those that are
borderline, which count neither way). Each topic's query is matched against every stored paper
exactly as a digest would match it (no edition window, no cap), and scored:

- precision, recall and F1 of the set of papers the query lets in, borderline papers removed
  from both sides;
- nDCG of the ranking (binary gains, borderline papers skipped), over every paper let in, so a
  matcher that puts the relevant papers first scores higher than one that buries them;
- macro F1: the mean of the topics' F1, so a topic with three relevant papers weighs as much as
  one with thirty.

Papers are named by id or by title; titles compare case- and whitespace-insensitively, because
judgments are typed by people from listings that wrap and capitalise titles differently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.errors import DigestError, SourceError
from digest.match import Matcher, PaperIndex, compile_query
from digest.match.aliases import AliasTable
from digest.models import Paper, Topic
from digest.store import Store
from digest.store.papers import list_papers


@dataclass(frozen=True, slots=True)
class Judged:
    """One topic of a judgments file."""

    name: str
    query: str
    relevant: tuple[str, ...]
    borderline: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TopicScore:
    name: str
    precision: float
    recall: float
    f1: float
    ndcg: float
    found: int  # papers let in (borderline ones included)
    relevant: int  # relevant papers among the stored ones
    unknown: tuple[str, ...]  # judged names that match no stored paper


@dataclass(frozen=True, slots=True)
class Evaluation:
    macro_f1: float
    topics: tuple[TopicScore, ...]

    def as_json(self) -> dict[str, Any]:
        """The `digest eval --json` shape (DESIGN.md)."""
        return {
            "macro_f1": round(self.macro_f1, 4),
            "topics": {
                t.name: {
                    "precision": round(t.precision, 4),
                    "recall": round(t.recall, 4),
                    "f1": round(t.f1, 4),
                    "ndcg": round(t.ndcg, 4),
                }
                for t in self.topics
            },
        }


def normalise_title(text: str) -> str:
    """Case and whitespace do not matter when a title names a paper."""
    return " ".join(text.split()).casefold()


def load_judgments(path: Path) -> list[Judged]:
    """Read and check a judgments file; any problem is one SourceError naming file and key."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read judgments ({exc})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("topics"), dict):
        raise SourceError(f'{path}: expected an object with "topics": {{NAME: {{...}}}}')
    out: list[Judged] = []
    for name, entry in data["topics"].items():
        where = f"{path}: topic {json.dumps(name)}"
        if not isinstance(entry, dict):
            raise SourceError(f'{where}: expected {{"query", "relevant", "borderline"}}')
        query = entry.get("query")
        if not isinstance(query, str):
            raise SourceError(f'{where}: "query" must be a string')
        try:
            compile_query(query)
        except DigestError as exc:
            raise SourceError(f"{where}: query: {exc}") from None
        lists: list[tuple[str, ...]] = []
        for key in ("relevant", "borderline"):
            items = entry.get(key, [])
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise SourceError(f'{where}: "{key}" must be a list of paper ids or titles')
            lists.append(tuple(items))
        out.append(Judged(name, query, lists[0], lists[1]))
    if not out:
        raise SourceError(f"{path}: no topics to evaluate")
    return out


def _resolver(papers: Sequence[Paper]) -> dict[str, set[str]]:
    """Id or normalised title → the ids of the papers it names."""
    names: dict[str, set[str]] = {}
    for paper in papers:
        names.setdefault(paper.id, set()).add(paper.id)
        names.setdefault(normalise_title(paper.title), set()).add(paper.id)
    return names


def _resolve(names: dict[str, set[str]], items: Sequence[str]) -> tuple[set[str], list[str]]:
    ids: set[str] = set()
    unknown: list[str] = []
    for item in items:
        found = names.get(item) or names.get(normalise_title(item))
        if found:
            ids |= found
        else:
            unknown.append(item)
    return ids, unknown


def ndcg(ranked: Sequence[str], relevant: set[str], borderline: set[str]) -> float:
    """Binary-gain nDCG over the whole ranking; borderline papers are dropped before ranking."""
    if not relevant:
        return 1.0 if not [d for d in ranked if d not in borderline] else 0.0
    gains = [1.0 if d in relevant else 0.0 for d in ranked if d not in borderline]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(len(relevant)))
    return dcg / ideal


def score_topic(judged: Judged, ranked: Sequence[str], names: dict[str, set[str]]) -> TopicScore:
    relevant, unknown = _resolve(names, judged.relevant)
    borderline, unknown_b = _resolve(names, judged.borderline)
    borderline -= relevant
    found = [d for d in ranked if d not in borderline]
    hits = sum(1 for d in found if d in relevant)
    precision = hits / len(found) if found else (1.0 if not relevant else 0.0)
    recall = hits / len(relevant) if relevant else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TopicScore(
        name=judged.name,
        precision=precision,
        recall=recall,
        f1=f1,
        ndcg=ndcg(ranked, relevant, borderline),
        found=len(ranked),
        relevant=len(relevant),
        unknown=tuple(unknown + unknown_b),
    )


def evaluate_papers(
    judged: Sequence[Judged],
    papers: Sequence[Paper],
    *,
    now: datetime | None = None,
    aliases: AliasTable | None = None,
) -> Evaluation:
    """Score each topic's query over `papers` (the stored ones, or any other set)."""
    matcher = Matcher(PaperIndex.build(papers, now=now or datetime.now(UTC)), aliases=aliases)
    names = _resolver(papers)
    scores = []
    for topic in judged:
        found = matcher.match((Topic(name=topic.name, query=topic.query),))
        scores.append(score_topic(topic, [m.paper.id for m in found], names))
    macro = sum(s.f1 for s in scores) / len(scores) if scores else 0.0
    return Evaluation(macro, tuple(scores))


def evaluate(path: Path, store: Store, *, aliases: AliasTable | None = None) -> Evaluation:
    """`digest eval FILE`: the judgments in `path` against every stored paper."""
    judged = load_judgments(path)
    with store.session() as session:
        papers = list_papers(session)
    return evaluate_papers(judged, papers, aliases=aliases)
