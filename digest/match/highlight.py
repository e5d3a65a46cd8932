"""Where to highlight: spans of the ORIGINAL text that a match's reasons point at.

Matching happened on stems, so "speculative decoding" as a reason must light up "Speculative
Decoding" and "speculatively decoded" in the title as printed. The renderer gets character
spans and does its own escaping and markup. The index's research-text rules hold here too:
a part of a glued word ("MoE" in "DeepSeekMoE", "AIME" in "AIME24") lights up that part, and
a lower-case query word that the text writes as an acronym ("aime" for "AIME") lights up the
acronym, not the English word Snowball gives the same stem ("aims").
"""

from __future__ import annotations

from digest.match.normalize import (
    Token,
    compounds,
    is_glued,
    part_spans,
    plural_aliases,
    stem,
    tokens,
)

Span = tuple[int, int]


def term_spans(text: str, term: str) -> list[Span]:
    """Spans in `text` where one reason term (word, phrase or `prefix*`) occurs."""
    toks = tokens(text)
    if term.endswith("*"):
        wanted = tokens(term[:-1])
        if len(wanted) != 1:
            return []
        prefix = wanted[0].surface
        return [(t.start, t.end) for t in toks if t.surface.startswith(prefix)]
    want = tokens(term)
    if not want:
        return []
    stems = [_as_written(t, toks) for t in want]
    joined_parts = list(compounds(term, want))
    alt = {j for first, last, j in joined_parts if last - first == len(want) - 1}
    alt.add(stem("".join(t.surface for t in want)) if len(want) > 1 else stems[0])
    # an acronym plural ("GPUs") also stands for the plural as typed in lower case ("gpus")
    aliases = dict(plural_aliases(text, toks))
    spans: list[Span] = []
    n = len(stems)
    for i in range(len(toks) - n + 1):
        if all(toks[i + k].stem == stems[k] or aliases.get(i + k) == stems[k] for k in range(n)):
            spans.append((toks[i].start, toks[i + n - 1].end))
    if alt:
        spans.extend(
            (t.start, t.end) for i, t in enumerate(toks) if t.stem in alt or aliases.get(i) in alt
        )
        spans.extend(
            (toks[first].start, toks[last].end)
            for first, last, joined in compounds(text, toks)
            if joined in alt
        )
    if n == 1:
        spans.extend(_parts(text, toks, stems[0], want[0].surface))
    return spans


def _as_written(typed: Token, toks: list[Token]) -> str:
    """The stem to look for: the typed word's own folded form when this text writes it only
    as an acronym ("aime" for "AIME", never "aime"), as the index does for the whole edition."""
    if typed.stem == typed.surface:
        return typed.stem
    written = {t.stem for t in toks if t.surface == typed.surface}
    return typed.surface if written == {typed.surface} else typed.stem


def _parts(text: str, toks: list[Token], wanted: str, surface: str) -> list[Span]:
    """The parts of glued words ("DeepSeekMoE", "AIME24") that are the wanted word."""
    spans: list[Span] = []
    for tok in toks:
        written = text[tok.start : tok.end]
        if tok.stem == wanted or not is_glued(written):
            continue
        for start, end, part_surface, part_stem in part_spans(written):
            if part_stem == wanted or part_surface == surface:
                spans.append((tok.start + start, tok.start + end))
    return spans
