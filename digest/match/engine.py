"""Matcher: every subscriber's topics against one PaperIndex, with reasons.

Work is shared at three levels, because subscribers share interests: a distinct term is looked
up once per index (`PaperIndex.hits`), a distinct query (keyed by its AST, so spelling and
spacing variants that parse alike share it) is evaluated and ranked once, and a profile is the
union of its topics' ranked lists, merged lazily until `limit` papers are found.

A paper's score for a profile is its best score over the topics it matched; `Match.topics` names
all of them. Reasons say which terms hit which field. Bare words written next to each other
("speculative decoding") are reported, and rewarded, as a phrase where they stand together.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeGuard, TypeVar

from digest.match.index import PaperIndex, iter_bits
from digest.match.query import And, Node, Or, Term, compile_query
from digest.match.rank import blend, term_weight
from digest.models import Field, Match, MatchReason, Topic

_PROFILE_CACHE_LIMIT = 50_000
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Reason:
    """A term that can explain a match; `covers` are the single words a run phrase stands for."""

    term: Term
    covers: tuple[Term, ...] = ()


def explain_plan(root: Node) -> tuple[_Reason, ...]:
    """Positive terms in reading order, plus a phrase for each run of adjacent bare words."""
    out: list[_Reason] = []

    def walk(node: Node) -> None:
        if isinstance(node, Term):
            out.append(_Reason(node))
        elif isinstance(node, Or):
            for child in node.children:
                walk(child)
        elif isinstance(node, And):
            run: list[Term] = []

            def flush() -> None:
                if len(run) > 1:
                    phrase = Term(
                        display=" ".join(t.display for t in run),
                        stems=tuple(t.stems[0] for t in run),
                        fields=run[0].fields,
                    )
                    out.append(_Reason(phrase, covers=tuple(run)))
                out.extend(_Reason(t) for t in run)
                run.clear()

            for child in node.children:
                if _bare_word(child) and (not run or run[0].fields == child.fields):
                    run.append(child)
                    continue
                flush()
                if _bare_word(child):
                    run.append(child)
                else:
                    walk(child)
            flush()

    walk(root)
    return tuple(out)


def _bare_word(node: Node) -> TypeGuard[Term]:
    return (
        isinstance(node, Term) and node.prefix is None and len(node.stems) == 1 and not node.joined
    )


@dataclass(slots=True)
class _Evaluated:
    bits: int
    ranked: list[tuple[float, str, int]]  # (-score, paper id, paper index): best first
    scores: dict[int, float]
    plan: tuple[_Reason, ...]
    reasons: dict[int, tuple[MatchReason, ...]] = field(default_factory=dict)


class Matcher:
    """Match topic lists against one index; build one Matcher per index and reuse it."""

    def __init__(self, index: PaperIndex) -> None:
        self.index = index
        self._queries: dict[Node, _Evaluated] = {}
        self._profiles: dict[tuple[object, ...], list[Match]] = {}

    def match(
        self, topics: Sequence[Topic], *, min_upvotes: int = 0, limit: int | None = None
    ) -> list[Match]:
        """Papers matching any topic, best first (score, then paper id); QueryError if a topic's
        query does not parse."""
        roots = tuple(compile_query(t.query).root for t in topics)
        key = (tuple(t.name for t in topics), roots, min_upvotes, limit)
        cached = self._profiles.get(key)
        if cached is not None:
            return cached
        evaluated = [self._evaluate(root) for root in roots]
        matches: list[Match] = []
        if limit is None or limit > 0:
            upvotes = self.index.upvotes
            papers = self.index.papers
            seen = 0
            for neg_score, _pid, doc in self._merged(evaluated):
                if seen & (1 << doc):
                    continue
                seen |= 1 << doc
                if upvotes[doc] < min_upvotes:
                    continue
                hit = [i for i, ev in enumerate(evaluated) if ev.bits >> doc & 1]
                matches.append(
                    Match(
                        paper=papers[doc],
                        score=-neg_score,
                        topics=_unique(topics[i].name for i in hit),
                        matched=_unique(r for i in hit for r in self._reasons(evaluated[i], doc)),
                    )
                )
                if limit is not None and len(matches) >= limit:
                    break
        if len(self._profiles) >= _PROFILE_CACHE_LIMIT:
            self._profiles.clear()
        self._profiles[key] = matches
        return matches

    def matching_bits(self, query: str) -> int:
        """The bitmap of paper indices matching one query (for callers that only filter)."""
        return self._evaluate(compile_query(query).root).bits

    @staticmethod
    def _merged(evaluated: list[_Evaluated]) -> Iterator[tuple[float, str, int]]:
        if len(evaluated) == 1:
            return iter(evaluated[0].ranked)
        return heapq.merge(*(ev.ranked for ev in evaluated))

    def _evaluate(self, root: Node) -> _Evaluated:
        found = self._queries.get(root)
        if found is not None:
            return found
        index = self.index
        bits = index.evaluate(root)
        plan = explain_plan(root)
        scores: dict[int, float] = {}
        if bits:
            raw: dict[int, float] = dict.fromkeys(iter_bits(bits), 0.0)
            for reason in plan:
                hits = index.hits(reason.term)
                if not hits.bits & bits:
                    continue
                for name, counts in hits.per_field.items():
                    for doc, tf in counts.items():
                        if doc in raw:
                            raw[doc] += term_weight(name, hits.idf, tf)
            trend = index.trend
            scores = {doc: blend(value, trend[doc]) for doc, value in raw.items()}
        ids = [p.id for p in index.papers]
        ranked = sorted((-score, ids[doc], doc) for doc, score in scores.items())
        found = self._queries[root] = _Evaluated(bits, ranked, scores, plan)
        return found

    def _reasons(self, ev: _Evaluated, doc: int) -> tuple[MatchReason, ...]:
        cached = ev.reasons.get(doc)
        if cached is not None:
            return cached
        reasons: list[MatchReason] = []
        covered: set[tuple[Term, Field]] = set()
        for reason in ev.plan:
            hits = self.index.hits(reason.term)
            for name in reason.term.fields:
                if doc not in hits.per_field.get(name, ()):
                    continue
                if (reason.term, name) in covered:
                    continue
                covered.update((word, name) for word in reason.covers)
                reasons.append(MatchReason(term=reason.term.display, field=name))
        result = ev.reasons[doc] = _unique(reasons)
        return result


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(items))
