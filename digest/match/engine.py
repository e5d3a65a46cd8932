"""Matcher: every subscriber's topics against one PaperIndex, with reasons.

Work is shared at four levels, because subscribers share interests: a distinct term is looked
up once per index (`PaperIndex.hits`); a distinct query text is evaluated and ranked once; a topic
(name + query) turns into Match objects once, for everyone who holds it; and a profile with
several topics merges only each topic's best `limit` papers. The caches live as long as the
Matcher: build one per edition (per PaperIndex) and drop it afterwards.

A paper's score for a profile is its best score over the topics it matched; `Match.topics` names
all of them. Reasons say which terms hit which field. Bare words written next to each other
("speculative decoding") are reported, and rewarded, as a phrase where they stand together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, mul, truediv
from typing import TypeGuard

from digest.match.aliases import AliasTable, shipped_aliases
from digest.match.index import PaperIndex, TermHits
from digest.match.plain import Group, plain_groups, score_group, understand
from digest.match.query import And, Node, Or, Term, parse
from digest.match.rank import RELEVANCE_SCALE, RELEVANCE_WEIGHT
from digest.models import Field, Match, MatchReason, Topic


def _plan_items(root: Node) -> list[tuple[Term, tuple[str, ...]]]:
    """The terms that can explain a match, in reading order, each with the words it `covers`:
    positive terms, plus a phrase for each run of adjacent bare words (which covers them)."""
    out: list[tuple[Term, tuple[str, ...]]] = []
    _walk(root, out)
    return out


def _walk(node: Node, out: list[tuple[Term, tuple[str, ...]]]) -> None:
    # Plain recursion, not a closure: a self-referencing nested function is a reference cycle
    # per call, garbage the collector would have to sweep for every distinct query.
    if isinstance(node, Term):
        out.append((node, ()))
    elif isinstance(node, Or):
        for child in node.children:
            _walk(child, out)
    elif isinstance(node, And):
        run: list[Term] = []
        for child in node.children:
            if _bare_word(child) and (not run or run[0].fields == child.fields):
                run.append(child)
                continue
            _flush(run, out)
            run = []
            if _bare_word(child):
                run.append(child)
            else:
                _walk(child, out)
        _flush(run, out)


def _flush(run: list[Term], out: list[tuple[Term, tuple[str, ...]]]) -> None:
    if len(run) > 1:
        phrase = Term(
            display=" ".join(t.display for t in run),
            stems=tuple(t.stems[0] for t in run),
            fields=run[0].fields,
            surfaces=tuple((t.surfaces or t.stems)[0] for t in run)
            if any(t.surfaces for t in run)
            else (),
        )
        out.append((phrase, tuple(t.display for t in run)))
    out.extend((t, ()) for t in run)


def _bare_word(node: Node) -> TypeGuard[Term]:
    return (
        isinstance(node, Term) and node.prefix is None and len(node.stems) == 1 and not node.joined
    )


@dataclass(slots=True)
class _Evaluated:
    """One distinct query against the index: its papers, scored and ranked once."""

    bits: int
    ranked: tuple[int, ...]  # paper indices, best first; ties keep index order (= paper id)
    scores: dict[int, float]
    plan: tuple[tuple[str, tuple[str, ...], TermHits], ...]  # (display, covers, hits)
    reasons: dict[int, tuple[MatchReason, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class _TopicList:
    """A topic's ranked papers for one min_upvotes, turned into Match objects only as far as
    anyone has read.

    Every profile holding this topic (same name and query) shares these: a profile with one
    topic is a slice of `matches`, so a popular topic costs next to nothing per subscriber.
    `keys` are (-score, paper index, serial) for merging several topics: plain numbers, cheap to
    sort and invisible to the garbage collector; the serial finds the list again.

    All three sequences are tuples, replaced (not extended) when a larger prefix is wanted: a
    list is always tracked by the collector, an empty tuple never is and a tuple of numbers
    stops being, and a topic list is read far more often than it grows.
    """

    evaluated: _Evaluated
    docs: tuple[int, ...]
    serial: int
    name: str
    matches: tuple[Match, ...] = ()
    keys: tuple[tuple[float, int, int], ...] = ()
    by_doc: dict[int, Match] = field(default_factory=dict)


class Matcher:
    """Match topic lists against one index; build one Matcher per index and reuse it."""

    def __init__(self, index: PaperIndex, aliases: AliasTable | None = None) -> None:
        self.index = index
        self.aliases = aliases or shipped_aliases()
        # bench/match.py: 6.9 s CPU with the by-text cache, 8.2 s without (+19%)
        self._by_text: dict[str, _Evaluated] = {}
        # bench/match.py: 8.5 s CPU with the per-topic lists, 18.5 s without (x2.17)
        self._topics: dict[tuple[str, str, int], _TopicList] = {}
        self._bit = [1 << doc for doc in range(index.size)]
        self._by_serial: list[_TopicList] = []
        self._nothing = _Evaluated(0, (), {}, ())

    def match(
        self, topics: Sequence[Topic], *, min_upvotes: int = 0, limit: int | None = None
    ) -> list[Match]:
        """Papers matching any topic, best first (score, then paper id); QueryError if a topic's
        query does not parse. A paper scores its best topic's score; `topics` names them all."""
        topics = [t for t in topics if t.query]  # a topic by example alone: digest.match.learn
        if not topics or (limit is not None and limit <= 0):
            return []
        if len(topics) == 1:
            topic = topics[0]
            held = self._topic_list(topic.name, topic.query, min_upvotes)
            return self._prefix(held, limit)
        # The best `limit` of a union, each paper scored by its best topic, are among the best
        # `limit` of each topic: only those are merged.
        known = self._topics.get
        lists = [
            known((t.name, t.query, min_upvotes)) or self._topic_list(t.name, t.query, min_upvotes)
            for t in topics
        ]
        candidates: list[tuple[float, int, int]] = []
        once = shared = 0  # papers matched by one topic / by two or more
        for held in lists:
            keys = held.keys
            if limit is None or (len(keys) < limit and len(keys) < len(held.docs)):
                keys = self._keys(held, limit)
            candidates += keys[:limit]
            bits = held.evaluated.bits
            shared |= once & bits
            once |= bits
        candidates.sort()  # best score first, ties by paper index (= paper id)
        single_bit = self._bit
        matches: list[Match] = []
        seen: set[int] = set()
        by_serial = self._by_serial
        for _neg, doc, serial in candidates:
            if doc in seen:
                continue
            seen.add(doc)
            if shared and shared & single_bit[doc]:
                matches.append(self._combined(doc, topics, lists))
            else:
                held = by_serial[serial]
                matches.append(held.by_doc.get(doc) or self._single(held, doc))
            if len(matches) == limit:
                break
        return matches

    def topic_score(self, topics: Sequence[Topic], doc: int) -> float:
        """The best score `topics` give indexed paper `doc` (0.0: none matches it)."""
        return max((self._evaluate(t.query).scores.get(doc, 0.0) for t in topics), default=0.0)

    def explain(self, query: str) -> list[Group] | None:
        """How a plain query is understood here (None: the query language, taken as written)."""
        parse(query)  # a query that does not parse is an error here too
        groups = plain_groups(query)
        if groups is None:
            return None
        return [understand(words, self.index, self.aliases) for words in groups]

    def _combined(self, doc: int, topics: Sequence[Topic], lists: list[_TopicList]) -> Match:
        """A paper several topics matched: their names and reasons, the best topic's score."""
        hit = [i for i, held in enumerate(lists) if doc in held.evaluated.scores]
        names = tuple(dict.fromkeys([topics[i].name for i in hit]))
        merged: dict[MatchReason, None] = {}
        for i in hit:
            merged.update(dict.fromkeys(self._reasons(lists[i].evaluated, doc)))
        score = max(lists[i].evaluated.scores[doc] for i in hit)
        return Match(self.index.papers[doc], score, names, tuple(merged))

    def _topic_list(self, name: str, query: str, min_upvotes: int) -> _TopicList:
        key = (name, query, min_upvotes)
        held = self._topics.get(key)
        if held is None:
            ev = self._evaluate(query)
            docs = ev.ranked
            if min_upvotes > 0:
                upvotes = self.index.upvotes
                docs = tuple([d for d in docs if upvotes[d] >= min_upvotes])
            held = self._topics[key] = _TopicList(ev, docs, len(self._by_serial), name)
            self._by_serial.append(held)
        return held

    def _prefix(self, held: _TopicList, limit: int | None) -> list[Match]:
        """The topic's first `limit` matches (all with None), built once and shared."""
        built = held.matches
        wanted = len(held.docs) if limit is None else min(limit, len(held.docs))
        if len(built) < wanted:
            more = [self._single(held, doc) for doc in held.docs[len(built) : wanted]]
            built = held.matches = built + tuple(more)
        return list(built[:wanted])

    def _keys(self, held: _TopicList, limit: int | None) -> tuple[tuple[float, int, int], ...]:
        keys = held.keys
        wanted = len(held.docs) if limit is None else min(limit, len(held.docs))
        if len(keys) < wanted:
            scores, serial = held.evaluated.scores, held.serial
            more = [(-scores[d], d, serial) for d in held.docs[len(keys) : wanted]]
            keys = held.keys = keys + tuple(more)
        return keys if len(keys) == wanted else keys[:wanted]

    def _single(self, held: _TopicList, doc: int) -> Match:
        """The Match for a paper only this topic matched (in the profile at hand)."""
        found = held.by_doc.get(doc)
        if found is None:
            ev = held.evaluated
            found = held.by_doc[doc] = Match(
                self.index.papers[doc], ev.scores[doc], (held.name,), self._reasons(ev, doc)
            )
        return found

    def _evaluate(self, text: str) -> _Evaluated:
        found = self._by_text.get(text)
        if found is None:
            # parse, not the process-wide compile_query cache: the syntax tree is dropped once
            # scored, so a matcher's caches hold only plain tuples, numbers and strings
            groups = plain_groups(text)
            found = self._score(parse(text)) if groups is None else self._score_plain(groups)
            self._by_text[text] = found
        return found

    def _score(self, root: Node) -> _Evaluated:
        index = self.index
        bits = index.evaluate(root)
        if not bits:
            return self._nothing  # shared: never written to, as it has no papers
        plan = tuple([(t.display, covers, index.hits(t)) for t, covers in _plan_items(root)])
        weights = [hits.weights for _d, _c, hits in plan if hits.bits & bits]
        if len(weights) == 1 and len(plan) == 1 and plan[0][2].bits == bits:
            docs = sorted(weights[0])  # a one-term query: the term's own weights
            raws = list(map(weights[0].__getitem__, docs))
        else:
            docs = index.docs(bits)
            raws = [0.0] * len(docs)
            for per_doc in weights:  # C-level loops: these lists can hold every paper
                raws = list(map(add, raws, map(per_doc.get, docs, repeat(0.0))))
        return self._ranked(bits, docs, raws, plan)

    def _ranked(
        self,
        bits: int,
        docs: list[int],
        raws: list[float],
        plan: tuple[tuple[str, tuple[str, ...], TermHits], ...],
    ) -> _Evaluated:
        """Raw relevance of `docs` (ascending) scored with trendiness and ranked, for both
        kinds of query: score = weight * raw / (raw + scale) + trend, as C-level maps over
        every paper (a popular query's papers can be most of the edition)."""
        relevance = map(truediv, raws, map(add, raws, repeat(RELEVANCE_SCALE)))
        trend = map(self.index.trend_part.__getitem__, docs)
        values = list(map(add, map(mul, relevance, repeat(RELEVANCE_WEIGHT)), trend))
        scores = dict(zip(docs, values, strict=True))
        ranked = tuple(sorted(docs, key=scores.__getitem__, reverse=True))  # stable: ties by id
        return _Evaluated(bits, ranked, scores, plan)

    def _score_plain(self, groups: list[list[Term]]) -> _Evaluated:
        """A plain query: each group understood and scored (`plain`), then ranked."""
        index = self.index
        raws: dict[int, float] = {}
        plan: list[tuple[str, tuple[str, ...], TermHits]] = []
        for words in groups:
            key = tuple([w.display for w in words])
            group = understand(words, index, self.aliases)
            found, explain = score_group(group, index)
            for doc, raw in found.items():
                raws[doc] = raws.get(doc, 0.0) + raw
            covers = key if group.phrase is not None else ()
            phrase = " ".join(key)
            for display, hits in explain:
                plan.append((display, covers if display == phrase else (), hits))
        if not raws:
            return self._nothing
        docs = sorted(raws)
        bits = sum(map(self._bit.__getitem__, docs))  # distinct bits: the sum is the union
        return self._ranked(bits, docs, list(map(raws.__getitem__, docs)), tuple(plan))

    def _reasons(self, ev: _Evaluated, doc: int) -> tuple[MatchReason, ...]:
        cached = ev.reasons.get(doc)
        if cached is not None:
            return cached
        said: list[tuple[str, Field]] = []
        seen: set[tuple[str, Field]] = set()
        for display, covers, hits in ev.plan:
            for name, counts in hits.per_field.items():
                if doc in counts:
                    key = (display, name)
                    if key in seen:
                        continue  # said already, or covered by a run phrase of these words
                    seen.add(key)
                    for word in covers:
                        seen.add((word, name))
                    said.append(key)
        result = ev.reasons[doc] = tuple([MatchReason(term, name) for term, name in said])
        return result
