"""Renderer: load and compile the digest templates once, then render each reader's digest fast.

`Renderer(settings)` fails at construction on any template problem (syntax, MJML structure, an
unknown variable in a smoke render of sample editions), so `preview` and `send` stop before the
first mail is written or sent. `.render(edition, links)` returns the subject, preheader, HTML and
text of one digest; `.render_per_email(...)` is the straightforward Jinja → MJML → HTML path, kept
as the reference the compiled path is tested and benchmarked against.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import jinja2

from digest.errors import TemplateError
from digest.models import Edition, Match, MatchReason, Paper, Profile, Subscriber, Topic
from digest.render.compile import compile_layout, mjml_to_html
from digest.render.context import DigestLinks, FeedbackLinks, build_context
from digest.render.fragments import FRAGMENT_FUNCTION, Fragment, extract_fragments
from digest.render.loader import HTML_TEMPLATE, TEXT_TEMPLATE, environments
from digest.settings import Settings

# What a template can get wrong while rendering (besides jinja2's own errors): a filter applied to
# the wrong type, arithmetic on text, a missing key.
_RENDER_ERRORS = (
    jinja2.TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
)


# What a renderer (one run) keeps of rendered fragments, per part, in characters: a card is
# about 2 KB of HTML with its table-of-contents entry and 0.5 KB of text, so some 4,000 distinct
# cards. Past it the cache starts over: memory stays bounded however many readers the run serves.
# 2M would hold 42 MB less at 25,000 readers (218 vs 176 MB RSS) but bench/render.py does 1,400
# instead of 1,950 msg/s with it: 8M.
_FRAGMENT_CACHE_CHARS = 8_000_000
# Gmail clips an HTML part past about 102 KB, and the clipped part is the footer (unsubscribe,
# postal address): papers beyond this size are left to the browser view.
HTML_LIMIT = 95_000  # bytes


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """Both parts as their templates yielded them: build_mime encodes the pieces (shared ones
    once per process), so a sent mail never needs either part as one string."""

    subject: str
    preheader: str
    html_pieces: tuple[str, ...]
    text_pieces: tuple[str, ...]

    @property
    def html(self) -> str:
        return "".join(self.html_pieces)

    @property
    def text(self) -> str:
        return "".join(self.text_pieces)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _template_line(tb: TracebackType | None, filename: str | None) -> int | None:
    """The innermost traceback line inside the template file (Jinja maps frames to it)."""
    line = None
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _where(template: jinja2.Template, line: int | None) -> str:
    name = template.filename or template.name or "<template>"
    return f"{name}:{line}" if line else name


class Renderer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._html_env, self._text_env = environments(settings)
        self.html_source = self._load(self._html_env, HTML_TEMPLATE)
        self.text_template = self._load(self._text_env, TEXT_TEMPLATE)
        source, filename = self._source(HTML_TEMPLATE)
        self.compiled_html = compile_layout(source, filename)
        try:
            self.compiled_template = self._html_env.from_string(self.compiled_html)
        except jinja2.TemplateSyntaxError as exc:  # pragma: no cover - the source compiled
            message = _one_line(exc.message or "")
            raise TemplateError(f"{filename}: compiled HTML: {message}") from None
        # (fragment, id(value)) -> (value, its HTML); the value is kept, so its id stays its own.
        # bench/caches.py: 1,143 msg/s with the fragment caches, 823 without (+39% CPU/msg).
        self._fragment_cache: dict[tuple[int, int], tuple[object, str]] = {}
        self._text_fragment_cache: dict[tuple[int, int], tuple[object, str]] = {}
        self._fragment_chars = self._text_fragment_chars = 0  # what each cache holds
        # The environments belong to this renderer: the filter is its fragment cache.
        self._html_env.filters[FRAGMENT_FUNCTION] = self._fragment_filter
        self._text_env.filters[FRAGMENT_FUNCTION] = self._text_fragment_filter
        self._fragments: list[Fragment] = []
        self._text_fragments: list[Fragment] = []
        self.html_template, self._fragments = self._fast(
            self._html_env, self.compiled_html, self.compiled_template, self._fragment_cache
        )
        source, _ = self._source(TEXT_TEMPLATE)
        self.text_fast, self._text_fragments = self._fast(
            self._text_env, source, self.text_template, self._text_fragment_cache
        )
        self._fragment_chars = self._text_fragment_chars = 0  # the checks' entries are gone
        for edition, links in _samples():
            self.render(edition, links)

    def _fast(
        self,
        env: jinja2.Environment,
        source: str,
        template: jinja2.Template,
        cache: dict[tuple[int, int], tuple[object, str]],
    ) -> tuple[jinja2.Template, list[Fragment]]:
        """The template with each paper's card rendered once per distinct card (see
        `extract_fragments`), and its fragments; or the template itself and no fragments if the
        rewrite finds nothing to cache or renders any sample edition differently."""
        try:
            fast_source, fragments = extract_fragments(env, source, as_filter=True)
            if not fragments:
                return template, []
            fast = env.from_string(fast_source)
            # The filter looks fragments up on this renderer: install them for the check.
            if env is self._html_env:
                self._fragments = fragments
            else:
                self._text_fragments = fragments
            for edition, links in _samples():
                context = build_context(edition, links, self.settings)
                if fast.render(context) != template.render(context):
                    return template, []
        except _RENDER_ERRORS:
            return template, []  # render() reports the template's own errors
        finally:
            cache.clear()
        return fast, fragments

    def _source(self, name: str) -> tuple[str, str]:
        loader = self._html_env.loader
        assert loader is not None
        source, filename, _ = loader.get_source(self._html_env, name)
        return source, filename or name

    def _load(self, env: jinja2.Environment, name: str) -> jinja2.Template:
        try:
            return env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or exc.name or name
            raise TemplateError(f"{where}:{exc.lineno}: {_one_line(exc.message or '')}") from None
        except jinja2.TemplateNotFound:
            raise TemplateError(f"template {name} not found") from None

    def _render(self, template: jinja2.Template, context: dict[str, Any]) -> str:
        try:
            return template.render(context)
        except _RENDER_ERRORS as exc:
            line = _template_line(exc.__traceback__, template.filename)
            raise TemplateError(f"{_where(template, line)}: {_one_line(str(exc))}") from None

    def _pieces(self, template: jinja2.Template, context: dict[str, Any]) -> tuple[str, ...]:
        """What Template.render does, keeping the pieces instead of only their join."""
        return tuple(template.generate(context))

    def _fragment_filter(self, value: object, index: int) -> str:
        """A loop body rendered for one value, cached: a paper's card is the same HTML for every
        reader who gets it. Keyed by identity: cards are made once per process for the same
        paper and reasons (context.make_card), and a fresh but equal value only renders anew.

        The HTML comes back as the very string cached (the loop runs unescaped, see
        `extract_fragments`), so build_mime finds its encoding without hashing it again."""
        key = (index, id(value))
        cached = self._fragment_cache.get(key)
        if cached is not None and cached[0] is value:
            return cached[1]
        html = self._render_fragment(index, value)
        self._fragment_chars += len(html)
        if self._fragment_chars > _FRAGMENT_CACHE_CHARS:
            self._fragment_cache.clear()
            self._fragment_chars = len(html)
        self._fragment_cache[key] = (value, html)
        return html

    def _text_fragment_filter(self, value: object, index: int) -> str:
        """`_fragment_filter` for the plain-text template: a paper's entry is the same text for
        every reader who gets it, in any position (the number stays in the loop)."""
        key = (index, id(value))
        cached = self._text_fragment_cache.get(key)
        if cached is not None and cached[0] is value:
            return cached[1]
        fragment = self._text_fragments[index]
        text = fragment.template.render({fragment.name: value})
        self._text_fragment_chars += len(text)
        if self._text_fragment_chars > _FRAGMENT_CACHE_CHARS:
            self._text_fragment_cache.clear()
            self._text_fragment_chars = len(text)
        self._text_fragment_cache[key] = (value, text)
        return text

    def _render_fragment(self, index: int, value: object) -> str:
        fragment = self._fragments[index]
        # The fragment's own template autoescaped its output: it is markup, not text. The
        # rewritten page calls this only inside {% autoescape false %}; anywhere else Jinja
        # would escape the plain string once more, never leave it raw.
        return fragment.template.render({fragment.name: value})

    def render(self, edition: Edition, links: DigestLinks, *, fit: bool = True) -> RenderedDigest:
        """Both parts of one reader's digest. `fit` keeps the HTML part under HTML_LIMIT (a
        mail); the browser view, which nothing clips, shows every paper."""
        context = build_context(edition, links, self.settings)
        try:
            pieces = self._pieces(self.html_template, context)
            if fit and sum(map(len, pieces)) > HTML_LIMIT * 0.9:  # characters: cheap, a bound
                pieces, context = self._fit(context, pieces)
        except _RENDER_ERRORS:
            # Lines in the compiled page mean nothing to the author: render the source
            # template with the same context to report the line in the file they edit.
            self.render_per_email(context)
            raise
        try:
            text_pieces = self._pieces(self.text_fast, context)
        except _RENDER_ERRORS:
            # Name the line in the file the author edits, as the template itself fails there.
            text_pieces = (self._render(self.text_template, context),)
        return RenderedDigest(context["subject"], context["preheader"], pieces, text_pieces)

    def _fit(
        self, context: dict[str, Any], pieces: tuple[str, ...]
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        """The HTML part with as many papers as fit under HTML_LIMIT, and the context it was
        rendered from; the rest are counted in "N more papers" (`more_count`), linked to the
        browser view. The text part is rendered from the same context: two parts that list
        different papers read as a spammer's trick (SpamAssassin's MPART_ALT_DIFF_COUNT)."""
        cards = context["papers"]
        size = _utf8_size(pieces)
        shown = len(cards)
        while size > HTML_LIMIT and shown > 0:
            # Cards are of similar size: aim at the limit, then step down if still over.
            shown = max(0, min(shown - 1, int(shown * HTML_LIMIT / size)))
            trimmed = {
                **context,
                "papers": cards[:shown],
                "entries": context["entries"][:shown],
                "notes": context["notes"][:shown],
                "more_count": len(cards) - shown,
            }
            pieces = self._pieces(self.html_template, trimmed)
            size = _utf8_size(pieces)
            context = trimmed
        return pieces, context

    def render_per_email(self, context: dict[str, Any]) -> str:
        """Reference path: Jinja renders MJML, MJML compiles it, for this one mail."""
        mjml = self._render(self.html_source, context)
        return mjml_to_html(mjml, self.html_source.filename or HTML_TEMPLATE)


def _utf8_size(pieces: tuple[str, ...]) -> int:
    return sum(
        len(piece.encode("utf-8")) if not piece.isascii() else len(piece) for piece in pieces
    )


def _samples() -> list[tuple[Edition, DigestLinks]]:
    """Every branch of the default templates: a full edition with and without the reader's
    notes (rating links, a reason from ratings), and an empty one."""
    links = DigestLinks(
        manage="https://example.org/preferences/sample",
        unsubscribe="https://example.org/u/sample",
        browser="https://example.org/editions/sample",
    )
    full, empty = _sample_editions()
    because = ('like "A sample", which you rated up',)
    rated = replace(full, papers=(replace(full.papers[0], because=because), *full.papers[1:]))
    feedback = {
        m.paper.id: FeedbackLinks(
            more=f"https://example.org/feedback/{m.paper.id}?rating=up",
            less=f"https://example.org/feedback/{m.paper.id}?rating=down",
        )
        for m in full.papers[::2]
    }
    return [(full, links), (rated, replace(links, feedback=feedback)), (empty, links)]


def _sample_editions() -> list[Edition]:
    """A full edition and an empty one: every branch of the default templates is exercised."""
    paper = Paper(
        id="2510.00001",
        title="A sample paper",
        abstract="A first sentence. A second sentence.",
        authors=("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
        author_count=4,
        organization="Example Lab",
        published=date(2026, 1, 1),
        upvotes=12,
        arxiv_id="2510.00001",
        url="https://example.org/papers/2510.00001",
        first_seen=datetime(2026, 1, 1, tzinfo=UTC),
    )
    bare = Paper(id="t-0", title="A bare paper", abstract="")
    topic = Topic(name="Samples", query="sample")
    profile = Profile(email="reader@example.org", name="Reader", topics=(topic,))
    subscriber = Subscriber(id=0, public_id="sample", status="active", profile=profile)
    match = Match(
        paper=paper,
        score=1.0,
        topics=("Samples",),
        matched=(MatchReason("sample", "title"), MatchReason("sentence", "abstract")),
    )
    # More papers than a table of contents needs, the same reasons repeated: every branch.
    more = tuple(
        Match(replace(paper, id=f"2510.0000{n}"), 1.0, match.topics, match.matched)
        for n in range(2, 7)
    )
    full = Edition(subscriber, date(2026, 1, 1), (match, Match(bare, 0.5), *more), (paper, bare))
    empty = Edition(
        Subscriber(0, "sample", "active", Profile(email="reader@example.org")), date(2026, 1, 1), ()
    )
    return [full, empty]
