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

`extract_fragments` goes one step further on the compiled page: a loop body that depends only on
its loop variable (a paper card) is rendered once per distinct value and reused for every reader
who gets that paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, Template, TemplateSyntaxError, meta
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


_BLOCK_TAG = re.compile(r"\{%(-?)\s*(\w+)(.*?)(-?)%\}", re.DOTALL)
_OPENERS = frozenset({"for", "if", "with", "filter", "macro", "call", "block", "autoescape"})
_LOOP_HEAD = re.compile(r"\s*([A-Za-z_]\w*)\s+in\s+(.+?)\s*", re.DOTALL)
FRAGMENT_FUNCTION = "_digest_fragment"


@dataclass(frozen=True, slots=True)
class Fragment:
    """A loop body that depends only on its loop variable, rendered once per distinct value."""

    name: str
    template: Template


def _loops(source: str) -> list[tuple[re.Match[str], re.Match[str], bool]]:
    """(for tag, endfor tag, has a for-else) for every loop, outermost first; [] if unsure."""
    stack: list[list[Any]] = []
    loops = []
    for tag in _BLOCK_TAG.finditer(source):
        keyword, rest = tag.group(2), tag.group(3)
        if keyword == "raw":
            return []  # raw blocks hide tags from this scan: leave the template alone
        if keyword in _OPENERS or (keyword == "set" and "=" not in rest):
            stack.append([keyword, tag, False])
        elif keyword.startswith("end"):
            if not stack:
                return []
            opened, start, has_else = stack.pop()
            if opened == "for":
                loops.append((start, tag, has_else))
        elif keyword == "else" and stack and stack[-1][0] == "for":
            stack[-1][2] = True
    return [] if stack else sorted(loops, key=lambda loop: loop[0].start())


def _uses_only(env: Environment, source: str, name: str) -> bool:
    try:
        return meta.find_undeclared_variables(env.parse(source)) == {name}
    except TemplateSyntaxError:
        return False


def extract_fragments(
    env: Environment, source: str, *, as_filter: bool = False, split_at_loop: bool = False
) -> tuple[str, list[Fragment]]:
    """Replace each loop body that uses nothing but its loop variable by a call that renders it
    once per distinct value (see Renderer): a paper card is the same HTML for every reader who
    gets it. Bodies are kept whole (no surrounding whitespace, no whitespace control at their
    edges) so the output is exactly what the loop would have produced.

    The call is `FRAGMENT_FUNCTION(index, value)`, a global; `as_filter` writes it as the
    filter `value|FRAGMENT_FUNCTION(index)` instead, which Jinja calls directly where a global
    goes through Context.call's checks on every card. With autoescaping on, such a loop is
    wrapped in `{% autoescape false %}`: the fragment's own template escaped its output, and
    Jinja then yields the cached string itself instead of escaping it into a copy (a card is a
    few KB, and build_mime finds its encoding by the string's hash, which a copy recomputes).

    With `split_at_loop` (the plain-text template), a body may also start with the line break
    trim_blocks drops after the loop tag, and may print loop state (`{{ loop.index }}. `) at its
    top level: those expressions stay in the loop and the runs between them become fragments
    (see `_split_around_loop`)."""
    fragments: list[Fragment] = []
    out: list[str] = []
    position = 0

    def call(name: str) -> str:
        if as_filter:
            return f"{{{{ {name}|{FRAGMENT_FUNCTION}({len(fragments)}) }}}}"
        return f"{{{{ {FRAGMENT_FUNCTION}({len(fragments)}, {name}) }}}}"

    for start, end, has_else in _loops(source):
        if start.start() < position:
            continue  # inside a body already replaced
        head = _LOOP_HEAD.fullmatch(start.group(3))
        body = source[start.end() : end.start()]
        if (
            has_else
            or head is None
            or "recursive" in head.group(2)
            or start.group(4)
            or end.group(1)
            or not body
        ):
            continue
        name = head.group(1)
        if body == body.strip() and _uses_only(env, body, name):
            if env.autoescape:
                out += [source[position : start.start()], _unescaped_open(start)]
                out += [start.group(), call(name), end.group(), _unescaped_close(end)]
                position = end.end()
            else:
                out += [source[position : start.end()], call(name)]
                position = end.start()
            fragments.append(Fragment(name, env.from_string(body)))
            continue
        if not split_at_loop:
            continue
        parts = _split_around_loop(env, body, name)
        if parts is None or not any(cacheable for _, cacheable in parts):
            continue
        out.append(source[position : start.end()])
        for text, cacheable in parts:
            if cacheable:
                out.append(call(name))
                fragments.append(Fragment(name, env.from_string(text)))
            else:
                out.append(text)
        position = end.start()
    out.append(source[position:])
    return "".join(out), fragments


