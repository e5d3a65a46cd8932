"""Where to highlight: spans of the ORIGINAL text that a match's reasons point at.

Matching happened on stems, so "speculative decoding" as a reason must light up "Speculative
Decoding" and "speculatively decoded" in the title as printed. The renderer gets character
spans and does its own escaping and markup. The index's research-text rules hold here too:
a part of a glued word ("MoE" in "DeepSeekMoE", "AIME" in "AIME24") lights up that part, and
a lower-case query word that the text writes as an acronym ("aime" for "AIME") lights up the
acronym, not the English word Snowball gives the same stem ("aims").

A text is read once (`TextSpans`): its tokens, where each stem sits, its compounds and the parts
of its glued words; each term is then looked up in those tables, so a card with several reason
terms costs one tokenisation of its title and one of its abstract.
"""

from __future__ import annotations

from collections.abc import Iterable

from digest.match.normalize import (
    compounds,
    is_glued,
    part_spans,
    plural_aliases,
    stem,
    tokens,
)

Span = tuple[int, int]


class TextSpans:
    """One text, tokenised once, answering "where does this term occur" for any term."""

    def __init__(self, text: str) -> None:
        toks = tokens(text)
        self._toks = toks
        # Token indices by stem; an acronym plural ("GPUs") also stands for the plural as typed
        # in lower case ("gpus").
        self._at: dict[str, list[int]] = {}
        for i, tok in enumerate(toks):
            self._at.setdefault(tok.stem, []).append(i)
        for i, alias in plural_aliases(text, toks):
            self._at.setdefault(alias, []).append(i)
        self._written: dict[str, set[str]] = {}
        for tok in toks:
            self._written.setdefault(tok.surface, set()).add(tok.stem)
        self._compounds = [
            (toks[first].start, toks[last].end, joined)
            for first, last, joined in compounds(text, toks)
        ]
        # The parts of glued words ("DeepSeekMoE", "AIME24"): (word's stem, span, surface, stem).
        self._parts = [
            (tok.stem, tok.start + start, tok.start + end, part_surface, part_stem)
            for tok in toks
            if is_glued(text[tok.start : tok.end])
            for start, end, part_surface, part_stem in part_spans(text[tok.start : tok.end])
        ]

    def find(self, term: str) -> list[Span]:
        """Spans where one reason term (word, phrase or `prefix*`) occurs."""
        toks = self._toks
        if term.endswith("*"):
            wanted = tokens(term[:-1])
            if len(wanted) != 1:
                return []
            prefix = wanted[0].surface
            return [(t.start, t.end) for t in toks if t.surface.startswith(prefix)]
        want = tokens(term)
        if not want:
            return []
        stems = [self._as_written(t.stem, t.surface) for t in want]
        alt = {j for first, last, j in compounds(term, want) if last - first == len(want) - 1}
        alt.add(stem("".join(t.surface for t in want)) if len(want) > 1 else stems[0])
        at = self._at
        spans: list[Span] = []
        n = len(stems)
        later = [set(at.get(s, ())) for s in stems[1:]]
        for i in at.get(stems[0], ()):
            if i + n <= len(toks) and all(i + k in later[k - 1] for k in range(1, n)):
                spans.append((toks[i].start, toks[i + n - 1].end))
        lit = sorted({i for joined in alt for i in at.get(joined, ())})
        spans.extend((toks[i].start, toks[i].end) for i in lit)
        spans.extend((start, end) for start, end, joined in self._compounds if joined in alt)
        if n == 1:
            one, surface = stems[0], want[0].surface
            spans.extend(
                (start, end)
                for word_stem, start, end, part_surface, part_stem in self._parts
                if word_stem != one and (part_stem == one or part_surface == surface)
            )
        return spans

    def find_all(self, terms: Iterable[str]) -> list[Span]:
        return [span for term in terms for span in self.find(term)]

    def _as_written(self, typed_stem: str, surface: str) -> str:
        """The stem to look for: the typed word's own folded form when this text writes it only
        as an acronym ("aime" for "AIME", never "aime"), as the index does for the whole
        edition."""
        if typed_stem == surface:
            return typed_stem
        return surface if self._written.get(surface) == {surface} else typed_stem


def term_spans(text: str, term: str) -> list[Span]:
    """Spans in `text` where one reason term (word, phrase or `prefix*`) occurs."""
    return TextSpans(text).find(term)
