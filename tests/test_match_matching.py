"""Matching semantics: what a query finds, how it ranks, and the reasons it gives."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import QueryError
from digest.match import Matcher, PaperIndex, compile_query, term_spans
from digest.models import Match, MatchReason, Paper, Topic
from digest.render.highlighting import highlight_spans

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

PAPERS = [
    Paper(
        id="spec",
        title="Speculative Decoding for Fast LLMs",
        abstract="We speculatively decode with a small draft and reuse its KV cache, one KV cache.",
        authors=("Zoë Müller", "Yann LeCun"),
        published=date(2026, 11, 28),
        upvotes=30,
    ),
    Paper(
        id="moe",
        title="DeepSeekMoE: Mixture-of-Experts at Scale",
        abstract="Mixture of experts (MoE) models route tokens to experts. Pre-training is costly.",
        organization="DeepSeek",
        published=date(2026, 11, 27),
        upvotes=12,
    ),
    Paper(
        id="quant",
        title="Quantization of the KV-Cache",
        abstract="We quantize the key-value cache of an LLM after pretraining.",
        published=date(2026, 11, 20),
        upvotes=100,
    ),
    Paper(
        id="math",
        title="Mathematical Reasoning with Small Models",
        abstract="Reasoning on MATH-500 and GSM8K benchmarks.",
        published=date(2026, 11, 28),
        upvotes=3,
    ),
    Paper(
        id="plan",
        title="Reasoning about Plans in Café Robots",
        abstract="Agents reason over plans; no arithmetic involved.",
        published=date(2026, 11, 28),
        upvotes=1,
    ),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(PaperIndex.build(PAPERS, now=NOW))


def ids(matcher: Matcher, query: str, **kwargs: int) -> list[str]:
    return [m.paper.id for m in matcher.match([Topic("t", query)], **kwargs)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # case, stemming: "decoding" finds "decode", "LLMs" finds "LLM"
        ("SPECULATIVE decoding", ["spec"]),
        ("decoded", ["spec"]),
        ("LLMs", ["quant", "spec"]),
        ("llm", ["quant", "spec"]),
        # hyphens: "mixture-of-experts" == "mixture of experts"; "kv-cache" == "kv cache"
        ("mixture-of-experts", ["moe"]),
        ('"mixture of experts"', ["moe"]),
        ('"kv cache"', ["quant", "spec"]),
        ("key-value", ["quant"]),
        ("pretraining", ["moe", "quant"]),
        ("pre-training", ["moe", "quant"]),
        # accents
        ("cafe", ["plan"]),
        ("CAFÉ", ["plan"]),
        # phrases need adjacency; bare words do not
        ('"decoding speculative"', []),
        ("decoding speculative", ["spec"]),
        # NOT and a leading minus; an excluded word also excludes longer words it starts
        ("reasoning -math", ["plan"]),
        ("reasoning NOT mathematical", ["plan"]),
        # fields
        ("ti:quantization", ["quant"]),
        ("ti:cache", ["quant"]),
        ("abs:cache", ["quant", "spec"]),
        ("au:muller", ["spec"]),
        ('au:"yann lecun"', ["spec"]),
        ('au:"muller yann"', []),  # a phrase never runs from one author into the next
        ("org:deepseek", ["moe"]),
        # bare words skip the organisation, but a glued word is found by its parts
        ("deepseek", ["moe"]),
        ("deepseekmoe", ["moe"]),
        ("org:experts", []),
        # prefixes
        ("quantiz*", ["quant"]),
        ("spec*", ["spec"]),
        # any-of keyword lists and OR
        ("kv cache, moe", ["moe", "quant", "spec"]),
        ("quantization OR robots", ["plan", "quant"]),
        ("(quantization OR robots) -cafe", ["quant"]),
    ],
)
def test_query_finds(matcher: Matcher, query: str, expected: list[str]) -> None:
    assert sorted(ids(matcher, query)) == expected


def test_title_hits_rank_above_abstract_hits(matcher: Matcher) -> None:
    # both mention the kv cache; only "quant" has it in the title
    assert ids(matcher, "kv cache") == ["quant", "spec"]


def test_rarer_terms_weigh_more() -> None:
    titles = {"a": "Robots alpha", "b": "Reasoning beta", "c": "Reasoning gamma", "d": "Reasoning"}
    papers = [Paper(id=pid, title=title, abstract="") for pid, title in titles.items()]
    matcher = Matcher(PaperIndex.build(papers, now=NOW))
    assert ids(matcher, "reasoning OR robots")[0] == "a"


def test_order_is_deterministic_with_ties_broken_by_paper_id() -> None:
    twins = [
        Paper(id=f"p{i}", title="Speculative decoding", abstract="", published=date(2026, 11, 28))
        for i in (3, 1, 2)
    ]
    matcher = Matcher(PaperIndex.build(twins, now=NOW))
    assert ids(matcher, "speculative decoding") == ["p1", "p2", "p3"]
    reversed_matcher = Matcher(PaperIndex.build(list(reversed(twins)), now=NOW))
    assert ids(reversed_matcher, "speculative decoding") == ["p1", "p2", "p3"]


def test_fresh_upvotes_lift_a_paper_and_age_decays_them() -> None:
    def paper(pid: str, upvotes: int, published: date) -> Paper:
        return Paper(
            id=pid, title="KV cache compression", abstract="", upvotes=upvotes, published=published
        )

    popular = Matcher(
        PaperIndex.build(
            [paper("a", 0, date(2026, 11, 28)), paper("b", 80, date(2026, 11, 28))], now=NOW
        )
    )
    assert ids(popular, "kv cache") == ["b", "a"]
    stale = Matcher(
        PaperIndex.build(
            [paper("a", 10, date(2026, 11, 28)), paper("b", 40, date(2026, 6, 1))], now=NOW
        )
    )
    assert ids(stale, "kv cache") == ["a", "b"]


def test_a_match_names_its_topics_and_reasons(matcher: Matcher) -> None:
    topics = [
        Topic("Speculative decoding", "speculative decoding"),
        Topic("KV cache", "kv cache"),
        Topic("MoE", '"mixture of experts" OR moe'),
    ]
    found = {m.paper.id: m for m in matcher.match(topics)}
    assert set(found) == {"spec", "quant", "moe"}
    spec = found["spec"]
    assert spec.topics == ("Speculative decoding", "KV cache")
    assert MatchReason("speculative decoding", "title") in spec.matched
    assert MatchReason("kv cache", "abstract") in spec.matched
    # adjacent bare words are explained as the phrase, not word by word
    assert MatchReason("speculative", "title") not in spec.matched
    assert found["moe"].matched[:2] == (
        MatchReason("mixture of experts", "title"),
        MatchReason("mixture of experts", "abstract"),
    )
    assert MatchReason("moe", "abstract") in found["moe"].matched


def test_a_paper_matching_several_topics_appears_once(matcher: Matcher) -> None:
    found = matcher.match([Topic("a", "kv cache"), Topic("b", "quantization")])
    assert [m.paper.id for m in found] == ["quant", "spec"]


def test_min_upvotes_and_limit(matcher: Matcher) -> None:
    found = ids(matcher, "kv cache, moe, reasoning", min_upvotes=12)
    assert sorted(found) == ["moe", "quant", "spec"]
    assert len(ids(matcher, "kv cache, moe, reasoning", limit=2)) == 2
    assert ids(matcher, "kv cache", limit=0) == []


def test_queries_that_differ_only_in_spacing_match_alike(matcher: Matcher) -> None:
    first = matcher.match([Topic("x", "kv   cache")])
    second = matcher.match([Topic("y", "kv cache")])
    assert [(m.paper.id, m.score, m.matched) for m in first] == [
        (m.paper.id, m.score, m.matched) for m in second
    ]
    assert matcher.match([Topic("x", "kv   cache")]) == first


def test_a_bad_topic_query_raises_query_error(matcher: Matcher) -> None:
    with pytest.raises(QueryError, match='column 4: unclosed "\\("'):
        matcher.match([Topic("bad", "kv (cache")])


def test_no_topics_no_matches(matcher: Matcher) -> None:
    assert matcher.match([]) == []


def test_an_empty_index_matches_nothing() -> None:
    assert Matcher(PaperIndex.build([], now=NOW)).match([Topic("t", "kv cache")]) == []


def spans(text: str, match: Match, field: str) -> list[str]:
    """What a digest highlights in `field`: the match's reason terms, found in the text."""
    terms = tuple(r.term for r in match.matched if r.field == field)
    return [text[a:b] for a, b in highlight_spans(text, terms)]


