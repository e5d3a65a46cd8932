"""The topic query language: what parses into what, and how bad queries are reported."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import QueryError
from digest.match import compile_query
from digest.match.query import And, Not, Or, Term


def test_bare_words_are_an_implicit_and_over_title_and_abstract() -> None:
    root = compile_query("speculative decoding").root
    assert isinstance(root, And)
    assert [t.display for t in root.children if isinstance(t, Term)] == [
        "speculative",
        "decoding",
    ]
    assert all(isinstance(t, Term) and t.fields == ("title", "abstract") for t in root.children)


def test_or_binds_looser_than_implicit_and() -> None:
    root = compile_query("kv cache OR paged attention").root
    assert isinstance(root, Or)
    assert all(isinstance(child, And) for child in root.children)


def test_a_comma_separated_keyword_list_means_any_of_them() -> None:
    root = compile_query("kv cache, quantization, speculative decoding").root
    assert isinstance(root, Or)
    assert len(root.children) == 3
    assert root == compile_query("kv cache OR quantization OR speculative decoding").root


def test_a_quoted_phrase_is_one_term_with_several_stems() -> None:
    root = compile_query('"Mixture of Experts"').root
    assert isinstance(root, Term)
    assert root.stems == ("mixtur", "of", "expert")
    assert root.display == "Mixture of Experts"


def test_a_hyphenated_word_is_a_phrase_that_also_matches_the_joined_word() -> None:
    root = compile_query("mixture-of-experts").root
    assert isinstance(root, Term)
    assert root.stems == compile_query('"mixture of experts"').root.stems  # type: ignore[union-attr]
    assert root.joined == "mixtureofexpert"


@pytest.mark.parametrize("text", ["NOT math", "-math"])
def test_not_and_a_leading_minus_exclude(text: str) -> None:
    root = compile_query(f"reasoning {text}").root
    assert isinstance(root, And)
    assert isinstance(root.children[1], Not)


def test_an_excluded_word_also_excludes_words_it_starts() -> None:
    root = compile_query("reasoning -math").root
    assert isinstance(root, And) and isinstance(root.children[1], Not)
    excluded = root.children[1].child
    assert isinstance(excluded, Or)
    assert any(isinstance(t, Term) and t.prefix == "math" for t in excluded.children)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("ti:quantization", ("title",)),
        ("abs:quantization", ("abstract",)),
        ("au:hinton", ("authors",)),
        ("org:deepseek", ("organization",)),
        ('ti:"kv cache"', ("title",)),
    ],
)
def test_field_prefixes_restrict_a_term(text: str, fields: tuple[str, ...]) -> None:
    root = compile_query(text).root
    assert isinstance(root, Term)
    assert root.fields == fields


def test_a_field_prefix_applies_to_a_whole_group() -> None:
    root = compile_query("ti:(moe OR experts)").root
    assert isinstance(root, Or)
    assert all(isinstance(t, Term) and t.fields == ("title",) for t in root.children)


def test_a_trailing_star_is_a_prefix_on_the_folded_word() -> None:
    root = compile_query("Quantiz*").root
    assert isinstance(root, Term)
    assert root.prefix == "quantiz"


def test_lower_case_or_and_not_are_plain_words() -> None:
    root = compile_query("theory or not").root
    assert isinstance(root, And)
    assert len(root.children) == 3


def test_queries_that_parse_alike_share_a_cache_key() -> None:
    assert compile_query("kv   cache").root == compile_query("kv cache").root
    assert compile_query("(kv cache)").root == compile_query("kv cache").root


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("speculative (decoding", 13, 'unclosed "("'),
        ("(a OR (b)", 1, 'unclosed "("'),
        ("decoding)", 9, 'unmatched ")"'),
        ('"mixture of experts', 1, "unclosed quote"),
        ('kv "cache', 4, "unclosed quote"),
        ("foo:bar", 1, 'unknown field "foo:"; expected ti:, abs:, au: or org:'),
        ("kv title:cache", 4, 'unknown field "title:"; expected ti:, abs:, au: or org:'),
        ("NOT", 1, '"NOT" needs a term after it'),
        ("reasoning NOT", 11, '"NOT" needs a term after it'),
        ("reasoning -", 11, '"-" needs a term right after it (as in -math)'),
        ("a OR", 3, '"OR" needs a term after it'),
        ("OR a", 1, '"OR" needs a term before it'),
        ("a OR OR b", 3, '"OR" needs a term after it'),
        ("(a OR)", 4, '"OR" needs a term after it'),
        ("a AND", 3, '"AND" needs a term after it'),
        ("()", 1, 'empty "()"'),
        ("ti:", 1, '"ti:" needs a term right after it'),
        ("ti: cache", 1, '"ti:" needs a term right after it'),
        ("ti:au:x", 4, "a field prefix cannot hold another one"),
        ("-math", 1, "nothing to look for: the query only excludes terms"),
        ("NOT (a OR b)", 1, "nothing to look for: the query only excludes terms"),
        ("quan*tize", 5, '"*" goes at the end of a word'),
        ("*", 1, '"*" needs a single word before it (as in quantiz*)'),
        ('"kv cache"*', 11, '"*" goes at the end of a word, not after a phrase'),
        ('"diffusion llm*"', 15, '"*" works on single words, not inside a phrase'),
        ('""', 1, "empty phrase"),
        ("+++", 1, '"+++" has no letters or digits to search for'),
    ],
)
def test_bad_queries_are_rejected_with_a_column(text: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        compile_query(text)
    assert (caught.value.column, caught.value.reason) == (column, reason)
    assert str(caught.value) == f"column {column}: {reason}"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(QueryError, match="nested too deeply"):
        compile_query("(" * 500 + "a" + ")" * 500)


QUERY_ALPHABET = st.sampled_from(
    [*'abcxyz ()"-*:,', "OR", "AND", "NOT", "ti:", "au:", "org:", "é", "“", "”", "\t", "_"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(QUERY_ALPHABET, max_size=25).map(" ".join) | st.text(max_size=40))
def test_the_parser_only_ever_raises_query_error(text: str) -> None:
    try:
        query = compile_query(text)
    except QueryError as error:
        assert error.column is not None and 1 <= error.column <= len(text) + 1
    else:
        assert query.terms()
