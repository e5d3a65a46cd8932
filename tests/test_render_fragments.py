"""Cached loop bodies: which stretches of a template loop become fragments rendered once per
value, and that the rewritten template renders exactly what the original does."""

from __future__ import annotations

import pytest
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from digest.render.fragments import FRAGMENT_FUNCTION, extract_fragments

CONTEXTS = [
    {
        "cs": [["<x>", "&"], ["y"], []],
        "notes": ["<n>", "", "m"],
        "pairs": [("<x>", "<n>"), ("y", "")],
        "other": "<o>",
    },
    {"cs": [], "notes": [], "pairs": [], "other": ""},
]


def _environment(*, html: bool, trim: bool) -> Environment:
    return Environment(
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=trim,
        lstrip_blocks=trim,
        keep_trailing_newline=trim,
    )


def _assert_same_output(env: Environment, source: str, *, as_filter: bool) -> int:
    rewritten, fragments = extract_fragments(env, source, as_filter=as_filter)

    def render_filter(value: object, index: int) -> str:
        fragment = fragments[index]
        return fragment.template.render({fragment.name: value})

    def render_global(index: int, value: object) -> str:
        return Markup(render_filter(value, index))

    env.filters[FRAGMENT_FUNCTION] = render_filter
    fast = env.from_string(rewritten, globals={FRAGMENT_FUNCTION: render_global})
    for context in CONTEXTS:
        assert fast.render(context) == env.from_string(source).render(context)
    return len(fragments)


@pytest.mark.parametrize(
    ("source", "cached"),
    [
        ("{% for c in cs %}<b>{{ c }}</b>{% endfor %}", 1),
        ("{% for c in cs %}<i>{% for d in c %}{{ d }}{% endfor %}</i>{% endfor %}", 1),
        # What uses more than the loop variable stays in the loop; the rest is cached.
        ("{% for c in cs %}<b>{{ c }}{{ other }}</b>{% endfor %}", 1),
        ("{% for c in cs %}<b>{{ loop.index }}{{ c }}</b>{% endfor %}", 1),
        (
            "{% for c in cs %}<b>{{ c }}</b>{% if notes[loop.index0] %}{{ notes[loop.index0] }}"
            "{% endif %}<i>{{ c }}</i>{% endfor %}",
            2,
        ),
        (
            "{% for c in cs %}<b>{{ c }}</b>\n  {%- if notes[loop.index0] %}<u>"
            "{{ notes[loop.index0] }}</u>{% endif %}\n  </b>{% endfor %}",
            1,
        ),
        ("{% for c in cs %}{{ c }}{{ other }}{{ c }}{{ other }}{% endfor %}", 2),
        ("{% for c in cs %} <b>{{ c }}</b>{% endfor %}", 1),
        # Two targets: the first one keys the fragments; the other is the reader's own.
        ("{% for c, n in pairs %}<b>{{ c }}</b>{% if n %}<i>{{ n }}</i>{% endif %}{% endfor %}", 1),
        ("{% for c, n in pairs %}<b>{{ n }}</b>{% endfor %}", 0),
        # Nothing to cache, or unsure: the loop is left as it is.
        ("{% for c in cs %}<b>{{ other }}</b>{% endfor %}", 0),
        ("{% for c in cs %}<b>{{ c }}</b>{% else %}none{% endfor %}", 0),
        ("{% for c in cs -%}\n  <b>{{ c }}</b>{% endfor %}", 0),
        ("{% for c in cs %}{# a note #}<b>{{ c }}</b>{% endfor %}", 0),
        ("{% for c in cs %}{% set t = c %}<b>{{ t }}</b>{% endfor %}", 0),
        ("{% for c in cs %}{% if c %}{% set t = c %}{% endif %}{{ t|default('') }}{% endfor %}", 0),
        ("{% for c in cs %}<b>{{ c }}</b>{%+ if other %}x{% endif %}{% endfor %}", 0),
        ("{% raw %}{% for c in cs %}{% endraw %}{% for c in cs %}<b>{{ c }}</b>{% endfor %}", 0),
    ],
)
@pytest.mark.parametrize("trim", [True, False], ids=["trimmed", "plain"])
@pytest.mark.parametrize("as_filter", [True, False], ids=["filter", "global"])
def test_html_loop_stretches_using_only_the_loop_variable_are_cached(
    source: str, cached: int, trim: bool, as_filter: bool
) -> None:
    env = _environment(html=True, trim=trim)
    assert _assert_same_output(env, source, as_filter=as_filter) == cached