def test_highlights_point_at_the_original_text(matcher: Matcher) -> None:
    [spec] = matcher.match([Topic("t", "speculative decoding")])
    assert spans(spec.paper.title, spec, "title") == ["Speculative Decoding"]
    assert spans(spec.paper.abstract, spec, "abstract") == ["speculatively decode"]
    [moe] = matcher.match([Topic("t", '"mixture of experts" OR moe')])
    # "MoE" glued into "DeepSeekMoE" matched, so it lights up, on its own
    assert spans(moe.paper.title, moe, "title") == ["MoE", "Mixture-of-Experts"]
    assert spans(moe.paper.abstract, moe, "abstract") == ["Mixture of experts", "MoE"]
    quant = next(
        m for m in matcher.match([Topic("t", "kv cache, quantiz*")]) if m.paper.id == "quant"
    )
    assert spans(quant.paper.title, quant, "title") == ["Quantization", "KV-Cache"]
    assert {(r.field, r.term) for r in quant.matched} == {
        ("title", "kv cache"),
        ("title", "quantiz*"),
        ("abstract", "cache"),
        ("abstract", "quantiz*"),
    }


def test_highlights_follow_hyphen_spellings(matcher: Matcher) -> None:
    found = {m.paper.id: m for m in matcher.match([Topic("t", "pretraining")])}
    assert spans(found["moe"].paper.abstract, found["moe"], "abstract") == ["Pre-training"]
    assert spans(found["quant"].paper.abstract, found["quant"], "abstract") == ["pretraining"]


