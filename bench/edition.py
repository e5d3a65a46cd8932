"""A whole edition, end to end: readers × papers matched, rendered and made into MIME bytes.

Synthetic readers (1–4 topics each, drawn from ~50 common queries with a long-tailed popularity,
~10% of topics a reader's own) and 1,000 synthetic papers are stored in a SQLite file; then, for
each size (default 10,000 and 100,000 readers; `--sizes 10000,100000,1000000` for the million):

- the real path: `send_editions(..., dry_run=True)` in a child process — pages of readers, the
  ledger read once per page, one shared index and matcher, the compiled templates, the MIME
  bytes — timed as CPU per reader, with the child's peak RSS (it must not grow with the number
  of readers);
- the same on 2 processes at once, each taking half of the readers, timed as wall clock;
- the naive per-reader path on a sample, in the same run: per reader, the ledger queried for
  its history, every topic regex-scanned over the papers, then Jinja → MJML → mjml2html →
  EmailMessage.as_bytes().

- `digest preview` (write_previews) over every reader at `--preview-sizes` (default 2,000 and
  20,000: it writes three files per reader), CPU per reader and peak RSS, which must stay flat.

Run: `.venv/bin/python bench/edition.py [--sizes N,N] [--papers 1000] [--sample 300]
[--preview-sizes N,N] [--skip-send]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from match import make_papers, make_vocabulary, popular_queries, unique_query
from mjml import mjml2html
from sqlalchemy import insert, select

from digest.app.due import WorkPage, hand_send_pages
from digest.app.preview import write_previews
from digest.app.send import send_editions
from digest.app.tokens import Signer, digest_links
from digest.match import compile_query
from digest.models import Edition, Match, MatchReason, Paper, Subscriber, Topic
from digest.render.context import build_context
from digest.render.loader import HTML_TEMPLATE, TEXT_TEMPLATE, environments
from digest.settings import Settings, load_settings
from digest.store import open_store
from digest.store.papers import list_papers, upsert_papers
from digest.store.schema import DeliveryPaperRow, DeliveryRow, SubscriberRow, TopicRow
from digest.store.subscribers import mailable_page

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
COMMON = 50
UNIQUE_SHARE = 0.1


def settings_for(db: Path) -> Settings:
    return load_settings(
        None,
        database={"url": f"sqlite:///{db}"},
        site={"base_url": "https://digest.example.org", "secret_key": ["bench-" + "k" * 40]},
        digest={"send_empty": True},
    )


def populate(db: Path, readers: int, papers: int) -> None:
    rng = random.Random(13)
    vocabulary = make_vocabulary(rng)
    store = open_store(f"sqlite:///{db}")
    try:
        with store.session() as session:
            upsert_papers(session, make_papers(papers, rng, vocabulary), NOW - timedelta(hours=3))
        catalogue = popular_queries(rng)[:COMMON]
        weights = [1.0 / (rank + 1) for rank in range(len(catalogue))]
        batch_people: list[dict[str, object]] = []
        batch_topics: list[dict[str, object]] = []
        for n in range(1, readers + 1):
            batch_people.append(
                {
                    "id": n,
                    "public_id": f"pub{n:07d}",
                    "email": f"reader{n}@example.org",
                    "email_key": f"reader{n}@example.org",
                    "name": f"Reader {n}",
                    "timezone": "UTC",
                    "cadence": "daily",
                    "send_time": "08:00",
                    "max_papers": rng.choice([5, 10, 10, 15]),
                    "min_upvotes": 0,
                    "trending": True,
                    "status": "active",
                    "origin": "import",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            for position in range(rng.randint(1, 4)):
                if rng.random() < UNIQUE_SHARE:
                    name, query = f"my topic {position}", unique_query(rng, vocabulary)
                else:
                    query = rng.choices(catalogue, weights)[0]
                    name = query[:40]
                batch_topics.append(
                    {"subscriber_id": n, "position": position, "name": name, "query": query}
                )
            if len(batch_people) == 20_000 or n == readers:
                with store.session() as session:
                    session.execute(insert(SubscriberRow), batch_people)
                    session.execute(insert(TopicRow), batch_topics)
                batch_people, batch_topics = [], []
    finally:
        store.dispose()


# -- the real path, in a child process ---------------------------------------------------------


def child(db: Path, shard: int, shards: int) -> None:
    settings = settings_for(db)
    store = open_store(settings.database.url)

    def work() -> object:
        for page in hand_send_pages(store, now=NOW, edition_date=NOW.date()):
            yield WorkPage(editions=[(s, d) for s, d in page.editions if s.id % shards == shard])

    wall, cpu = time.perf_counter(), time.process_time()
    summary = asyncio.run(
        send_editions(
            store,
            settings,
            now=NOW,
            work=work(),  # type: ignore[arg-type]
            dry_run=True,
        )
    )
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"readers": summary.sent, "cpu": cpu, "wall": wall, "rss_mb": peak_kb / 1024}))


def preview_child(db: Path) -> None:
    """`digest preview`'s own function over every reader: files written as it goes, the index
    streamed; peak RSS must not grow with the readers."""
    settings = settings_for(db)
    store = open_store(settings.database.url)
    with tempfile.TemporaryDirectory(dir=db.parent) as out:
        cpu = time.process_time()
        written = write_previews(store, settings, Path(out) / "previews", now=NOW)
        cpu = time.process_time() - cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"readers": written.previews, "cpu": cpu, "rss_mb": peak_kb / 1024}))


def run_preview(db: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--preview-child", str(db)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_children(db: Path, shards: int) -> list[dict[str, float]]:
    command = [sys.executable, __file__, "--child", str(db)]
    children = [
        subprocess.Popen([*command, str(k), str(shards)], stdout=subprocess.PIPE, text=True)
        for k in range(shards)
    ]
    results = []
    for process in children:
        out, _ = process.communicate()
        assert process.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# -- the naive per-reader path -----------------------------------------------------------------


def naive(db: Path, sample: int) -> float:
    """CPU seconds per reader of a straightforward program, over the first `sample` readers."""
    settings = settings_for(db)
    store = open_store(settings.database.url)
    signer = Signer(settings.secret_keys)
    html_env, text_env = environments(settings)
    mjml_template = html_env.get_template(HTML_TEMPLATE)
    text_template = text_env.get_template(TEXT_TEMPLATE)
    with store.session() as session:
        papers = list_papers(session)
        readers = mailable_page(session, after_id=0, limit=sample)
    patterns: dict[str, list[re.Pattern[str]]] = {}  # a simple program compiles each query once
    cpu = time.process_time()
    for reader in readers:
        with store.session() as session:  # the reader's history, as a first version asks it
            session.scalar(
                select(DeliveryRow.candidates_until)
                .where(DeliveryRow.subscriber_id == reader.id, DeliveryRow.status == "sent")
                .order_by(DeliveryRow.edition.desc())
                .limit(1)
            )
            sent = set(
                session.scalars(
                    select(DeliveryPaperRow.paper_id)
                    .join(DeliveryRow, DeliveryRow.id == DeliveryPaperRow.delivery_id)
                    .where(DeliveryRow.subscriber_id == reader.id)
                )
            )
        edition = naive_edition(reader, papers, sent, patterns, settings)
        links = digest_links(settings, signer, reader.public_id)
        context = build_context(edition, links, settings)
        html = mjml2html(mjml_template.render(context), fonts={})
        message = EmailMessage()
        message["Date"] = format_datetime(NOW)
        message["From"] = f"{settings.sender.from_name} <{settings.sender.from_address}>"
        message["To"] = f"{reader.profile.name} <{reader.email}>"
        message["Subject"] = context["subject"]
        message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
        message.set_content(text_template.render(context), cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        message.as_bytes()
    return (time.process_time() - cpu) / max(1, len(readers))


def naive_edition(
    reader: Subscriber,
    papers: list[Paper],
    sent: set[str],
    patterns: dict[str, list[re.Pattern[str]]],
    settings: Settings,
) -> Edition:
    scored: dict[str, tuple[int, Topic]] = {}
    for topic in reader.profile.topics:
        if topic.query not in patterns:
            terms = [t.display.rstrip("*") for t in compile_query(topic.query).terms()]
            patterns[topic.query] = [re.compile(re.escape(t), re.IGNORECASE) for t in terms]
        for paper in papers:
            if paper.id in sent:
                continue
            text = f"{paper.title}\n{paper.abstract}"
            hits = sum(1 for pattern in patterns[topic.query] if pattern.search(text))
            if hits and hits > scored.get(paper.id, (0, topic))[0]:
                scored[paper.id] = (hits, topic)
    by_id = {p.id: p for p in papers}
    best = sorted(scored.items(), key=lambda item: (-item[1][0], item[0]))
    matches = tuple(
        Match(by_id[pid], float(hits), (topic.name,), (MatchReason(topic.name, "abstract"),))
        for pid, (hits, topic) in best[: reader.profile.max_papers]
    )
    return Edition(reader, NOW.date(), matches, (), NOW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("BENCH_READERS", "10000,100000"))
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument(
        "--preview-sizes",
        default=os.environ.get("BENCH_PREVIEW_READERS", "2000,20000"),
        help="reader counts for `digest preview` (3 files of ~50 KB each per reader)",
    )
    parser.add_argument("--skip-send", action="store_true", help="only the preview figures")
    parser.add_argument(
        "--processes",
        default="1,2",
        help="which runs to time: 1 (one process), 2 (two at once), or both; `2` alone halves "
        "the wall time of a million readers, with CPU per reader summed over both",
    )
    args = parser.parse_args()
    sizes = [] if args.skip_send else [int(s) for s in args.sizes.split(",")]
    processes = set(args.processes.split(","))
    if not processes or not processes <= {"1", "2"}:
        parser.error("--processes: expected 1, 2 or 1,2")
    previews = [int(s) for s in args.preview_sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as folder:
        for size in previews:
            db = Path(folder) / f"preview-{size}.db"
            populate(db, size, args.papers)
            result = run_preview(db)
            print(
                f"{size:>9,} readers, digest preview: {result['cpu'] / size * 1000:.3f} ms CPU "
                f"per reader, peak RSS {result['rss_mb']:.0f} MB"
            )
            db.unlink()
        for size in sizes:
            db = Path(folder) / f"edition-{size}.db"
            started = time.perf_counter()
            populate(db, size, args.papers)
            setup = time.perf_counter() - started
            figures = []
            if "1" in processes:
                [one] = run_children(db, 1)
                per_reader = one["cpu"] / one["readers"]
                figures.append(
                    f"{one['wall']:.1f} s wall on 1 process, peak RSS {one['rss_mb']:.0f} MB"
                )
            if "2" in processes:
                two = run_children(db, 2)
                if "1" not in processes:
                    per_reader = sum(r["cpu"] for r in two) / sum(r["readers"] for r in two)
                figures.append(
                    f"{max(r['wall'] for r in two):.1f} s wall on 2 processes, peak RSS "
                    f"{max(r['rss_mb'] for r in two):.0f} MB each"
                )
            naive_cpu = naive(db, min(args.sample, size))
            print(
                f"{size:>9,} readers × {args.papers} papers (stored in {setup:.0f} s): "
                f"{per_reader * 1000:.3f} ms CPU per reader; " + "; ".join(figures)
            )
            print(
                f"{'':>9}  naive per-reader path: {naive_cpu * 1000:.2f} ms CPU per reader "
                f"(on {min(args.sample, size)}); ratio {naive_cpu / per_reader:.1f}x"
            )
            db.unlink()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--preview-child":
        preview_child(Path(sys.argv[2]))
    else:
        main()
