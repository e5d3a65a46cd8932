"""The live preview on the preferences page: one request per (debounced) keystroke.

`PreviewSource` keeps one paper index (and its matcher's query cache) until a one-row
fingerprint query (count, newest update) says an ingest changed the papers, then applies the
edition rules to the reader's unsaved settings. The naive baseline in the same run does what
`preview_for_profile` is for: read the papers and index them on every request. Both use the same
fresh SQLite file and profile, and must give the same edition. Each request changes the query,
as typing does.
Run: .venv/bin/python bench/web_preview.py [--papers N] [--requests N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.app.edition import preview_for_profile
from digest.app.live_preview import PREVIEW_POOL, PreviewSource
from digest.models import Paper, Profile, Topic
from digest.settings import load_settings
from digest.store import open_store
from digest.store.papers import list_papers, upsert_papers

NOW = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
WORDS = [
    "speculative",
    "decoding",
    "diffusion",
    "robot",
    "agent",
    "reasoning",
    "quantization",
    "kv",
    "cache",
    "vision",
    "language",
    "model",
    "reinforcement",
    "learning",
    "graph",
    "transformer",
    "attention",
    "sparse",
    "mixture",
    "experts",
    "retrieval",
    "benchmark",
    "alignment",
    "safety",
    "multimodal",
    "video",
    "audio",
    "speech",
    "protein",
    "molecule",
]


def papers(count: int) -> list[Paper]:
    rng = random.Random(7)
    return [
        Paper(
            id=f"2603.{n:05d}",
            title=" ".join(rng.choices(WORDS, k=8)).title(),
            abstract=" ".join(rng.choices(WORDS, k=120)),
            authors=tuple(f"Author {rng.randint(1, 500)}" for _ in range(4)),
            upvotes=rng.randint(0, 200),
        )
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=600)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    profile = Profile(
        email="ada@example.org",
        topics=(
            Topic("Decoding", '"speculative decoding" OR "kv cache"'),
            Topic("Robots", "robot* AND NOT diffusion"),
            Topic("Agents", "agent*"),
        ),
    )
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            None,
            database={"url": f"sqlite:///{Path(folder) / 'bench.db'}"},
            site={"secret_key": ["bench-secret-key-0123456789abcdef"]},
        )
        store = open_store(settings.database.url)
        with store.session() as session:
            upsert_papers(session, papers(args.papers), NOW - timedelta(hours=2))
        source = PreviewSource(settings, store)
        source.edition(profile, now=NOW)  # warm: the first request builds the index
        typed = [
            replace(profile, topics=(*profile.topics, Topic("Typed", WORDS[n % len(WORDS)])))
            for n in range(args.requests)
        ]

        start = time.perf_counter()
        cached = [source.edition(edited, now=NOW) for edited in typed]
        fast = (time.perf_counter() - start) / args.requests

        start = time.perf_counter()
        naive = []
        for edited in typed:
            with store.session() as session:
                everything = list_papers(session, limit=PREVIEW_POOL)
            naive.append(
                preview_for_profile(edited, everything, settings, edition_date=NOW.date(), now=NOW)
            )
        slow = (time.perf_counter() - start) / args.requests
        store.dispose()

    for ours, theirs in zip(cached, naive, strict=True):
        assert [m.paper.id for m in ours.papers] == [m.paper.id for m in theirs.papers]
        assert [p.id for p in ours.trending] == [p.id for p in theirs.trending]
    cached_edition = cached[-1]
    print(f"papers stored:                {args.papers}")
    papers_shown = f"{len(cached_edition.papers)} (+{len(cached_edition.trending)} trending)"
    print(f"papers in the last preview:   {papers_shown}")
    print(f"preview, shared index:        {fast * 1000:.1f} ms per request")
    print(f"preview, index per request:   {slow * 1000:.1f} ms per request (naive baseline)")
    print(f"ratio naive / cached:         {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
