"""Ranking: how well a paper fits a query (relevance) blended with how much attention it gets.

Relevance sums, over the query's positive terms found in a paper, field weight × IDF × saturated
term frequency: a title hit outweighs an abstract hit (a paper *about* speculative decoding names
it in its title), a rare term outweighs a common one, and the tenth mention adds little over the
third. It is squashed into [0, 1) so it blends with trendiness on a fixed scale.

Trendiness is log-upvotes decayed by age (half-life one week) relative to the edition's `now`,
also squashed into [0, 1). Relevance dominates (weight 0.75): a digest is personal first.
Ties are broken by paper id by the caller, so the order never depends on input order.
"""

from __future__ import annotations

import math
from datetime import datetime

from digest.models import Field, Paper

FIELD_WEIGHTS: dict[Field, float] = {
    "title": 3.0,
    "abstract": 1.0,
    "authors": 2.5,
    "organization": 1.5,
}
RELEVANCE_WEIGHT = 0.75
TREND_WEIGHT = 1.0 - RELEVANCE_WEIGHT
HALF_LIFE_DAYS = 7.0
UNDATED_AGE_DAYS = 14.0  # a paper with no date is treated as two weeks old
_K1 = 1.2  # term-frequency saturation (as in BM25)
RELEVANCE_SCALE = 6.0  # raw relevance at which the squashed value is 0.5
_TREND_SCALE = 3.0  # ≈ 20 fresh upvotes


def saturate(tf: int) -> float:
    return tf * (_K1 + 1.0) / (tf + _K1)


def trendiness(paper: Paper, now: datetime) -> float:
    if paper.published is not None:
        age = max(0.0, float((now.date() - paper.published).days))
    elif paper.first_seen is not None:
        age = max(0.0, (now - paper.first_seen).total_seconds() / 86400.0)
    else:
        age = UNDATED_AGE_DAYS
    raw = math.log1p(max(0, paper.upvotes or 0)) * math.pow(0.5, age / HALF_LIFE_DAYS)
    return raw / (raw + _TREND_SCALE)
