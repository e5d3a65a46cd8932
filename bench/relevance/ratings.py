"""What a reader's ratings are worth: simulated ratings against the development judgments.

For each topic of the judgments file, one reader follows that topic's query. The shared papers
(`../shared/data/`: the Daily Papers page, the API sample, the arXiv feed) are shuffled with a
fixed seed and cut in two "days". The reader gets the first day's digest (their topic, capped at
`max_papers` like a real digest) and rates it as the judgments say: up for a relevant paper,
down for an off-topic one, nothing for a borderline one. Then both this reader and an identical
reader who rated nothing are matched against the second day's papers (the edition's index holds
both days, as an edition's eight-day index would), and scored like `digest eval` does: precision,
recall and F1 over the second day's papers, borderline papers counting neither way.

Printed: per-topic F1 without and with ratings (mean over the seeds in which the second day holds
a relevant paper), the macro figures and the gain. The naive baseline is the reader without
ratings, measured in the same run.

    .venv/bin/python bench/relevance/ratings.py [--judgments FILE] [--seeds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from digest.identity import title_key  # noqa: E402
from digest.match import Matcher, PaperIndex  # noqa: E402
from digest.match.learn import DEFAULT_TUNING, TextVectors, Tuning, rerank  # noqa: E402
from digest.models import Paper, Profile, Rating, Topic  # noqa: E402
from digest.sources import read  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SOURCES = (
    ("daily-papers-page.txt", date(2025, 10, 17)),
    ("hf-daily-papers-api-2024-10-25.json", None),
    ("arxiv-rss-cs.AI-2025-08-20.xml", None),
)
NOW = datetime(2025, 10, 18, 6, 0, tzinfo=UTC)
MAX_PAPERS = 10  # the first day's digest, as a reader with the default settings gets it


def load_papers() -> list[Paper]:
    papers: dict[str, Paper] = {}
    for name, page_date in SOURCES:
        for paper in read(str(DATA / name), page_date=page_date, today=NOW.date()):
            papers.setdefault(title_key(paper.title), paper)
    return sorted(papers.values(), key=lambda p: p.id)


def keys_of(entries: Sequence[str], papers: Sequence[Paper]) -> set[str]:
    """Judgment entries (ids or titles) as paper ids."""
    by_title = {title_key(p.title): p.id for p in papers}
    ids = {p.id for p in papers}
    by_arxiv = {p.arxiv_id: p.id for p in papers if p.arxiv_id}
    out: set[str] = set()
    for entry in entries:
        found = by_arxiv.get(entry) or (entry if entry in ids else by_title.get(title_key(entry)))
        if found:
            out.add(found)
    return out


def f1(found: set[str], relevant: set[str], borderline: set[str]) -> float:
    counted = found - borderline
    hits = len(counted & relevant)
    if not relevant:
        return 1.0 if not counted else 0.0
    precision = hits / len(counted) if counted else 0.0
    recall = hits / len(relevant)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def _score(matcher: Matcher, topics: tuple[Topic, ...], at: dict[str, int], pid: str) -> float:
    return matcher.topic_score(topics, at[pid])


def run(
    judgments: dict[str, dict[str, object]],
    papers: list[Paper],
    seeds: int,
    tuning: Tuning,
    first_digest: int = MAX_PAPERS,
) -> dict[str, tuple[float, float, int, float]]:
    """topic -> (mean F1 without ratings, with ratings, splits counted, ceiling). The ceiling is
    the F1 of the reader without ratings had every off-topic second-day match been taken out
    and nothing else changed: what narrowing alone could reach."""
    totals: dict[str, list[float]] = {name: [0.0, 0.0, 0, 0.0] for name in judgments}
    for seed in range(seeds):
        order = list(papers)
        random.Random(seed).shuffle(order)
        day1, day2 = order[: len(order) // 2], order[len(order) // 2 :]
        day2_ids = {p.id for p in day2}
        first = Matcher(PaperIndex.build(day1, now=NOW))
        both_index = PaperIndex.build(day1 + day2, now=NOW)
        both = Matcher(both_index)
        vectors = TextVectors(both_index.papers)
        for name, judged in judgments.items():
            query = str(judged["query"])
            relevant = keys_of(judged.get("relevant", []), papers)  # type: ignore[arg-type]
            borderline = keys_of(judged.get("borderline", []), papers)  # type: ignore[arg-type]
            if not relevant & day2_ids:
                continue
            profile = Profile(email="reader@example.org", topics=(Topic(name, query),))
            digest = first.match(profile.topics, limit=first_digest)
            ratings = tuple(
                Rating(m.paper, "up" if m.paper.id in relevant else "down")
                for m in digest
                if m.paper.id not in borderline
            )
            plain = {m.paper.id for m in both.match(profile.topics)} & day2_ids
            moved = rerank(
                both.match(profile.topics),
                ratings,
                vectors,  # built over the index's papers, in its order
                score_of=partial(_score, both, profile.topics, vectors.position),
                tuning=tuning,
            )
            learned = {m.paper.id for m in moved} & day2_ids
            row = totals[name]
            row[0] += f1(plain, relevant & day2_ids, borderline)
            row[1] += f1(learned, relevant & day2_ids, borderline)
            row[2] += 1
            row[3] += f1(plain & (relevant | borderline), relevant & day2_ids, borderline)
    return {
        name: (row[0] / row[2], row[1] / row[2], int(row[2]), row[3] / row[2])
        for name, row in totals.items()
        if row[2]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--judgments", type=Path, default=ROOT / "bench/relevance/judgments-plain.json"
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--first",
        type=int,
        default=MAX_PAPERS,
        help="Papers the first (rated) digest shows (default: a default digest's 10).",
    )
    parser.add_argument("--sweep", action="store_true", help="Also try other tunings.")
    args = parser.parse_args()
    if not DATA.is_dir() or not args.judgments.is_file():
        print(f"skipped: needs {DATA} and {args.judgments}")
        return 0
    judgments = json.loads(args.judgments.read_text(encoding="utf-8"))["topics"]
    papers = load_papers()
    result = run(judgments, papers, args.seeds, DEFAULT_TUNING, args.first)
    report(result, args.json)
    if args.sweep:
        for widen in (0.2, 0.3):
            for narrow in (0.15, 0.25, 1.0):
                tuning = Tuning(widen=widen, narrow=narrow)
                got = run(judgments, papers, args.seeds, tuning, args.first)
                base = sum(v[0] for v in got.values()) / len(got)
                learned = sum(v[1] for v in got.values()) / len(got)
                worst = min(v[1] - v[0] for v in got.values())
                print(
                    f"widen={widen} narrow={narrow}: {base:.3f} -> {learned:.3f} worst {worst:+.3f}"
                )
    return 0


def report(result: dict[str, tuple[float, float, int, float]], as_json: bool) -> None:
    base = sum(v[0] for v in result.values()) / len(result)
    learned = sum(v[1] for v in result.values()) / len(result)
    ceiling = sum(v[3] for v in result.values()) / len(result)
    if as_json:
        print(
            json.dumps(
                {
                    "macro_f1_without": round(base, 4),
                    "macro_f1_with": round(learned, 4),
                    "gain": round(learned - base, 4),
                    "ceiling_no_off_topic": round(ceiling, 4),
                    "topics": {
                        k: {"without": round(a, 4), "with": round(b, 4), "splits": n}
                        for k, (a, b, n, _c) in result.items()
                    },
                },
                indent=2,
            )
        )
        return
    print(f"{'topic':<26} {'no ratings':>10} {'ratings':>8} {'gain':>7}  splits  no off-topic")
    for name, (a, b, n, c) in result.items():
        print(f"{name:<26} {a:>10.3f} {b:>8.3f} {b - a:>+7.3f}  {n:>6}  {c:>12.3f}")
    gain = learned - base
    print(
        f"{'macro F1':<26} {base:>10.3f} {learned:>8.3f} {gain:>+7.3f}  {'':>6}  {ceiling:>12.3f}"
    )
    worst = min(b - a for a, b, _n, _c in result.values())
    print(f"ratio with/without ratings: {learned / base:.2f}x; worst topic change {worst:+.3f}")


if __name__ == "__main__":
    sys.exit(main())
