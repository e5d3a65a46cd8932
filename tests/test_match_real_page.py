"""On the real Daily Papers capture, queries return what a researcher would expect."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from digest.match import Matcher, PaperIndex
from digest.models import MatchReason, Topic
from digest.sources import parse
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    path = shared_file("daily-papers-page.txt")
    papers = parse(path.read_bytes(), name=path.name, page_date=date(2025, 10, 17))
    return Matcher(PaperIndex.build(papers, now=datetime(2025, 10, 17, 12, tzinfo=UTC)))


def titles(matcher: Matcher, query: str) -> list[str]:
    return [m.paper.title for m in matcher.match([Topic(query, query)])]


def test_speculative_decoding_puts_papers_about_it_first(matcher: Matcher) -> None:
    found = titles(matcher, "speculative decoding")
    about = [t for t in found if "Speculative Decoding" in t]
    assert len(about) == 8
    assert found[: len(about)] == about  # the title hits lead
    assert "Kangaroo: Lossless Self-Speculative Decoding via Double Early Exiting" in about
    assert "Judge Decoding: Faster Speculative Sampling Requires Going Beyond Model Alignment" in (
        found
    )
    assert not any("Mixture-of-Experts" in t for t in found)


def test_mixture_of_experts_or_moe(matcher: Matcher) -> None:
    found = titles(matcher, '"mixture of experts" OR moe')
    leading = set(found[:6])
    assert {
        "DeepSpeed-MoE: Advancing Mixture-of-Experts Inference and Training to Power "
        "Next-Generation AI Scale",
        "Pangu Ultra MoE: How to Train Your Big MoE on Ascend NPUs",
        "DeepSeekMoE: Towards Ultimate Expert Specialization in Mixture-of-Experts Language Models",
        "PreMoe: Lightening MoEs on Constrained Memory by Expert Pruning and Retrieval",
    } <= leading
    # found through the abstract: "Mixture of Experts (MoE) architectures"
    assert any(t.startswith("Insights into DeepSeek-V3") for t in found)
    assert not any("Speculative Decoding" in t for t in found)


def test_kv_cache(matcher: Matcher) -> None:
    found = titles(matcher, "kv cache")
    assert set(found[:3]) == {
        "KVShare: An LLM Service System with Efficient and Effective Multi-Tenant KV Cache Reuse",
        "ShadowKV: KV Cache in Shadows for High-Throughput Long-Context LLM Inference",
        "Attention Is All You Need for KV Cache in Diffusion LLMs",
    }
    assert "SnapKV: LLM Knows What You are Looking for Before Generation" in found
    [first] = matcher.match([Topic("KV", "kv cache")], limit=1)
    assert first.matched[0] == MatchReason("kv cache", "title")


def test_title_only_quantization(matcher: Matcher) -> None:
    assert titles(matcher, "ti:quantization") == [
        "HAWQ: Hessian AWare Quantization of Neural Networks with Mixed-Precision"
    ]
    assert len(titles(matcher, "quantization")) > 1  # the abstracts mention it more often


def test_reasoning_without_math(matcher: Matcher) -> None:
    found = titles(matcher, "reasoning -math")
    assert (
        "ConciseHint: Boosting Efficient Reasoning via Continuous Concise Hints during Generation"
        in found
    )
    assert "RePanda: Pandas-powered Tabular Verification and Reasoning" in found
    mathy = [
        "Systematic Optimization of Open Source Large Language Models for Mathematical Reasoning",
        "DeepSeek-Prover-V2: Advancing Formal Mathematical Reasoning via Reinforcement Learning "
        "for Subgoal Decomposition",
        "Light-R1: Curriculum SFT, DPO and RL for Long COT from Scratch and Beyond",
    ]
    assert not set(mathy) & set(found)
    assert set(mathy) <= set(titles(matcher, "reasoning"))


def test_llms_finds_llm(matcher: Matcher) -> None:
    plural = set(titles(matcher, "LLMs"))
    assert plural == set(titles(matcher, "LLM"))
    assert "Let the Code LLM Edit Itself When You Edit the Code" in plural
