"""Text normalisation shared by the index, the query parser and the highlighter.

Papers and queries go through the same steps so that they meet in the middle:

- tokens are runs of letters and digits (so a hyphen, a slash or an apostrophe splits words:
  "mixture-of-experts" is the three tokens of "mixture of experts");
- each token is folded: accents stripped (NFKD, combining marks dropped) and casefolded;
- each folded token is stemmed with the Snowball English stemmer, so "decoding"/"decoded",
  "caches"/"caching" and "models"/"modelling" meet;
- an acronym plural ("LLMs", "VLMs", "GPUs") loses its "s": Snowball keeps "llms" whole because it
  has no vowel, which would make "LLMs" miss "LLM"; the index also keeps the plural as written
  (`plural_aliases`), because a reader typing "gpus" in lower case cannot be told from one typing
  "corpus", whose "s" stays;
- a hyphenated compound is also indexed as one joined word at the position of its first part, so
  "pre-training" and "pretraining" find each other;
- a short all-capitals acronym ("AIME", "MoE", "LoRA", "LLMs") is not stemmed: Snowball would turn
  "AIME" into "aim" and match "aims"; its folded form is its stem;
- a word made of parts ("AIME24", "MATH500", "DeepSeekMoE", "SnapKV") is also indexed under each
  leading and trailing part at its position (`subparts`): benchmark names glue digits to letters
  and model names glue words, and a reader types the parts;
- boilerplate that is not about the paper ("Code is available at https://…", "we release our
  code") is found by `boilerplate_spans` and carries no weight in the index.

Tokens keep their character offsets in the ORIGINAL text, which is what highlighting needs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import NamedTuple

import Stemmer

# Letters and digits; `_` is a word character for `re` but a separator for us.
_WORD = re.compile(r"[^\W_]+")
# Parts of one compound: joined by a hyphen (any dash a PDF export produces) with no spaces.
_HYPHENS = frozenset("-‐‑‒–")
_VOWELS = frozenset("aeiouy")

_stemmer = Stemmer.Stemmer("english")


class Token(NamedTuple):
    """One word of a text: its stem, its folded surface form and where it sits."""

    stem: str
    surface: str  # folded, unstemmed: what prefix queries (`quantiz*`) compare against
    start: int  # offsets into the original text
    end: int


def fold(word: str) -> str:
    """Accent- and case-insensitive form of one word."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def stem(folded: str) -> str:
    """Snowball stem of a folded word, with acronym plurals reduced ("llms" → "llm")."""
    word = folded
    if len(word) >= 3 and word.endswith("s") and not word.endswith("ss"):
        body = word[:-1]
        if body.isalpha() and not any(c in _VOWELS for c in body):
            word = body
    return str(_stemmer.stemWord(word))


def _acronym_plural(original: str, folded: str) -> str:
    """ "LLMs", "GPUs", "MoEs": capitals followed by a lower-case plural s."""
    if (
        len(original) >= 3
        and original.endswith("s")
        and original[:-1].isupper()
        and folded.endswith("s")
    ):
        return folded[:-1]
    return folded


def is_acronym(original: str) -> bool:
    """ "AIME", "MoE", "LoRA", "GRPO" (and their plurals): short, letters only, all or all but one
    of them capitals. Such words are names, not English words to stem."""
    body = original[:-1] if len(original) > 2 and original.endswith("s") else original
    if not 2 <= len(body) <= 6 or not body.isascii() or not body.isalpha():
        return False
    upper = sum(1 for c in body if c.isupper())
    return upper >= 2 and upper >= len(body) - 1


def word_stem(original: str, surface: str) -> str:
    """The stem of one word as written: acronyms keep their folded form, words are stemmed."""
    return surface if is_acronym(original) else stem(surface)


def tokens(text: str) -> list[Token]:
    """All tokens of `text`, in order, with offsets into `text` (no compound aliases)."""
    out: list[Token] = []
    for found in _WORD.finditer(text):
        original = found.group()
        surface = _acronym_plural(
            original, original.lower() if original.isascii() else fold(original)
        )
        if not surface:
            continue
        out.append(Token(word_stem(original, surface), surface, found.start(), found.end()))
    return out


# Where a word made of parts can be cut: lower→upper ("Deep|Seek"), letter↔digit ("AIME|24"),
# and before the last capital of a run that starts a word ("KV|Share").
_CUTS = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])|(?<=[A-Z])(?=[A-Z][a-z])"
)


def subparts(original: str) -> tuple[tuple[str, str], ...]:
    """(folded surface, stem) of the leading and trailing parts of a glued word: "DeepSeekMoE"
    → deepseek, deep, moe, seekmoe; "AIME24" → aime, 24. Parts of one character are dropped."""
    return tuple(dict.fromkeys((surface, stem) for _s, _e, surface, stem in part_spans(original)))