def test_the_public_names_are_pinned() -> None:
    import digest.match

    assert sorted(digest.match.__all__) == [
        "Matcher",
        "PaperIndex",
        "Query",
        "compile_query",
        "term_spans",
    ]


@pytest.mark.parametrize("seed", range(5))
def test_merging_topics_equals_ranking_the_whole_union(seed: int) -> None:
    """The shortcut (merge each topic's best `limit`) must give what ranking every matching
    paper by its best topic would give."""
    import random

    rng = random.Random(seed)
    words = ["kv", "cache", "moe", "experts", "reasoning", "math", "agents", "diffusion", "video"]
    papers = [
        Paper(
            id=f"p{i:03d}",
            title=" ".join(rng.choices(words, k=3)),
            abstract=" ".join(rng.choices(words, k=12)),
            upvotes=rng.randrange(0, 20),
            published=date(2026, 11, rng.randrange(1, 29)),
        )
        for i in range(80)
    ]
    matcher = Matcher(PaperIndex.build(papers, now=NOW))
    for _ in range(20):
        topics = [Topic(f"t{j}", " ".join(rng.sample(words, rng.randint(1, 2)))) for j in range(3)]
        min_upvotes, limit = rng.choice([0, 0, 5]), rng.choice([1, 3, 10, None])
        best: dict[str, float] = {}
        for topic in topics:
            for m in matcher.match([topic], min_upvotes=min_upvotes):
                best[m.paper.id] = max(best.get(m.paper.id, -1.0), m.score)
        expected = sorted(best, key=lambda pid: (-best[pid], pid))[:limit]
        found = matcher.match(topics, min_upvotes=min_upvotes, limit=limit)
        assert [m.paper.id for m in found] == expected
        for m in found:
            assert set(m.topics) == {
                t.name for t in topics if m.paper.id in {x.paper.id for x in matcher.match([t])}
            }


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *("kv", "cache", "moe", "reasoning", "math*", "ti:", "au:", "OR", "NOT", "-"),
                *("(", ")", '"', ",", "mixture-of-experts", "café", "LLMs", "zzz"),
            ]
        ),
        min_size=1,
        max_size=8,
    ).map(" ".join)
)
def test_any_query_that_parses_matches_without_error(query: str) -> None:
    try:
        compile_query(query)
    except QueryError:
        return
    matcher = Matcher(PaperIndex.build(PAPERS, now=NOW))
    found = matcher.match([Topic("t", query)], limit=3)
    keys = [(-m.score, m.paper.id) for m in found]
    assert keys == sorted(keys)
    for m in found:
        for reason in m.matched:
            text = getattr(m.paper, reason.field) if reason.field != "authors" else ""
            term_spans(text or "", reason.term)


