"""Render benchmark: personalised digests to complete MIME bytes, against the naive path.

Fast path (what `digest send` and `digest preview` do): `compose()` — context, signed links,
Jinja render of the MJML layout compiled once, the text part, the hand-built multipart message
with every header.

Naive baseline, measured in the same run on the same editions: per mail, Jinja renders the MJML,
`mjml2html` compiles it, and the stdlib `EmailMessage` builds and flattens the message (same
headers, same signed links, same text part).

    .venv/bin/python bench/render.py [--emails 10000] [--baseline 1000]

Single-threaded (one core). Rates are per second of this process's CPU time, with the two
paths interleaved in rounds, so a busy shared machine skews neither the figures nor the ratio
much (wall time is printed too). Prints messages per second for both, the ratio, and the HTML
size of a 10- and a 25-paper digest (Gmail clips messages at about 102 KB).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from digest.app.tokens import Signer, digest_links
from digest.deliver.message import compose, message_id
from digest.models import Edition, Match, MatchReason, Paper, Profile, Subscriber, Topic
from digest.render import Renderer
from digest.render.compile import mjml_to_html
from digest.render.context import build_context
from digest.settings import load_settings

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
WORDS = [
    "speculative",
    "decoding",
    "diffusion",
    "transformer",
    "agents",
    "reasoning",
    "retrieval",
    "quantization",
    "kv",
    "cache",
    "multimodal",
    "video",
    "robot",
    "policy",
    "alignment",
    "reward",
    "model",
    "preference",
    "scaling",
    "sparse",
    "attention",
    "benchmark",
    "evaluation",
    "distillation",
    "long",
    "context",
    "memory",
    "tool",
    "use",
    "planning",
    "vision",
    "language",
]
TOPICS = [
    ("Speculative decoding", "speculative decoding"),
    ("Agents", "agents"),
    ("Diffusion", "diffusion"),
    ("Efficient inference", "quantization"),
    ("Reasoning", "reasoning"),
    ("Multimodal", "multimodal"),
]


def make_papers(rng: random.Random, count: int) -> list[Paper]:
    papers = []
    for n in range(count):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize()
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 22))).capitalize() + "."
            for _ in range(rng.randint(4, 8))
        ]
        papers.append(
            Paper(
                id=f"2511.{n:05d}",
                title=title,
                abstract=" ".join(sentences),
                authors=tuple(f"Author {n}-{k}" for k in range(rng.randint(1, 9))),
                organization=rng.choice([None, "Example Lab", "University of Somewhere"]),
                published=date(2026, 11, 27),
                upvotes=rng.randint(0, 300),
                arxiv_id=f"2511.{n:05d}",
                url=f"https://huggingface.co/papers/2511.{n:05d}",
                first_seen=NOW - timedelta(hours=3),
            )
        )
    return papers


def make_editions(rng: random.Random, papers: list[Paper], count: int, per: int) -> list[Edition]:
    editions = []
    for n in range(count):
        chosen_topics = rng.sample(TOPICS, 2)
        profile = Profile(
            email=f"reader{n}@example.org",
            name=f"Reader {n}",
            topics=tuple(Topic(name, query) for name, query in chosen_topics),
        )
        subscriber = Subscriber(id=n + 1, public_id=f"pub{n:08d}", status="active", profile=profile)
        matches = tuple(
            Match(
                paper=p,
                score=1.0 / (i + 1),
                topics=(chosen_topics[0][0],),
                matched=(
                    MatchReason(chosen_topics[0][1], "title"),
                    MatchReason(chosen_topics[0][1], "abstract"),
                ),
            )
            for i, p in enumerate(rng.sample(papers, per))
        )
        trending = tuple(rng.sample(papers, 3))
        editions.append(Edition(subscriber, NOW.date(), matches, trending, NOW))
    return editions


def naive(edition: Edition, renderer: Renderer, signer: Signer) -> bytes:
    """Per mail: Jinja → MJML → mjml2html → EmailMessage.as_bytes()."""
    settings = renderer.settings
    links = digest_links(settings, signer, edition.subscriber.public_id)
    context = build_context(edition, links, settings)
    mjml = renderer.html_source.render(context)
    html = mjml_to_html(mjml, "digest.mjml.j2")
    text = renderer.text_template.render(context)
    message = EmailMessage()
    message["Date"] = format_datetime(NOW)
    message["From"] = f"{settings.sender.from_name} <{settings.sender.from_address}>"
    message["To"] = f"{edition.subscriber.profile.name} <{edition.subscriber.email}>"
    message["Subject"] = context["subject"]
    message["Message-ID"] = message_id(edition, settings.sender.from_address)
    message["List-Id"] = f'"{settings.digest.list_name}" <{settings.sender.list_id}>'
    message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message["Precedence"] = "bulk"
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    args = parser.parse_args()

    settings = load_settings(
        None,
        site={"base_url": "https://digest.example.org", "secret_key": ["bench-secret-" + "k" * 32]},
    )
    rng = random.Random(42)
    papers = make_papers(rng, 400)
    editions = make_editions(rng, papers, args.emails, 10)
    renderer = Renderer(settings)
    signer = Signer(settings.secret_keys)

    # The machine may be shared: time with this process's CPU clock (one core's work), and
    # interleave the two paths in rounds so both see the same conditions.
    rounds = 10
    fast_batch = len(editions) // rounds
    naive_batch = max(1, args.baseline // rounds)
    fast_cpu = naive_cpu = fast_wall = naive_wall = 0.0
    fast_done = naive_done = total_bytes = 0
    for r in range(rounds):
        batch = editions[r * fast_batch : (r + 1) * fast_batch]
        wall, cpu = time.perf_counter(), time.process_time()
        for edition in batch:
            links = digest_links(settings, signer, edition.subscriber.public_id)
            total_bytes += len(compose(edition, settings, links, renderer=renderer, now=NOW).data)
        fast_cpu += time.process_time() - cpu
        fast_wall += time.perf_counter() - wall
        fast_done += len(batch)
        sample = editions[r * naive_batch : (r + 1) * naive_batch]
        wall, cpu = time.perf_counter(), time.process_time()
        for edition in sample:
            naive(edition, renderer, signer)
        naive_cpu += time.process_time() - cpu
        naive_wall += time.perf_counter() - wall
        naive_done += len(sample)
    fast_rate = fast_done / fast_cpu
    naive_rate = naive_done / naive_cpu

    sizes = {}
    for per in (10, 25):
        edition = make_editions(random.Random(per), papers, 1, per)[0]
        links = digest_links(settings, signer, edition.subscriber.public_id)
        sizes[per] = len(renderer.render(edition, links).html.encode("utf-8"))

    print(
        f"compile-once + hand-built MIME: {fast_done:,} messages, {fast_cpu:.2f} s CPU "
        f"({fast_wall:.2f} s wall)"
    )
    print(f"  {fast_rate:,.0f} messages/s, {total_bytes / fast_done / 1024:.1f} KB average")
    print(
        f"naive (Jinja → MJML → mjml2html → EmailMessage): {naive_done:,} messages, "
        f"{naive_cpu:.2f} s CPU ({naive_wall:.2f} s wall)"
    )
    print(f"  {naive_rate:,.0f} messages/s")
    print(f"ratio: {fast_rate / naive_rate:.1f}x the naive baseline")
    print(
        f"HTML size: 10 papers {sizes[10] / 1024:.1f} KB, 25 papers {sizes[25] / 1024:.1f} KB "
        "(limits 60 KB and 100 KB)"
    )


if __name__ == "__main__":
    main()
