"""Cached loop bodies: which template loops become fragments rendered once per value, and
that the rewritten template renders exactly what the original does."""

from __future__ import annotations

import pytest
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from digest.render.compile import FRAGMENT_FUNCTION, extract_fragments


@pytest.mark.parametrize(
    ("source", "cached"),
    [
        ("{% for c in cs %}<b>{{ c }}</b>{% endfor %}", 1),
        ("{% for c in cs %}<b>{{ c }}{{ other }}</b>{% endfor %}", 0),  # uses the outer context
        ("{% for c in cs %}<b>{{ loop.index }}{{ c }}</b>{% endfor %}", 0),
        ("{% for c in cs %}<b>{{ c }}</b>{% else %}none{% endfor %}", 0),
        ("{% for c in cs -%}\n  <b>{{ c }}</b>{% endfor %}", 0),  # whitespace control at an edge
        ("{% for c in cs %} <b>{{ c }}</b>{% endfor %}", 0),  # whitespace at an edge
        ("{% for c in cs %}<i>{% for d in c %}{{ d }}{% endfor %}</i>{% endfor %}", 1),
        ("{% raw %}{% for c in cs %}{% endraw %}{% for c in cs %}<b>{{ c }}</b>{% endfor %}", 0),
    ],
)
def test_only_self_contained_loop_bodies_become_cached_fragments(source: str, cached: int) -> None:
    env = Environment(autoescape=True, undefined=StrictUndefined)
    rewritten, fragments = extract_fragments(env, source)
    assert len(fragments) == cached
    context = {"cs": [["<x>", "&"], ["y"]], "other": "o"}

    def render_fragment(index: int, value: object) -> str:
        fragment = fragments[index]
        return Markup(fragment.template.render({fragment.name: value}))

    fast = env.from_string(rewritten, globals={FRAGMENT_FUNCTION: render_fragment})
    assert fast.render(context) == env.from_string(source).render(context)


@pytest.mark.parametrize(
    "source",
    [
        "{% for c in cs %}<b>{{ c }}</b>{% endfor %}",
        "{% for c in cs %}<i>{% for d in c %}{{ d }}{% endfor %}</i>{% endfor %}",
        "<p>\n  {% for c in cs %}<b>{{ c }}</b>{% endfor %}\n</p>",
        "<p>\n  {%- for c in cs %}<b>{{ c }}</b>{% endfor -%}\n  </p>",
        "<p>\n  {% for c in cs %}<b>{{ c }}</b>{% endfor %}  \n  {{ cs|length }}</p>",
    ],
)
@pytest.mark.parametrize("markup", [True, False], ids=["Markup", "str"])
def test_fragments_called_as_a_filter_render_the_same(source: str, markup: bool) -> None:
    """The renderer calls fragments as a filter (no Context.call per card) and gets back the
    cached string itself, a plain str: the loop runs unescaped, so it is neither escaped again
    nor copied, and the whitespace around the loop stays as it was."""
    env = Environment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    rendered: list[object] = []

    def render_fragment(value: object, index: int) -> str:
        rendered.append(value)
        fragment = fragments[index]
        html = fragment.template.render({fragment.name: value})
        return Markup(html) if markup else html

    env.filters[FRAGMENT_FUNCTION] = render_fragment
    rewritten, fragments = extract_fragments(env, source, as_filter=True)
    assert len(fragments) == 1
    context = {"cs": [["<x>", "&"], ["y"]]}
    assert env.from_string(rewritten).render(context) == env.from_string(source).render(context)
    assert rendered == context["cs"]


@pytest.mark.parametrize(
    ("source", "cached"),
    [
        ("{% for c in cs %}\n{{ loop.index }}. {{ c }}\n{% endfor %}", 1),
        ("{% for c in cs %}\n{{ loop.index }}. {% if c %}{{ c }}{% endif %}\n{% endfor %}", 1),
        ("{% for c in cs %}\n- {{ c }}\n{% endfor %}", 1),
        ("{% for c in cs %}\n{% if loop.first %}{{ c }}{% endif %}\n{% endfor %}", 0),
        ("{% for c in cs %}\n{{ loop.index }}. {{ c }}{{ other }}\n{% endfor %}", 0),
        ("{% for c in cs %}\n{{ loop.index }}  {% if c %}{{ c }}{% endif %}\n{% endfor %}", 0),
        ("{% for c in cs %}\n  {% if c %}{{ c }}{% endif %}\n{% endfor %}", 0),
        ("{% for c in cs %}\n{{ loop.index }}.{% if c %}{{ c }}{% endif %}  \n{% endfor %}", 1),
        ("{% for c in cs %}\n{{- loop.index }}. {{ c }}\n{% endfor %}", 0),
        ("{% for c in cs %}\n{# n #}{{ loop.index }}. {{ c }}\n{% endfor %}", 0),
        ("{% for c in cs %}\n{% if c %}{{ loop.index }}{% endif %}{{ c }}\n{% endfor %}", 0),
    ],
)
def test_text_loop_bodies_split_around_loop_state(source: str, cached: int) -> None:
    env = Environment(
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )

    def render_fragment(value: object, index: int) -> str:
        fragment = fragments[index]
        return fragment.template.render({fragment.name: value})

    env.filters[FRAGMENT_FUNCTION] = render_fragment
    rewritten, fragments = extract_fragments(env, source, as_filter=True, split_at_loop=True)
    assert len(fragments) == cached
    for cs in (["<x>", "", "y"], []):
        context = {"cs": cs, "other": "o"}
        assert env.from_string(rewritten).render(context) == env.from_string(source).render(context)