def _unescaped_open(loop_start: re.Match[str]) -> str:
    """`{% autoescape false %}` placed right before a loop tag, taking over the whitespace
    control on the loop tag's left, so the output keeps its exact whitespace."""
    return "{%- autoescape false %}" if loop_start.group(1) else "{% autoescape false %}"


def _unescaped_close(loop_end: re.Match[str]) -> str:
    """`{% endautoescape %}` right after an endfor, taking over its right whitespace control."""
    return "{% endautoescape -%}" if loop_end.group(4) else "{% endautoescape %}"


_BODY_TAG = re.compile(r"\{%(-?)\s*(\w+)(.*?)(-?)%\}|\{\{(.*?)\}\}", re.DOTALL)
_LOOP_NAME = re.compile(r"\bloop\b")
_EDGE_CONTROL = ("{%-", "{{-", "{%+", "-%}", "-}}", "+%}")


def _split_around_loop(env: Environment, body: str, name: str) -> list[tuple[str, bool]] | None:
    """The body as (source, cacheable) runs whose concatenation is the body, or None if unsure.

    Cut at `{{ … loop … }}` expressions outside any block; a run between cuts is cacheable when
    it uses nothing but the loop variable and rendering it on its own cannot change whitespace
    handling: it starts and ends without spaces or tabs (lstrip_blocks) and without whitespace
    control, and it only ever sits next to a cut expression, the loop's own tags or the single
    line break after the `{% for %}` tag (kept in place, where trim_blocks still removes it)."""
    if "{#" in body or "\r" in body:
        return None
    parts: list[tuple[str, bool]] = []
    if body.startswith("\n"):
        parts.append(("\n", False))
        body = body[1:]
    depth = 0
    cuts: list[tuple[int, int]] = []
    for tag in _BODY_TAG.finditer(body):
        keyword = tag.group(2)
        if keyword is None:
            if depth == 0 and _LOOP_NAME.search(tag.group(5)):
                if tag.group().startswith("{{-") or tag.group().endswith("-}}"):
                    return None
                cuts.append((tag.start(), tag.end()))
        elif keyword == "raw":
            return None
        elif keyword in _OPENERS or (keyword == "set" and "=" not in tag.group(3)):
            depth += 1
        elif keyword.startswith("end"):
            depth -= 1
            if depth < 0:
                return None
    if depth:
        return None
    position = 0
    for cut_start, cut_end in [*cuts, (len(body), len(body))]:
        run = body[position:cut_start]
        if run:
            parts.append((run, _cacheable_run(env, run, name)))
        if cut_end > cut_start:
            parts.append((body[cut_start:cut_end], False))
        position = cut_end
    return parts


def _cacheable_run(env: Environment, run: str, name: str) -> bool:
    if "{{" not in run and "{%" not in run:
        return False  # plain text: nothing to save
    if run[0] in " \t" or run[-1] in " \t" or run.startswith(_EDGE_CONTROL):
        return False
    if run.endswith(_EDGE_CONTROL) or (run.endswith("\n") and not env.keep_trailing_newline):
        return False
    return _uses_only(env, run, name)
