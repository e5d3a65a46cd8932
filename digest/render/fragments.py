"""Loop bodies rendered once per distinct value: a paper's card is the same for every reader.

`extract_fragments` rewrites a template so that, inside a `{% for x in … %}` loop (or
`{% for x, y in … %}`), each stretch of the body that depends on nothing but `x` is rendered
by a call, `x|FRAGMENT_FUNCTION(i)`, which the Renderer answers from its cache. What depends
on more than `x` (the reader's own note beside a card, `loop.index`) stays in the loop as it
was written. Whitespace handling is
Jinja's own: at each cut, what `trim_blocks`, `lstrip_blocks` and `-` would have removed around
the neighbouring tag is removed from the stretch itself, and where that is not certain the
stretch is left in the loop. The Renderer also checks that the rewritten template renders its
sample editions exactly as the original does, and uses the original if not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, Template, TemplateSyntaxError, meta

_BLOCK_TAG = re.compile(r"\{%(-?)\s*(\w+)(.*?)(-?)%\}", re.DOTALL)
_OPENERS = frozenset({"for", "if", "with", "filter", "macro", "call", "block", "autoescape"})
# `for x in …` or `for x, y in …`: fragments are keyed by the first target, `x`.
_LOOP_HEAD = re.compile(r"\s*([A-Za-z_]\w*)(?:\s*,\s*[A-Za-z_]\w*)*\s+in\s+(.+?)\s*", re.DOTALL)
_BODY_TAG = re.compile(r"\{%(-?)\s*(\w+)(.*?)(-?)%\}|\{\{(.*?)\}\}", re.DOTALL)
# Statements whose effect reaches past their own output (names they set, context they read):
# a stretch holding one is never rendered on its own.
_CONTEXTUAL = frozenset(
    {"set", "include", "import", "from", "extends", "block", "macro", "call", "do"}
)
_WHITESPACE = re.compile(r"\s+")  # what lstrip_blocks strips (jinja2.lexer.whitespace_re)
_BLANKS_THEN_BLOCK = re.compile(r"[^\S\n]+\{%(?![+-])")
FRAGMENT_FUNCTION = "_digest_fragment"


@dataclass(frozen=True, slots=True)
class Fragment:
    """A stretch of a loop body that depends only on its loop variable."""

    name: str
    template: Template


def _loops(source: str) -> list[tuple[re.Match[str], re.Match[str], bool]]:
    """(for tag, endfor tag, has a for-else) for every loop, outermost first; [] if unsure."""
    if "{%+" in source or "+%}" in source:
        return []  # whitespace markers this scan does not follow
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


def _statements(body: str) -> list[tuple[int, int, bool]] | None:
    """(start, end, contextual) of each top-level expression, statement or whole block of a
    loop body, in order; None if unsure (comments, raw blocks, unbalanced tags)."""
    if "{#" in body or "\r" in body:
        return None
    spans: list[tuple[int, int, bool]] = []
    depth = start = 0
    contextual = False
    for tag in _BODY_TAG.finditer(body):
        keyword = tag.group(2)
        if keyword is None:
            if depth == 0:
                spans.append((tag.start(), tag.end(), False))
            continue
        if keyword == "raw":
            return None
        if keyword in _OPENERS or (keyword == "set" and "=" not in tag.group(3)):
            if depth == 0:
                start, contextual = tag.start(), False
            depth += 1
        elif keyword.startswith("end"):
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                spans.append((start, tag.end(), contextual))
            continue
        elif depth == 0:
            spans.append((tag.start(), tag.end(), True))  # a lone statement: set, include…
        contextual = contextual or keyword in _CONTEXTUAL
    return None if depth else spans


def _uses_only(env: Environment, source: str, name: str) -> bool:
    try:
        return meta.find_undeclared_variables(env.parse(source)) <= {name}
    except TemplateSyntaxError:
        return False


def _standalone(env: Environment, run: str, left: str, right: str) -> str | None:
    """The template that renders on its own what `run` renders between the tag that `left`
    ends with and the one `right` starts with, or None if unsure or not worth it."""
    trimmed = False
    if left.endswith(("-%}", "-}}")):
        run = run.lstrip()
    elif left.endswith("%}") and env.trim_blocks and run.startswith("\n"):
        run, trimmed = run[1:], True
    if _BLANKS_THEN_BLOCK.match(run) and not trimmed:
        return None  # lstrip_blocks there depends on what came before
    if right.startswith(("{%-", "{{-")):
        run = run.rstrip()
    elif right.startswith("{%") and env.lstrip_blocks:
        head, newline, last = run.rpartition("\n")
        if last and _WHITESPACE.fullmatch(last):
            if not newline:
                return None
            run = head + newline
    if "{{" not in run and "{%" not in run:
        return None  # plain text: nothing to save
    if run.endswith("\n") and not env.keep_trailing_newline:
        return None
    return run


def _split(env: Environment, body: str, name: str) -> list[tuple[str, bool]] | None:
    """The body as (source, standalone) parts in order: a standalone part is a template of its
    own that uses only `name`; the others are the body's source as written."""
    statements = _statements(body)
    if statements is None:
        return None
    cuts = [
        (start, end)
        for start, end, contextual in statements
        if contextual or not _uses_only(env, body[start:end], name)
    ]
    parts: list[tuple[str, bool]] = []
    position = 0
    for cut_start, cut_end in [*cuts, (len(body), len(body))]:
        run = body[position:cut_start]
        if run:
            left = body[:position] or "%}"  # the for tag, which ends in a plain %}
            right = body[cut_start:] or "{%"  # the endfor tag, which starts with a plain {%
            standalone = _standalone(env, run, left, right)
            parts.append((standalone, True) if standalone is not None else (run, False))
        if cut_end > cut_start:
            parts.append((body[cut_start:cut_end], False))
        position = cut_end
    return parts


def extract_fragments(
    env: Environment, source: str, *, as_filter: bool = False
) -> tuple[str, list[Fragment]]:
    """The template with each stretch of a loop body that uses nothing but its loop variable
    replaced by a call that renders it once per distinct value (see Renderer), and those
    stretches as Fragments.

    The call is `FRAGMENT_FUNCTION(index, value)`, a global; `as_filter` writes it as the
    filter `value|FRAGMENT_FUNCTION(index)` instead, which Jinja calls directly where a global
    goes through Context.call's checks on every card. With autoescaping on, the call runs in
    `{% autoescape false %}` (around the whole loop when the whole body is one fragment): the
    fragment's own template escaped its output, and Jinja then yields the cached string itself
    instead of escaping it into a copy (a card is a few KB, and build_mime finds its encoding
    by the string's hash, which a copy recomputes). The rest of the body is escaped as usual."""
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
        parts = _split(env, body, name)
        if parts is None or not any(standalone for _, standalone in parts):
            continue
        if env.autoescape and parts == [(body, True)]:
            out += [source[position : start.start()], _unescaped_open(start)]
            out += [start.group(), call(name), end.group(), _unescaped_close(end)]
            fragments.append(Fragment(name, env.from_string(body)))
            position = end.end()
            continue
        out.append(source[position : start.end()])
        for text, standalone in parts:
            if not standalone:
                out.append(text)
                continue
            if env.autoescape:
                out += ["{% autoescape false %}", call(name), "{% endautoescape %}"]
            else:
                out.append(call(name))
            fragments.append(Fragment(name, env.from_string(text)))
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
