"""Topic matching: the query language, the per-edition index, ranking and explanations.

index = PaperIndex.build(papers, now=now)         # once per edition's candidate papers
matcher = Matcher(index)                          # reuse for every subscriber
matches = matcher.match(profile.topics, min_upvotes=profile.min_upvotes,
                        limit=profile.max_papers)
for m in matches:                                 # best first, ties by paper id
    highlight_spans(m.paper.title, m, "title")    # [(start, end), ...] in the original text
"""

from __future__ import annotations

from digest.match.engine import Matcher
from digest.match.highlight import highlight_spans, highlight_terms, term_spans
from digest.match.index import PaperIndex
from digest.match.query import Query, compile_query

__all__ = [
    "Matcher",
    "PaperIndex",
    "Query",
    "compile_query",
    "highlight_spans",
    "highlight_terms",
    "term_spans",
]
