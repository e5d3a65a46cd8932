"""Work shared across subscribers never changes what one subscriber gets.

One Matcher serves a whole edition and shares evaluated queries, per-term plan entries, topic
lists and merged matches between everyone. A seeded random workload checks that every profile
gets exactly what a Matcher built for that profile alone returns: same papers, order, scores,
topic names and reasons.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from digest.match import Matcher, PaperIndex
from digest.models import Paper, Topic

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
WORDS = [
    *("speculative", "decoding", "kv", "cache", "mixture", "experts", "moe", "reasoning"),
    *("math", "mathematical", "agents", "tool", "diffusion", "video", "quantization"),
    *("pre-training", "pretraining", "low-bit", "attention", "sparse", "linear", "LLMs"),
]
# Word pairs written both as a quoted phrase and as bare words, in several spellings: the same
# stems must still explain a match differently (a bare-word run also covers its words).
PAIRS = ["kv cache", "KV cache", "speculative decoding", "Speculative Decoding", "sparse attention"]
AUTHORS = ["Ada Lovelace", "Geoffrey Hinton", "Yann LeCun", "Zoë Müller", "Li Wei"]


def _papers(rng: random.Random) -> list[Paper]:
    return [
        Paper(
            id=f"p{i:03d}",
            title=" ".join(rng.choices(WORDS, k=rng.randint(2, 6))),
            abstract=" ".join(rng.choices(WORDS, k=rng.randint(10, 40))),
            authors=tuple(rng.sample(AUTHORS, rng.randint(0, 3))),
            organization=rng.choice([None, None, "DeepSeek", "Meta AI"]),
            upvotes=rng.randrange(0, 30),
            published=date(2026, 11, rng.randrange(1, 29)),
        )
        for i in range(120)
    ]


def _query(rng: random.Random) -> str:
    def word() -> str:
        return rng.choice(WORDS)

    shape = rng.randrange(8)
    if shape == 0:
        return f'"{rng.choice(PAIRS)}"'
    if shape == 1:
        return rng.choice(PAIRS)  # a run of bare words: also reported as a phrase
    if shape == 6:
        return f'"{word()} {word()}" {word()}'
    if shape == 2:
        return f"{word()} OR {word()}, {word()}"
    if shape == 3:
        return f"{word()[:4]}* -{word()}"
    if shape == 4:
        return f"ti:{word()} OR au:{rng.choice(AUTHORS).split()[-1]}"
    if shape == 5:
        return f"({word()} OR {word()}) {word()} NOT org:deepseek"
    return word()


@pytest.mark.parametrize("seed", range(4))
def test_a_shared_matcher_returns_what_a_fresh_one_would(seed: int) -> None:
    rng = random.Random(seed)
    index = PaperIndex.build(_papers(rng), now=NOW)
    shared = Matcher(index)
    catalogue = [_query(rng) for _ in range(40)]
    for _ in range(150):
        topics = [
            Topic(
                f"t{rng.randrange(6)}", rng.choice(catalogue) if rng.random() < 0.7 else _query(rng)
            )
            for _ in range(rng.randint(1, 4))
        ]
        min_upvotes = rng.choice([0, 0, 0, 5, 12])
        limit = rng.choice([1, 3, 5, 10, None])
        alone = Matcher(index).match(topics, min_upvotes=min_upvotes, limit=limit)
        assert shared.match(topics, min_upvotes=min_upvotes, limit=limit) == alone
