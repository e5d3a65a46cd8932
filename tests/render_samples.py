"""Hand-built papers and editions for the render, MIME and preview tests (no database needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from digest.models import Edition, Match, MatchReason, Paper, Profile, Subscriber, Topic

HOSTILE_TITLE = "<script>alert('x')</script> & \"quoted\" <b>bold</b> \u202eRTL\u202c 😀 {{ 7*7 }}"
HOSTILE_ABSTRACT = (
    "We <img src=x onerror=alert(1)> study Speculative Decoding & friends. "
    "Results in \u05e2\u05d1\u05e8\u05d9\u05ea and 中文 hold up 😀. "
    "{% if true %}not a template{% endif %} stays text."
)


def paper(n: int, **changes: object) -> Paper:
    values: dict[str, object] = {
        "id": f"2510.{n:05d}",
        "title": f"Speculative decoding for efficient inference, part {n}",
        "abstract": (
            f"We study speculative decoding in setting {n}. Our method drafts tokens with a small "
            "model and verifies them with a large one. It is 2.5x faster on long prompts. "
            "We release code, weights and a benchmark suite covering twelve tasks. "
            "Ablations show that the draft model size matters less than its calibration. "
            "A final sentence that should usually be trimmed away."
        ),
        "authors": ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
        "author_count": 4,
        "organization": "Example Lab",
        "published": date(2026, 11, 27),
        "upvotes": 100 - n,
        "arxiv_id": f"2510.{n:05d}",
        "url": f"https://huggingface.co/papers/2510.{n:05d}",
        "first_seen": datetime(2026, 11, 28, 6, 0, tzinfo=UTC),
    }
    values.update(changes)
    return Paper(**values)  # type: ignore[arg-type]


def subscriber(
    email: str = "ada@example.org", name: str | None = "Ada", sid: int = 1, **profile: object
) -> Subscriber:
    topics = (
        Topic("Speculative decoding", "speculative decoding"),
        Topic("Inference", "inference"),
    )
    values: dict[str, object] = {"email": email, "name": name, "topics": topics}
    values.update(profile)
    return Subscriber(
        id=sid,
        public_id=f"pub-{sid}",
        status="active",
        profile=Profile(**values),  # type: ignore[arg-type]
    )


def match(p: Paper) -> Match:
    return Match(
        paper=p,
        score=1.0,
        topics=("Speculative decoding", "Inference"),
        matched=(
            MatchReason("speculative decoding", "title"),
            MatchReason("speculative decoding", "abstract"),
            MatchReason("inference", "title"),
        ),
    )


def edition(
    count: int = 10,
    *,
    trending: int = 3,
    sub: Subscriber | None = None,
    papers: list[Paper] | None = None,
    day: date = date(2026, 11, 29),
) -> Edition:
    chosen = papers if papers is not None else [paper(i) for i in range(1, count + 1)]
    extra = tuple(paper(900 + i, title=f"A trending paper {i}") for i in range(trending))
    return Edition(
        subscriber=sub or subscriber(),
        date=day,
        papers=tuple(match(p) for p in chosen),
        trending=extra,
        candidates_until=datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
    )