def test_an_acronym_plural_is_found_however_it_is_typed() -> None:
    papers = [
        Paper(id="gpu", title="Training on 1,000 GPUs", abstract="We shard LLMs across GPUs."),
        Paper(id="one", title="One GPU is enough", abstract="A single gpu suffices."),
        Paper(id="bus", title="A corpus of bus timetables", abstract="Buses run late."),
    ]
    matcher = Matcher(PaperIndex.build(papers, now=NOW))
    found = {q: ids(matcher, q) for q in ("gpus", "GPUs", "gpu", '"1,000 gpus"', "gpus*")}
    assert found == {
        "gpus": ["gpu"],  # as typed in lower case: the plural as written
        "GPUs": ["gpu", "one"],  # an acronym plural means the acronym
        "gpu": ["gpu", "one"],
        '"1,000 gpus"': ["gpu"],  # phrases run through the plural as typed
        "gpus*": ["gpu"],
    }
    assert ids(matcher, "corpus") == ["bus"]  # a lower-case word keeps its "s"
    [gpu] = matcher.match([Topic("t", "gpus")])
    assert spans(gpu.paper.title, gpu, "title") == ["GPUs"]
    assert spans(gpu.paper.abstract, gpu, "abstract") == ["GPUs"]


def test_an_acronym_plural_counts_once() -> None:
    """ "LLMs" is one occurrence of "llm", however the plural is also indexed."""
    papers = [
        Paper(id="a", title="LLMs", abstract="x"),
        Paper(id="b", title="LLM", abstract="x"),
        Paper(id="c", title="GPUs", abstract="x"),
        Paper(id="d", title="GPU", abstract="x"),
    ]
    matcher = Matcher(PaperIndex.build(papers, now=NOW))
    scores = {m.paper.id: m.score for m in matcher.match([Topic("t", "llm OR gpu")])}
    assert scores["a"] == scores["b"]
    assert scores["c"] == scores["d"]


def test_an_index_past_its_term_bound_matches_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers' own queries bring terms of their own, so an index keeps only so many looked up
    (memory stays flat over a long run); starting over must never change what anyone gets."""
    from digest.match import index as index_module

    queries = [
        "kv cache",
        "mixture of experts, reasoning",
        "speculative decoding",
        "math reasoning",
        "quantiz* OR moe",
        '"kv cache" -agents',
        "agents plans",
    ]
    unbounded = Matcher(PaperIndex.build(PAPERS, now=NOW))
    expected = [unbounded.match([Topic("t", q)]) for q in queries]
    monkeypatch.setattr(index_module, "TERMS_KEPT", 2)
    bounded = Matcher(PaperIndex.build(PAPERS, now=NOW))
    for _ in range(2):  # the second round finds the shared terms forgotten and looks them up again
        assert [bounded.match([Topic("t", q)]) for q in queries] == expected
        bounded = Matcher(bounded.index)
