"""The lines that sum a digest up: subject, preheader, the opening sentence, and text wrapping.

Each says something the reader cannot see elsewhere at a glance: the subject leads with the top
paper (not the list name, which the From line already shows), the preheader counts papers per
topic (not the subject again), and an empty edition says in one sentence why it is empty.
"""

from __future__ import annotations

import textwrap
from collections import Counter

from markupsafe import Markup

from digest.identity import normalise_whitespace
from digest.models import Edition

SUBJECT_LIMIT = 78  # RFC 5322's recommended line length; longer subjects are cut by clients
PREHEADER_LIMIT = 140
TEXT_WIDTH = 72
# After the preheader: zero-width non-joiners and non-breaking spaces, so that clients showing
# a snippet do not pull the body's first words in behind it. No hiding by colour or tiny type
# (which spam filters score), only display:none on the element that holds it.
PREHEADER_PADDING = Markup("&#847;&zwnj;&nbsp;" * 60)  # noqa: S704  # a constant, no input


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-·") + "…"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def preheader(edition: Edition) -> str:
    """Counts per topic, most first: "7 new papers: 4 on Inference, 3 on Agents · 3 trending"."""
    if not edition.papers:
        return empty_reason(edition)
    firsts = tuple(m.topics[0] if m.topics else "" for m in edition.papers)
    return _preheader(firsts, len(edition.trending))


def _preheader(firsts: tuple[str, ...], trending: int) -> str:
    per_topic = Counter(name for name in firsts if name).most_common()
    line = _plural(len(firsts), "new paper")
    if len(per_topic) == 1 and per_topic[0][1] == len(firsts):
        line += f" on {normalise_whitespace(per_topic[0][0])}"
    elif per_topic:
        line += ": " + ", ".join(f"{n} on {normalise_whitespace(name)}" for name, n in per_topic)
    if trending:
        line += f" · {trending} trending"
    return shorten(line, PREHEADER_LIMIT)


def empty_reason(edition: Edition) -> str:
    """One sentence: why there is nothing for this reader in this edition."""
    fresh = edition.candidate_count
    below = edition.below_min_upvotes
    if fresh == 0:
        return "No new papers came in since your last digest."
    if below:
        minimum = edition.subscriber.profile.min_upvotes
        return (
            f"{_plural(below, 'new paper')} matched your topics but had fewer than "
            f"{minimum} upvotes, the minimum you asked for."
        )
    if fresh is None:
        return "Nothing new matched your topics since your last digest."
    return f"None of the {_plural(fresh, 'new paper')} since your last digest matched your topics."


def intro(edition: Edition, reader_name: str) -> str:
    """The digest's opening sentence (both parts)."""
    greeting = f"Hi {reader_name}, " if reader_name else ""
    count = len(edition.papers)
    if not count:
        reason = empty_reason(edition)
        if greeting:
            reason = reason[0].lower() + reason[1:]
        tail = "" if edition.trending else " Nothing to change: we will write again when there is."
        return f"{greeting}{reason}{tail}"
    found = "one new paper matched" if count == 1 else f"{count} new papers matched"
    sentence = f"{found} your topics."
    return greeting + (sentence if greeting else sentence[0].upper() + sentence[1:])


def subject_line(template: str, fields: tuple[tuple[str, str], ...], title: str) -> str:
    """The template filled in, with the top title shortened so the whole stays within
    SUBJECT_LIMIT. Raises KeyError, IndexError or ValueError for a template that cannot be
    filled (the caller names the setting)."""
    values = dict(fields)
    text = template.format(top_title=title, **values)
    if len(text) > SUBJECT_LIMIT:
        room = SUBJECT_LIMIT - (len(text) - len(title))
        text = template.format(top_title=shorten(title, max(room, 20)), **values)
    return text


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "", first: str = "") -> str:
    """`text` wrapped for the plain-text part: `first` before the first line, `indent` before
    the others. A URL or other unbreakable word longer than the width stays whole on its line.
    A line that fits is returned at once (a reader's greeting is new text every time)."""
    lead = first or indent
    if len(lead) + len(text) <= width and "\n" not in text and "  " not in text:
        return lead + text if text else first.rstrip()
    return _wrap(text, width, indent, first)


def _wrap(text: str, width: int, indent: str, first: str) -> str:
    text = normalise_whitespace(text)
    lead = first or indent
    if len(lead) + len(text) <= width:
        return lead + text if text else first.rstrip()
    lines = textwrap.wrap(
        text,
        width,
        initial_indent=first or indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines) or first.rstrip()
