"""Plain-word queries mean what a reader means: rare words decide, common ones only rank,
research vocabulary expands, and the query language keeps its exact meaning."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.match import Matcher, PaperIndex, term_spans
from digest.match.aliases import load_aliases
from digest.match.normalize import boilerplate_spans
from digest.models import Paper, Topic
from tests.conftest import ROOT, Cli

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FILLER = "We study large language models and AI models for learning."


def paper(pid: str, title: str, abstract: str) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, published=date(2026, 11, 28), upvotes=1)


PAPERS = [
    paper("med", "Detecting Retinopathy in Fundus Images", "A clinical screening model."),
    paper("mathr", "Mathematical Reasoning at Scale", "Better reasoning on AIME24 and MATH500."),
    paper("aims", "Agents With Aims", "This work aims to plan; its aims are modest."),
    paper("dist", "Distributed Training on Many GPUs", "Distributed training with pipelines."),
    paper("distn", "Shift in Data", "The training distribution shifts; distribution matters."),
    paper("codegen", "Code Generation With LLMs", "We study code generation and code repair."),
    paper("boiler", "Text Generation Tricks", "Better text generation. Our code is available."),
    paper("moe", "DeepSeekMoE: Routing", "Mixture of experts at scale."),
    paper("safe", "Jailbreaks", "Safety of large language models under attack."),
    paper("kv", "Paging Memory", "We page the KV cache."),
] + [paper(f"f{i}", f"Filler {i}", FILLER) for i in range(12)]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(PaperIndex.build(PAPERS, now=NOW))


def ids(matcher: Matcher, query: str) -> set[str]:
    return {m.paper.id for m in matcher.match([Topic(query, query)])}


def test_a_common_word_does_not_gate_a_match(matcher: Matcher) -> None:
    assert ids(matcher, "medical ai") == {"med"}  # "clinical" is medical; "ai" is not required


def test_aliases_expand_research_vocabulary(matcher: Matcher) -> None:
    assert ids(matcher, "math reasoning") == {"mathr"}
    assert ids(matcher, "llm safety") == {"safe"}
    assert ids(matcher, "moe") == {"moe"}  # MoE glued into DeepSeekMoE, and its alias


def test_acronyms_are_not_stemmed_and_glued_digits_split(matcher: Matcher) -> None:
    assert ids(matcher, "aime") == {"mathr"}  # not "aims"
    assert ids(matcher, "aims") == {"aims"}
    assert ids(matcher, "math500") == {"mathr"}


@pytest.mark.parametrize(
    ("query", "field", "lit"),
    [
        ("aime", "abstract", ["AIME"]),
        ("math500", "abstract", ["MATH500"]),
        ("moe", "title", ["MoE"]),
    ],
)
def test_parts_of_glued_words_are_highlighted(
    matcher: Matcher, query: str, field: str, lit: list[str]
) -> None:
    [found] = matcher.match([Topic(query, query)])
    text = getattr(found.paper, field)
    terms = [r.term for r in found.matched if r.field == field]
    spans = sorted({span for term in terms for span in term_spans(text, term)})
    assert [text[a:b] for a, b in spans] == lit


def test_plain_words_match_inflections_not_every_shared_stem(matcher: Matcher) -> None:
    assert ids(matcher, "distributed training") == {"dist"}
    assert "distn" in ids(matcher, '"distributed" training')  # the query language: Snowball


def test_query_language_words_match_inflections_and_exclusions_are_broad(
    matcher: Matcher,
) -> None:
    assert ids(matcher, "distributed OR aims") == {"dist", "aims"}  # not "distribution"
    assert ids(matcher, "training") == {"dist", "distn"}
    assert ids(matcher, "training -distributed") == set()  # excluding drops "distribution" too


def test_boilerplate_and_passing_mentions_do_not_make_a_topic(matcher: Matcher) -> None:
    assert ids(matcher, "code generation") == {"codegen"}
    # one mention of "kv cache" in an abstract is in passing; the quoted phrase finds any
    assert ids(matcher, "kv cache") == set()
    assert ids(matcher, '"kv cache"') == {"kv"}


def test_words_need_not_be_adjacent_but_the_phrase_ranks_higher() -> None:
    papers = [
        paper("apart", "Decoding, Speculative", "Speculative methods for decoding; decoding."),
        paper("together", "Speculative Decoding", "Speculative decoding."),
    ]
    found = Matcher(PaperIndex.build(papers, now=NOW)).match([Topic("s", "speculative decoding")])
    assert [m.paper.id for m in found] == ["together", "apart"]


def test_explain_says_what_is_required_and_expanded(matcher: Matcher) -> None:
    groups = matcher.explain("medical ai")
    assert groups is not None
    words = {w.display: w.required for c in groups[0].concepts for w in c.words}
    assert words == {"medical": True, "ai": False}
    aliases = {a.display for c in groups[0].concepts for a in c.aliases}
    assert {"clinical", "artificial intelligence"} <= aliases
    assert matcher.explain('"medical" OR ai') is None  # the query language is not reinterpreted


def test_an_operator_alias_file_extends_the_table(tmp_path: Path) -> None:
    extra = tmp_path / "aliases.txt"
    extra.write_text("# ours\nretinopathy, eye disease\n", encoding="utf-8")
    papers = [paper("eye", "Eye Disease Screening", "Screening."), *PAPERS[1:3]]
    matcher = Matcher(PaperIndex.build(papers, now=NOW), aliases=load_aliases(extra))
    assert {m.paper.id for m in matcher.match([Topic("r", "retinopathy")])} == {"eye"}


@pytest.mark.parametrize(
    ("content", "line"),
    [("llm\n", 1), ("# fine\n\nrl, , reinforcement learning\n", 3), ("a, ---\n", 1)],
)
def test_a_bad_alias_file_is_one_error_naming_file_and_line(
    tmp_path: Path, content: str, line: int
) -> None:
    path = tmp_path / "aliases.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_aliases(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_digest_match_explain_and_a_bad_aliases_setting(digest: Cli, tmp_path: Path) -> None:
    sample = ROOT / "digest" / "samples" / "daily-papers-sample.txt"
    assert digest("ingest", str(sample))[0] == 0
    code, out, err = digest("match", "--query", "speculative decoding", "--explain")
    assert (code, err) == (0, "")
    assert "speculative: required" in out and "score cut-off" in out
    bad = tmp_path / "bad.txt"
    bad.write_text("only-one-term\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[match]\naliases_file = "{bad}"\n', encoding="utf-8")
    code, out, err = digest("--config", str(config), "match", "--query", "moe")
    assert code == 2 and out == ""
    assert err.strip().startswith(f"error: {bad}:1: expected two or more")


@pytest.mark.parametrize(
    ("sentence", "boilerplate"),
    [
        ("Our code is available at https://github.com/x/y.", True),
        ("The code will be made publicly available.", True),
        ("We make our code publicly available.", True),
        ("Codes and new annotations will be released soon.", True),
        ("The implementation can be found online.", True),
        ("LLMs do well on code-related tasks, yet open-source models lag behind.", False),
        ("We release a benchmark of code repair tasks.", False),
    ],
)
def test_code_release_sentences_are_boilerplate(sentence: str, boilerplate: bool) -> None:
    assert bool(boilerplate_spans(f"We study repair. {sentence}")) is boilerplate
