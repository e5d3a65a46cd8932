"""Ingest throughput: parse a synthetic hf-text page of ~5,000 papers and upsert it.

Measured against a naive baseline in the same run: the straightforward ORM loop, one
transaction for the whole page with a SELECT by title key per paper (what a loop over
`session.merge` amounts to). Both write to a fresh SQLite file; each figure is the best of
`--rounds` interleaved rounds, so a busy machine skews neither the figures nor the ratio much.
Run: .venv/bin/python bench/ingest.py [--papers N] [--rounds R]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from digest.identity import title_key
from digest.models import Paper
from digest.sources import parse
from digest.store import Store, open_store
from digest.store.papers import new_paper_row, upsert_papers
from digest.store.schema import PaperRow

NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
TODAY = date(2025, 10, 20)
ADJECTIVES = [
    "Sparse",
    "Efficient",
    "Scalable",
    "Robust",
    "Adaptive",
    "Latent",
    "Multimodal",
    "Recursive",
    "Causal",
]
TOPICS = [
    "Speculative Decoding",
    "Mixture of Experts",
    "KV Cache Compression",
    "Quantization",
    "Chain-of-Thought Reasoning",
    "Tool-Using Agents",
    "Video Diffusion",
    "Reward Modelling",
    "Robotic Manipulation",
    "Long-Context Attention",
]
SENTENCES = [
    "We study how large language models behave when the context grows beyond training length.",
    "Our method needs no retraining and keeps the output distribution exact.",
    "Experiments on twelve benchmarks show consistent gains over strong baselines.",
    "We release code, data and checkpoints to support further research.",
    "A lightweight predictor decides at every step how much compute to spend.",
    "The approach transfers to unseen tasks without additional supervision.",
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct"]


def synthetic_page(count: int, seed: int = 7) -> bytes:
    """An invented Daily Papers capture with every metadata variant the real page has."""
    rng = random.Random(seed)
    lines = ["Daily Papers", "", "byAK and the research community", "", "Oct 17", ""]
    for index in range(count):
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(TOPICS)} at Scale, Part {index}"
        abstract = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(5, 12)))
        lines += [title, "", abstract, ""]
        kind = index % 10
        if kind == 9:
            continue  # no metadata block
        lines.append("lab-org Research Lab" if kind == 0 else f"  • {rng.randint(2, 20)} authors")
        day = f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"
        if kind % 3 == 0:
            day += f", {rng.randint(2022, 2025)}"
        if kind % 2 == 0:
            day += f" {rng.randint(0, 300)}"
        lines += ["·", day, ""]
    return "\n".join(lines).encode("utf-8")


def batched(store: Store, papers: list[Paper]) -> None:
    with store.session() as session:
        upsert_papers(session, papers, NOW)


def naive(store: Store, papers: list[Paper]) -> None:
    with store.session() as session:
        for paper in papers:
            key = title_key(paper.title)
            row = session.scalar(select(PaperRow).where(PaperRow.title_key == key))
            if row is None:
                session.add(new_paper_row(paper, key, NOW))
            elif row.upvotes != paper.upvotes:
                row.upvotes = paper.upvotes


def timed(store_dir: Path, name: str, papers: list[Paper], load: object) -> tuple[float, float]:
    """Seconds for a first load into an empty database and for a re-load (all known)."""
    store = open_store(f"sqlite:///{store_dir / (name + '.db')}")
    try:
        assert callable(load)
        start = time.perf_counter()
        load(store, papers)
        first = time.perf_counter() - start
        start = time.perf_counter()
        load(store, papers)
        again = time.perf_counter() - start
    finally:
        store.dispose()
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = synthetic_page(args.papers)

    parses, fasts, slows = [], [], []
    for round_ in range(args.rounds):
        start = time.perf_counter()
        papers = parse(data, name="synthetic.txt", format="hf-text", today=TODAY)
        parses.append(time.perf_counter() - start)
        assert len(papers) == args.papers, len(papers)
        with tempfile.TemporaryDirectory() as folder:
            directory = Path(folder)
            fasts.append(timed(directory, f"batched{round_}", papers, batched))
            slows.append(timed(directory, f"naive{round_}", papers, naive))
    parse_s = min(parses)
    fast_first, fast_again = min(first for first, _ in fasts), min(again for _, again in fasts)
    slow_first, slow_again = min(first for first, _ in slows), min(again for _, again in slows)

    n = len(papers)
    size_mb = len(data) / 1e6
    print(f"hf-text page: {n} papers, {size_mb:.1f} MB")
    print(f"parse:                      {parse_s * 1000:8.1f} ms  ({n / parse_s:9.0f} papers/s)")
    print(
        f"parse + upsert (one txn):   {(parse_s + fast_first) * 1000:8.1f} ms  "
        f"({n / (parse_s + fast_first):9.0f} papers/s); re-ingest {fast_again * 1000:.1f} ms"
    )
    print(
        f"naive (SELECT per paper):   {(parse_s + slow_first) * 1000:8.1f} ms  "
        f"({n / (parse_s + slow_first):9.0f} papers/s); re-ingest {slow_again * 1000:.1f} ms"
    )
    print(
        f"ratio naive/batched: first load {(parse_s + slow_first) / (parse_s + fast_first):.1f}x, "
        f"re-ingest {slow_again / fast_again:.1f}x"
    )


if __name__ == "__main__":
    main()
