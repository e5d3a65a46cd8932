"""Plain-word queries: what a reader means by `medical ai` or `code generation`.

A query with no quotes, operators, field prefixes, parentheses or `*` is a plain query: a
comma-separated list of groups of words. Boolean "every word somewhere" is the wrong reading of
it — in a stream of AI papers "ai", "model" and "llm" are in nearly every abstract, so requiring
them finds nothing new, and "code … generation" anywhere is not a paper about code generation.
Each group is understood instead as a handful of *concepts*, scored like BM25:

1. Words are grouped into concepts with the alias table (`aliases.txt`): "math" also finds
   "mathematical", "llm" also "large language model", "mixture of experts" is one concept.
2. A word is *required* unless it is common: listed as `common:` in the table ("ai", "model",
   "llm", "learning") or found in more than `COMMON_SHARE` of the papers (when there are enough
   papers to tell). So `medical ai` requires "medical" and prefers papers that also say "AI".
   When every word is common, the rarest one is required. A word of a named term is part of the
   name, not a common word on its own: in `reinforcement learning` both words are required. A
   concept is there when its required words are (in any order, anywhere) or one of its aliases
   is; an alias weighs as the words it stands for would in its place.
3. Words match their inflections only ("distributed" finds "distributes", not "distribution",
   which Snowball gives the same stem).
4. A paper that has every concept scores the rarity-weighted sum of what it has (title hits
   weigh more, repeated mentions a little more); the words standing together as typed add a
   phrase bonus, which ranks it higher but lets no paper in. With two or more required words a
   paper is let in only when its required words (or their aliases) weigh at least the
   *cut-off*: `CUT` times what naming each of them twice in the abstract would weigh. A paper
   about the topic names it in its title or repeats it; one passing mention ("our code …
   generation", "… and reinforcement learning") is not enough. A single required word is the
   reader's key term, and one mention is enough.

`digest match --explain` prints this understanding (concepts, what each expands to, which are
required, the cut-off), so a reader can see why a paper was or was not picked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from digest.match import rank
from digest.match.aliases import AliasTable
from digest.match.index import PaperIndex, TermHits
from digest.match.query import DEFAULT_FIELDS, MAX_LENGTH, Term, _lex, _word

COMMON_SHARE = 0.8  # a word in four papers out of five does not gate a match
MIN_PAPERS_FOR_SHARE = 20  # below this, shares are too noisy: only the `common:` list counts
CUT = 1.0  # a paper must weigh what naming each required word twice in the abstract weighs
_TWICE = rank.saturate(2)


@dataclass(frozen=True, slots=True)
class Word:
    """One typed word, how rare it is here, and whether a paper must have it."""

    display: str
    term: Term
    required: bool
    papers: int  # how many papers have it
    idf: float
    common: bool  # too common to decide on its own (it may still be part of a named term)


@dataclass(frozen=True, slots=True)
class Concept:
    """One thing the reader asked for: its words, and other names for it (aliases). A paper
    has the concept when it has its required words (in any order, anywhere) or an alias."""

    display: str  # as typed
    words: tuple[Word, ...]
    aliases: tuple[Term, ...]
    papers: int  # how many papers have it, by any of its names
    cutoff: float = 0.0  # its share of the group's cut-off

    @property
    def required(self) -> bool:
        return any(w.required for w in self.words)


@dataclass(frozen=True, slots=True)
class Group:
    """One comma-separated part of a plain query."""

    display: str
    concepts: tuple[Concept, ...]
    phrase: Term | None  # the typed words side by side, rewarded when a paper has them so

    @property
    def cutoff(self) -> float:
        return sum(c.cutoff for c in self.concepts)


_SYNTAX = frozenset('"“”„():*')
_OPERATOR_WORDS = frozenset(("OR", "AND", "NOT"))


def plain_groups(text: str) -> list[list[Term]] | None:
    """The groups of words of a plain query, or None when the query uses the query language
    (quotes, operators, fields, parentheses, `*`, exclusion): those keep their exact meaning."""
    if len(text) > MAX_LENGTH or not _SYNTAX.isdisjoint(text):
        return None
    for word in text.replace(",", " ").split():
        if word in _OPERATOR_WORDS or word.startswith("-"):
            return None
    groups: list[list[Term]] = [[]]
    for tok in _lex(text):
        if tok.kind == "end":
            break
        if tok.kind == "comma":
            groups.append([])
            continue
        if tok.kind != "word" or "*" in tok.text:
            return None
        groups[-1].append(_word(tok, DEFAULT_FIELDS))
    found = [g for g in groups if g]
    return found or None


def _phrase_of(words: list[Term], display: str) -> Term:
    stems = tuple(s for w in words for s in w.stems)
    surfaces = tuple(s for w in words for s in (w.surfaces or w.stems))
    return Term(display, stems, DEFAULT_FIELDS, surfaces=surfaces if surfaces != stems else ())


def _pieces(words: list[Term], aliases: AliasTable) -> list[tuple[list[Term], tuple[Term, ...]]]:
    """The typed words cut into concepts, longest alias first: (its words, its other names)."""
    units: list[tuple[str, str, int]] = []  # (stem, surface, word number)
    for number, word in enumerate(words):
        surfaces = word.surfaces or word.stems
        units.extend((s, f, number) for s, f in zip(word.stems, surfaces, strict=True))
    pieces: list[tuple[list[Term], tuple[Term, ...]]] = []
    i = 0
    starts = aliases.starts
    while i < len(units):
        number = units[i][2]
        longest = aliases.longest if units[i][0] in starts or units[i][1] in starts else 0
        for size in range(min(longest, len(units) - i), 0, -1):
            end = i + size
            if end < len(units) and units[end][2] == units[end - 1][2]:
                continue  # an alias covers whole typed words only
            stems = tuple(u[0] for u in units[i:end])
            group = aliases.group(stems, tuple(u[1] for u in units[i:end]))
            if group is not None:
                others = tuple(
                    Term(a.text, a.stems, DEFAULT_FIELDS, surfaces=a.surfaces)
                    for a in group
                    if a.stems != stems
                )
                pieces.append((words[number : units[end - 1][2] + 1], others))
                i = end
                break
        else:
            pieces.append(([words[number]], ()))
            while i < len(units) and units[i][2] == number:
                i += 1
    return pieces


def understand(words: list[Term], index: PaperIndex, aliases: AliasTable) -> Group:
    """How one group of plain words is read against this index (see the module docstring)."""
    share_counts = index.size >= MIN_PAPERS_FOR_SHARE
    concepts: list[Concept] = []
    for typed, others in _pieces(words, aliases):
        judged: list[Word] = []
        has = index.all_bits
        for word in typed:
            bits = index.hits(word).bits
            has &= bits
            df = bits.bit_count()
            common = aliases.is_common(word.stems, word.surfaces or word.stems) or (
                share_counts and df > COMMON_SHARE * index.size
            )
            idf = math.log(1.0 + index.size / (1.0 + df))
            judged.append(Word(word.display, word, not common, df, idf, common))
        if len(judged) > 1 and any(w.required for w in judged):
            # a word of a named term ("learning" in "reinforcement learning") is part of the
            # name, not a common word on its own: the term is there when all of it is
            judged = [Word(w.display, w.term, True, w.papers, w.idf, w.common) for w in judged]
        for term in others:
            has |= index.hits(term).bits
        name = " ".join(w.display for w in typed)
        concepts.append(Concept(name, tuple(judged), others, has.bit_count()))
    if not any(c.required for c in concepts):
        # every word is common: the rarest one decides (a query must look for something)
        flat = [(w.papers, n, k) for n, c in enumerate(concepts) for k, w in enumerate(c.words)]
        _papers, n, k = min(flat)
        c = concepts[n]
        w = c.words[k]
        chosen = Word(w.display, w.term, True, w.papers, w.idf, w.common)
        words_now = (*c.words[:k], chosen, *c.words[k + 1 :])
        concepts[n] = Concept(c.display, words_now, c.aliases, c.papers)
    display = " ".join(w.display for w in words)
    phrase = _phrase_of(words, display) if len(words) > 1 else None
    needed = [w for c in concepts for w in c.words if w.required]
    # One required word is the reader's key term: any mention counts. Two or more can meet by
    # accident ("code … generation") or be named in passing ("… and reinforcement learning"):
    # together they must weigh what naming each twice in the abstract would (a title does).
    if len(needed) > 1:
        twice = CUT * _TWICE * rank.FIELD_WEIGHTS["abstract"]
        concepts = [
            Concept(c.display, c.words, c.aliases, c.papers, twice * _own_idf(c))
            if c.required
            else c
            for c in concepts
        ]
    return Group(display, tuple(concepts), phrase)


def _own_idf(concept: Concept) -> float:
    return sum(w.idf for w in concept.words if w.required)


def _alias_weights(
    concept: Concept, index: PaperIndex
) -> tuple[dict[int, float], dict[int, float], int]:
    """What a concept's other names weigh per paper: (best of those sharing a word with the
    typed words, sum of those sharing none, papers with any). A required concept's alias
    weighs as its own words would in its place, so naming it by another name ("VLM",
    "mathematical") counts as naming it; another name for the same words ("speculative
    sampling" beside "speculative decoding") is not counted twice."""
    idf = _own_idf(concept) if concept.required else None
    typed = {s for w in concept.words for s in w.term.stems}
    overlapping: dict[int, float] = {}
    disjoint: dict[int, float] = {}
    bits = 0
    for term in concept.aliases:
        hits = index.hits(term)
        bits |= hits.bits
        scale = 1.0 if idf is None or not hits.idf else idf / hits.idf
        shares = not typed.isdisjoint(term.stems)
        for doc, weight in hits.weights.items():
            weight *= scale
            if not shares:
                disjoint[doc] = disjoint.get(doc, 0.0) + weight
            elif weight > overlapping.get(doc, 0.0):
                overlapping[doc] = weight
    return overlapping, disjoint, bits


def score_group(
    group: Group, index: PaperIndex
) -> tuple[dict[int, float], list[tuple[str, TermHits]]]:
    """Raw relevance of every paper the group lets in, and the (display, hits) that explain it.

    Required words (or an alias of their concept) must all be there, and what the concepts'
    names weigh together must reach the cut-off; common words and the phrase only rank."""
    explain: list[tuple[str, TermHits]] = []
    if len(group.concepts) == 1 and group.phrase is None:
        only = group.concepts[0]
        if len(only.words) == 1 and not only.aliases:  # one word: its own weights, as before
            hits = index.hits(only.words[0].term)
            return hits.weights, [(only.words[0].display, hits)]
    if group.phrase is not None:
        explain.append((group.phrase.display, index.hits(group.phrase)))
    allowed = index.all_bits
    parts: list[
        tuple[
            list[dict[int, float]], dict[int, float], dict[int, float], list[dict[int, float]], int
        ]
    ] = []
    for concept in group.concepts:
        needed: list[dict[int, float]] = []
        extra: list[dict[int, float]] = []
        has_words = index.all_bits
        for word in concept.words:
            hits = index.hits(word.term)
            explain.append((word.display, hits))
            if word.required:
                needed.append(hits.weights)
                has_words &= hits.bits
            else:
                extra.append(hits.weights)
        overlapping, disjoint, alias_bits = _alias_weights(concept, index)
        for term in concept.aliases:
            hits = index.hits(term)
            if hits.bits:
                explain.append((term.display, hits))
        if concept.required:
            allowed &= has_words | alias_bits
        parts.append((needed, overlapping, disjoint, extra, has_words))
    if not allowed:
        return {}, explain
    phrase = index.hits(group.phrase).weights if group.phrase is not None else {}
    out: dict[int, float] = {}
    for doc in index.docs(allowed):
        named = 0.0
        bonus = phrase.get(doc, 0.0)
        for needed, overlapping, disjoint, extra, has_words in parts:
            alias = overlapping.get(doc, 0.0)
            if needed:
                own = sum(w.get(doc, 0.0) for w in needed) if has_words >> doc & 1 else 0.0
                named += max(own, alias) + disjoint.get(doc, 0.0)
            else:
                bonus += alias + disjoint.get(doc, 0.0)
            bonus += sum(w.get(doc, 0.0) for w in extra)
        if named >= group.cutoff:
            out[doc] = named + bonus
    return out, explain
