"""Text normalisation shared by the index, the query parser and the highlighter.

Papers and queries go through the same steps so that they meet in the middle:

- tokens are runs of letters and digits (so a hyphen, a slash or an apostrophe splits words:
  "mixture-of-experts" is the three tokens of "mixture of experts");
- each token is folded: accents stripped (NFKD, combining marks dropped) and casefolded;
- each folded token is stemmed with the Snowball English stemmer, so "decoding"/"decoded",
  "caches"/"caching" and "models"/"modelling" meet; stems are cached because research text
  repeats a small vocabulary;
- an acronym plural ("LLMs", "VLMs", "GPUs") loses its "s": Snowball keeps "llms" whole because it
  has no vowel, which would make "LLMs" miss "LLM"; the index also keeps the plural as written
  (`plural_aliases`), because a reader typing "gpus" in lower case cannot be told from one typing
  "corpus", whose "s" stays;
- a hyphenated compound is also indexed as one joined word at the position of its first part, so
  "pre-training" and "pretraining" find each other.

Tokens keep their character offsets in the ORIGINAL text, which is what highlighting needs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

import Stemmer

# Letters and digits; `_` is a word character for `re` but a separator for us.
_WORD = re.compile(r"[^\W_]+")
# Parts of one compound: joined by a hyphen (any dash a PDF export produces) with no spaces.
_HYPHENS = frozenset("-‐‑‒–")
_VOWELS = frozenset("aeiouy")

_stemmer = Stemmer.Stemmer("english")
_stems: dict[str, str] = {}


class Token(NamedTuple):
    """One word of a text: its stem, its folded surface form and where it sits."""

    stem: str
    surface: str  # folded, unstemmed: what prefix queries (`quantiz*`) compare against
    start: int  # offsets into the original text
    end: int


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Accent- and case-insensitive form of one word."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def stem(folded: str) -> str:
    """Snowball stem of a folded word, with acronym plurals reduced ("llms" → "llm")."""
    cached = _stems.get(folded)
    if cached is not None:
        return cached
    word = folded
    if len(word) >= 3 and word.endswith("s") and not word.endswith("ss"):
        body = word[:-1]
        if body.isalpha() and not any(c in _VOWELS for c in body):
            word = body
    result = str(_stemmer.stemWord(word))
    _stems[folded] = result
    return result


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


def tokens(text: str) -> list[Token]:
    """All tokens of `text`, in order, with offsets into `text` (no compound aliases)."""
    out: list[Token] = []
    for found in _WORD.finditer(text):
        original = found.group()
        surface = _acronym_plural(original, fold(original))
        if not surface:
            continue
        out.append(Token(stem(surface), surface, found.start(), found.end()))
    return out


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
