"""Topic matching: the query language, the per-edition index, ranking and explanations.

index = PaperIndex.build(papers, now=now)         # once per edition's candidate papers
matcher = Matcher(index)                          # reuse for every subscriber
matches = matcher.match(profile.topics, min_upvotes=profile.min_upvotes,
                        limit=profile.max_papers)
for m in matches:                                 # best first, ties by paper id
    for reason in m.matched:                      # where to highlight, in the original text
        term_spans(getattr(m.paper, reason.field), reason.term)  # [(start, end), ...]
"""

from __future__ import annotations

from digest.match.engine import Matcher
from digest.match.highlight import term_spans
from digest.match.index import PaperIndex
from digest.match.query import Query, compile_query

__all__ = [
    "Matcher",
    "PaperIndex",
    "Query",
    "compile_query",
    "term_spans",
]
