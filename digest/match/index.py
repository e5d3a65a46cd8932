"""PaperIndex: the edition's papers tokenised once, then queried by every subscriber.

Per field, each stem maps to the papers that contain it and where (token positions), so phrases
are checked by position and never by rescanning text. Sets of papers are Python ints used as
bitmaps (bit i = paper i): AND/OR/NOT over a thousand papers are single machine-word loops in C,
which is what lets one index serve a hundred thousand profiles.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from digest.match import rank
from digest.match.normalize import (
    boilerplate_spans,
    compounds,
    inflection_base,
    is_glued,
    plural_aliases,
    subparts,
    tokens,
)
from digest.match.query import And, Node, Not, Or, Term
from digest.models import Field, Paper

INDEXED_FIELDS: tuple[Field, ...] = ("title", "abstract", "authors", "organization")
# Positions between two authors: a phrase never runs from one name into the next.
_AUTHOR_GAP = 8
# For each byte value, the positions of its set bits.
_BYTE_BITS = tuple(tuple(b for b in range(8) if value >> b & 1) for value in range(256))


# Distinct terms an index keeps looked up: ~1.5 KB each, so ~12 MB at most. A run of 60,000
# readers (bench/edition.py) met 11,600, a new one every ~7 readers, and would have kept them all.
TERMS_KEPT = 8192

_SATURATED = [rank.saturate(tf) for tf in range(64)]  # rank.saturate by table, grown on demand


def _saturation_table(counts: dict[int, int]) -> list[float]:
    top = max(counts.values(), default=0)
    if top >= len(_SATURATED):
        _SATURATED.extend(rank.saturate(tf) for tf in range(len(_SATURATED), top + 1))
    return _SATURATED


def iter_bits(bits: int) -> Iterator[int]:
    """Paper indices in a bitmap, ascending."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


@dataclass(slots=True)
class _FieldIndex:
    # stem -> {paper index: positions}
    postings: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    bits: dict[str, int] = field(default_factory=dict)
    # folded surface forms, sorted, for prefix queries; surface -> stems it produced
    vocabulary: list[str] = field(default_factory=list)
    surface_stems: dict[str, set[str]] = field(default_factory=dict)  # while building
    surfaces: dict[str, tuple[str, ...]] = field(default_factory=dict)  # once finished
    # folded surface -> {paper index: occurrences}, and stem -> the surfaces it came from
    surface_counts: dict[str, dict[int, int]] = field(default_factory=dict)
    stem_surfaces: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, doc: int, stem: str, position: int) -> None:
        per_doc = self.postings.get(stem)
        if per_doc is None:
            per_doc = self.postings[stem] = {}
        positions = per_doc.get(doc)
        if positions is None:
            per_doc[doc] = [position]
        else:
            positions.append(position)

    def finish(self) -> None:
        # Positions become tuples of ints, which the garbage collector stops tracking: the
        # index is the largest object graph in a run and is never cyclic.
        for per_doc in self.postings.values():
            for doc, positions in per_doc.items():
                per_doc[doc] = tuple(positions)  # type: ignore[assignment]
        self.bits = {s: sum(1 << d for d in docs) for s, docs in self.postings.items()}
        self.vocabulary = sorted(self.surface_stems)
        self.surfaces = {k: tuple(sorted(v)) for k, v in self.surface_stems.items()}
        by_stem: dict[str, list[str]] = {}
        for surface, stems in self.surfaces.items():
            for stem in stems:
                by_stem.setdefault(stem, []).append(surface)
        self.stem_surfaces = {k: tuple(v) for k, v in by_stem.items()}
        self.surface_stems = {}  # tuples, unlike sets, drop out of the collector's sweeps

    def prefix_stems(self, prefix: str) -> set[str]:
        found: set[str] = set()
        start = bisect.bisect_left(self.vocabulary, prefix)
        for surface in self.vocabulary[start:]:
            if not surface.startswith(prefix):
                break
            found.update(self.surfaces[surface])
        return found


@dataclass(frozen=True, slots=True)
class TermHits:
    """Where one query term occurs: per field, paper index -> number of occurrences."""

    per_field: dict[Field, dict[int, int]]
    bits: int
    idf: float
    weights: dict[int, float]  # paper index -> this term's relevance contribution


