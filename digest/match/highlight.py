"""Where to highlight: spans of the ORIGINAL text that a match's reasons point at.

Matching happened on stems, so "speculative decoding" as a reason must light up "Speculative
Decoding" and "speculatively decoded" in the title as printed. The renderer gets character
spans and does its own escaping and markup.
"""

from __future__ import annotations

from digest.match.normalize import compounds, plural_aliases, stem, tokens

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
    stems = [t.stem for t in want]
    joined_parts = list(compounds(term, want))
    alt = {j for first, last, j in joined_parts if last - first == len(want) - 1}
    alt.add(stem("".join(t.surface for t in want)))
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
    return spans
