"""MJML compiled once per template, Jinja rendered per reader.

The digest template is Jinja producing MJML. MRML (mjml-python) leaves Jinja expressions and tags
alone in text, links, alt text, mj-raw, mj-title and mj-preview, so we hand it the *template
source* and get back an HTML page that is still a Jinja template. Per reader only that HTML
template is rendered: the 0.4–0.7 ms MJML compile is paid once per process instead of once per
mail. `tests/test_render_templates.py` proves the result equals the per-mail path
(Jinja → MJML → HTML) for the same context.

MRML reports few errors with a position and accepts some malformed input silently (a mismatched
closing tag, unknown elements), so the source is checked first for the mistakes that matter,
each reported with its line.

`digest.render.fragments` goes one step further on the compiled page: the parts of a loop body
that depend only on the loop variable (a paper card) are rendered once per distinct value and
reused for every reader who gets that paper.
"""

from __future__ import annotations

import re

from mjml import mjml2html

from digest.errors import TemplateError

_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_JINJA_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_MJ_TAG = re.compile(r"<(/?)(mjml|mj-[a-z-]+)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(/?)>")
_POSITION = re.compile(r"at position (\d+):(\d+)")


def _line_at(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def without_jinja_comments(source: str) -> str:
    """Jinja comments produce no output, but MJML would parse any markup inside them; drop them,
    keeping their line breaks so later error lines still point into the file."""
    return _JINJA_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), source)


def check_structure(source: str, name: str) -> None:
    """Catch, with a line number, what MRML reports vaguely or not at all."""
    for tag in _JINJA_TAG.finditer(source):
        if "<" in tag.group():
            raise TemplateError(
                f"{name}:{_line_at(source, tag.start())}: '<' inside a Jinja tag breaks MJML "
                f"({tag.group()[:40]!r}); write the comparison the other way round (b > a)"
            )
    stack: list[tuple[str, int]] = []
    for tag in _MJ_TAG.finditer(source):
        closing, element, self_closing = tag.group(1), tag.group(2), tag.group(3)
        line = _line_at(source, tag.start())
        if self_closing:
            continue
        if not closing:
            stack.append((element, line))
            continue
        if not stack:
            raise TemplateError(f"{name}:{line}: </{element}> closes nothing")
        opened, opened_line = stack.pop()
        if opened != element:
            raise TemplateError(
                f"{name}:{line}: </{element}> found, but <{opened}> from line {opened_line} "
                "is still open"
            )
    if stack:
        element, line = stack[-1]
        raise TemplateError(f"{name}:{line}: <{element}> is never closed")


def mjml_to_html(source: str, name: str) -> str:
    """mjml2html with its ValueError turned into a one-line TemplateError naming the line.

    `fonts={}`: MRML otherwise links Google Fonts whenever a font stack names one of its
    defaults (Roboto, Ubuntu…); a digest loads nothing from outside."""
    try:
        return str(mjml2html(source, fonts={}))
    except ValueError as exc:
        message = " ".join(str(exc).split())
        found = _POSITION.search(message)
        if found:
            offset = len(source.encode("utf-8")[: int(found.group(1))].decode("utf-8", "ignore"))
            raise TemplateError(f"{name}:{_line_at(source, offset)}: MJML: {message}") from None
        raise TemplateError(f"{name}: MJML: {message} (MJML gives no line)") from None


def compile_layout(source: str, name: str) -> str:
    """The template source compiled by MJML into an HTML page that is still a Jinja template."""
    cleaned = without_jinja_comments(source)
    check_structure(cleaned, name)
    return mjml_to_html(cleaned, name)