class PaperIndex:
    """Build once per edition with `PaperIndex.build(papers, now=...)`; read-only afterwards."""

    def __init__(self, papers: Sequence[Paper], now: datetime) -> None:
        # Paper index order is paper id order, so a stable sort by score breaks ties by id.
        self.papers: tuple[Paper, ...] = tuple(sorted(papers, key=lambda p: p.id))
        self.now = now
        self.size = len(self.papers)
        self.all_bits = (1 << self.size) - 1
        self.fields: dict[Field, _FieldIndex] = {f: _FieldIndex() for f in INDEXED_FIELDS}
        self.trend: tuple[float, ...] = tuple(rank.trendiness(p, now) for p in self.papers)
        self.trend_part = tuple(rank.TREND_WEIGHT * t for t in self.trend)
        self.upvotes: tuple[int, ...] = tuple(p.upvotes or 0 for p in self.papers)
        # bench/match.py: 7.9 s CPU with this per-term cache, 14.4 s without (x1.83). Bounded:
        # readers' own queries bring terms of their own (a phrase per query), so past
        # TERMS_KEPT it starts over and the shared terms are looked up again once each.
        self._terms: dict[tuple[object, ...], TermHits] = {}
        self._bit = [1 << doc for doc in range(self.size)]
        for doc, paper in enumerate(self.papers):
            self._add_text(doc, "title", paper.title, 0)
            self._add_text(doc, "abstract", paper.abstract, 0)
            position = 0
            for author in paper.authors:
                position = self._add_text(doc, "authors", author, position) + _AUTHOR_GAP
            if paper.organization:
                self._add_text(doc, "organization", paper.organization, 0)
        for index in self.fields.values():
            index.finish()

    @classmethod
    def build(cls, papers: Sequence[Paper], *, now: datetime) -> PaperIndex:
        return cls(papers, now)

    def _add_text(self, doc: int, name: Field, text: str, offset: int) -> int:
        index = self.fields[name]
        postings, surfaces, counted = index.postings, index.surface_stems, index.surface_counts
        toks = tokens(text)
        if name == "abstract" and toks:
            spans = boilerplate_spans(text)
            if spans:  # boilerplate words are not the paper's subject
                toks = [t for t in toks if not any(a <= t.start < b for a, b in spans)] or toks
        position = offset
        for tok in toks:  # the hot loop of a build: plain dict operations, no calls
            stem = tok.stem
            per_doc = postings.get(stem)
            if per_doc is None:
                postings[stem] = {doc: [position]}
            elif doc in per_doc:
                per_doc[doc].append(position)
            else:
                per_doc[doc] = [position]
            stems = surfaces.get(tok.surface)
            if stems is None:
                surfaces[tok.surface] = {stem}
            elif stem not in stems:
                stems.add(stem)
            seen = counted.get(tok.surface)
            if seen is None:
                counted[tok.surface] = {doc: 1}
            else:
                seen[doc] = seen.get(doc, 0) + 1
            position += 1
        for first, _last, joined in compounds(text, toks):
            index.add(doc, joined, offset + first)
        for i, tok in enumerate(toks):
            written = text[tok.start : tok.end]
            if not is_glued(written):
                continue
            for part_surface, part in subparts(written):
                if part != tok.stem:
                    index.add(doc, part, offset + i)
                    surfaces.setdefault(part_surface, set()).add(part)
        for i, alias in plural_aliases(text, toks):
            index.add(doc, alias, offset + i)
            plural = toks[i].surface + "s"
            surfaces.setdefault(plural, set()).add(alias)
        return offset + len(toks)

    def docs(self, bits: int) -> list[int]:
        """Paper indices in a bitmap, ascending: bit by bit when sparse, else a byte at a time
        through a lookup table."""
        if bits.bit_count() < 24:
            return list(iter_bits(bits))
        data = bits.to_bytes((self.size + 7) // 8 or 1, "little")
        table = _BYTE_BITS
        return [i * 8 + b for i, byte in enumerate(data) if byte for b in table[byte]]

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self, node: Node) -> int:
        """The bitmap of papers matching a query node."""
        if isinstance(node, Term):
            return self.hits(node).bits
        if isinstance(node, Not):
            return self.all_bits & ~self.evaluate(node.child)
        if isinstance(node, Or):
            bits = 0
            for child in node.children:
                bits |= self.evaluate(child)
            return bits
        assert isinstance(node, And)
        bits = self.all_bits
        for child in node.children:
            if isinstance(child, Not):
                bits &= ~self.evaluate(child.child)
            else:
                bits &= self.evaluate(child)
            if not bits:
                break
        return bits

    def hits(self, term: Term) -> TermHits:
        """Occurrences of one term, computed once per distinct term for the index's lifetime."""
        # keyed by plain tuples: C-level hashing, where the dataclass hash would be Python code
        key = (term.stems, term.fields, term.prefix, term.joined, term.surfaces, term.forms)
        found = self._terms.get(key)
        if found is None:
            per_field = {f: self._field_hits(term, f) for f in term.fields}
            bit = self._bit
            bits = 0
            for counts in per_field.values():
                bits |= sum(map(bit.__getitem__, counts))  # distinct bits: the sum is the union
            idf = math.log(1.0 + self.size / (1.0 + bits.bit_count()))
            weights: dict[int, float] = {}
            for name, counts in per_field.items():
                # as C-level maps: (field weight × idf) × saturate(tf), the
                # same floating-point operations in the same order
                scale = rank.FIELD_WEIGHTS[name] * idf
                saturated = map(_saturation_table(counts).__getitem__, counts.values())
                part = dict(zip(counts, map(scale.__mul__, saturated), strict=True))
                if not weights:
                    weights = part
                else:
                    for doc, weight in part.items():
                        weights[doc] = weights.get(doc, 0.0) + weight
            if len(self._terms) >= TERMS_KEPT:
                self._terms.clear()
            found = self._terms[key] = TermHits(per_field, bits, idf, weights)
        return found

    def _as_written(self, stem: str, surface: str) -> str:
        """A query word typed in lower case ("aime") means the acronym ("AIME") when the papers
        write it only as one: the acronym's unstemmed form, not Snowball's "aim" (= "aims")."""
        if stem == surface:
            return stem
        seen = False
        for index in self.fields.values():
            written = index.surfaces.get(surface)
            if written is None:
                continue
            if written != (surface,):
                return stem
            seen = True
        return surface if seen else stem

    def _field_hits(self, term: Term, name: Field) -> dict[int, int]:
        index = self.fields[name]
        counts: dict[int, int] = {}
        if term.prefix is not None:
            for stem in sorted(index.prefix_stems(term.prefix)):
                for doc, positions in index.postings.get(stem, {}).items():
                    counts[doc] = counts.get(doc, 0) + len(positions)
            return counts
        stems = term.stems
        if term.surfaces:
            stems = tuple(map(self._as_written, stems, term.surfaces))
        if len(stems) == 1:
            counts = {d: len(p) for d, p in index.postings.get(stems[0], {}).items()}
            if term.forms is not None:
                self._other_forms(index, stems[0], term.forms, counts)
        else:
            counts = self._phrase_hits(index, stems)
        if term.joined is not None:
            for doc, positions in index.postings.get(term.joined, {}).items():
                counts[doc] = counts.get(doc, 0) + len(positions)
        return counts

    @staticmethod
    def _other_forms(index: _FieldIndex, stem: str, base: str, counts: dict[int, int]) -> None:
        """Take out of `counts` the words that share the stem but not the inflection base
        ("distribution" for "distributed"): plain queries match inflections only."""
        for surface in index.stem_surfaces.get(stem, ()):
            if surface == stem or inflection_base(surface) == base:
                continue
            for doc, n in index.surface_counts.get(surface, {}).items():
                left = counts.get(doc, 0) - n
                if left > 0:
                    counts[doc] = left
                else:
                    counts.pop(doc, None)

    @staticmethod
    def _phrase_hits(index: _FieldIndex, stems: tuple[str, ...]) -> dict[int, int]:
        candidates = -1
        for stem in stems:
            candidates &= index.bits.get(stem, 0)
            if not candidates:
                return {}
        counts: dict[int, int] = {}
        lists = [index.postings[s] for s in stems]
        for doc in iter_bits(candidates):
            starts = set(lists[0][doc])
            for offset, per_doc in enumerate(lists[1:], start=1):
                starts &= {p - offset for p in per_doc[doc]}
                if not starts:
                    break
            if starts:
                counts[doc] = len(starts)
        return counts