@pytest.mark.parametrize(
    "source",
    [
        "{% for c in cs %}<b>{{ c }}</b>{% endfor %}",
        "<p>\n  {% for c in cs %}<b>{{ c }}</b>{% endfor %}\n</p>",
        "<p>\n  {%- for c in cs %}<b>{{ c }}</b>{% endfor -%}\n  </p>",
        "<p>\n  {% for c in cs %}<b>{{ c }}</b>{% endfor %}  \n  {{ cs|length }}</p>",
    ],
)
def test_a_cached_html_fragment_is_yielded_as_the_cached_string(source: str) -> None:
    """The renderer gets back the cached string itself: the call runs unescaped, so it is
    neither escaped again nor copied, and the whitespace around the loop stays as it was."""
    env = _environment(html=True, trim=True)
    cached: list[str] = []

    def render_fragment(value: object, index: int) -> str:
        html = fragments[index].template.render({fragments[index].name: value})
        cached.append(html)
        return html

    env.filters[FRAGMENT_FUNCTION] = render_fragment
    rewritten, fragments = extract_fragments(env, source, as_filter=True)
    context = {"cs": [["<x>", "&"], ["y"]]}
    pieces = list(env.from_string(rewritten).generate(context))
    assert "".join(pieces) == env.from_string(source).render(context)
    assert all(any(piece is html for piece in pieces) for html in cached)


@pytest.mark.parametrize(
    ("source", "cached"),
    [
        ("{% for c in cs %}\n{{ loop.index }}. {{ c }}\n{% endfor %}", 1),
        ("{% for c in cs %}\n{{ loop.index }}. {% if c %}{{ c }}{% endif %}\n{% endfor %}", 1),
        ("{% for c in cs %}\n- {{ c }}\n{% endfor %}", 1),
        ("{% for c in cs %}\n{% if loop.first %}{{ c }}{% endif %}\n{% endfor %}", 0),
        ("{% for c in cs %}\n{{ loop.index }}. {{ c }}{{ other }}\n{% endfor %}", 1),
        ("{% for c in cs %}\n{{ loop.index }}  {% if c %}{{ c }}{% endif %}\n{% endfor %}", 0),
        ("{% for c in cs %}\n  {% if c %}{{ c }}{% endif %}\n{% endfor %}", 1),
        ("{% for c in cs %}\n{{ loop.index }}.{% if c %}{{ c }}{% endif %}  \n{% endfor %}", 1),
        ("{% for c in cs %}\n{{- loop.index }}. {{ c }}\n{% endfor %}", 1),
        ("{% for c in cs %}\n{# n #}{{ loop.index }}. {{ c }}\n{% endfor %}", 0),
        ("{% for c in cs %}\n{% if c %}{{ loop.index }}{% endif %}{{ c }}\n{% endfor %}", 1),
        # The digest's shape: the paper's entry, then what is the reader's own.
        (
            "{% for c in cs %}\n\n{{ loop.index }}. {{ c }}\n{% if c %}\n   {{ c|join(',') }}\n"
            "{% endif %}\n{% with note = notes[loop.index0] %}\n{% if note %}   Why: {{ note }}\n"
            "{% endif %}\n{% endwith %}\n{% endfor %}",
            1,
        ),
        (
            "{% for c in cs %}\n{{ c }}\n  {% if notes[loop.index0] %}{{ notes[loop.index0] }}"
            "{% endif %}\n   {{ c }}\n{% endfor %}",
            2,
        ),
    ],
)
@pytest.mark.parametrize("trim", [True, False], ids=["trimmed", "plain"])
def test_text_loop_bodies_split_around_what_is_not_the_loop_variable(
    source: str, cached: int, trim: bool
) -> None:
    env = _environment(html=False, trim=trim)
    count = _assert_same_output(env, source, as_filter=True)
    if trim:
        assert count == cached