def part_spans(original: str) -> list[tuple[int, int, str, str]]:
    """The parts `subparts` names, each with its offsets in `original` (for highlighting)."""
    if not original.isascii() or len(original) < 3 or is_acronym(original):
        return []
    found: list[tuple[int, int, str, str]] = []
    for match in _CUTS.finditer(original):
        cut = match.start()
        for start, end in ((0, cut), (cut, len(original))):
            part = original[start:end]
            if len(part) < 2:
                continue
            surface = _acronym_plural(part, part.lower())
            found.append((start, end, surface, word_stem(part, surface)))
    return found


def is_glued(written: str) -> bool:
    """Whether a word as written may be made of parts: not a plain lower-case or capitalised
    word ("training", "Training"), whose parts are not worth indexing."""
    plain = written.isalpha() and (written.islower() or written.istitle())
    return len(written) >= 3 and not plain


_URL = re.compile(r"(?:https?://|www\.)\S+|\b\S+\.(?:github|gitlab)\.io\S*", re.IGNORECASE)
_SENTENCE = re.compile(r"\S.*?(?:[.!?](?=\s|$)|\Z)", re.DOTALL)
_RELEASE = re.compile(
    # "our code is available at", "code and data will be made publicly available", "the
    # implementation can be found at": a code-like subject, then a verb saying where it is.
    # "code-related tasks, yet open-source models" says nothing of the sort.
    r"\b(?:codes?|source code|implementation|github|repository|project page)\b[^.]{0,80}?"
    r"\b(?:is|are|will be|can be|has been|have been|was|were|be)\s+(?:\w+\s+){0,2}?"
    r"(?:available|released|open[- ]?sourced|accessible|found|hosted)\b"
    r"|\b(?:codes?|implementation)\b[^.]{0,40}?\bavailable\s+(?:at|on|from|online)\b"
    r"|\bwe\s+(?:will\s+)?(?:release|open[- ]?source|make|publish)\s+(?:our|the|all|its)\s+"
    r"(?:[\w-]+\s+){0,3}?(?:source\s+)?codes?\b"
    r"|^\s*(?:code|codes|project|github|website|demo)\s*:",
    re.IGNORECASE,
)


def boilerplate_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of `text` that say nothing about the paper's subject: URLs, and sentences
    announcing where the code is ("Our code is available at …", "We release our code")."""
    spans: list[tuple[int, int]] = []
    for sentence in _SENTENCE.finditer(text):
        body = sentence.group()
        if body.strip() and _RELEASE.search(body):
            spans.append((sentence.start(), sentence.end()))
    spans.extend((m.start(), m.end()) for m in _URL.finditer(text))
    return spans


def compounds(text: str, toks: list[Token]) -> Iterator[tuple[int, int, str]]:
    """Hyphenated compounds as (first token index, last token index, joined stem)."""
    i = 0
    while i < len(toks):
        j = i
        while (
            j + 1 < len(toks)
            and toks[j + 1].start - toks[j].end == 1
            and text[toks[j].end] in _HYPHENS
        ):
            j += 1
        if j > i:
            yield i, j, stem("".join(t.surface for t in toks[i : j + 1]))
        i = j + 1


def plural_aliases(text: str, toks: list[Token]) -> Iterator[tuple[int, str]]:
    """(token index, stem of the word with its "s") for each acronym plural among `toks` whose
    plural stems differently ("GPUs": "gpus"; not "LLMs", as "llms" stems to "llm" anyway).

    An acronym plural is the one token whose folded surface lost the "s" the text ends it with.
    """
    for i, tok in enumerate(toks):
        if text[tok.end - 1] in "sS" and not tok.surface.endswith("s"):
            alias = stem(tok.surface + "s")
            if alias != tok.stem:
                yield i, alias


def stems(text: str) -> list[str]:
    """Just the stems, e.g. for a query word or phrase."""
    return [t.stem for t in tokens(text)]


def inflection_base(surface: str) -> str:
    """The word without its inflection (plural, -ed, -ing, final e, doubled consonant):
    "distributed", "distributes" and "distributing" share "distribut", while "distribution",
    which Snowball also stems to "distribut", keeps its own. Plain queries match a word's
    inflections only, as a reader means them: `distributed training` is not "distribution"."""
    w = surface
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif (len(w) > 4 and w.endswith("ed")) or (len(w) > 4 and w.endswith("es") and w[-3] in "sxzh"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in _VOWELS:
        w = w[:-1]
    return w
