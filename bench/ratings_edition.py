"""What learning from ratings costs an edition build: 10,000 readers, all with ratings.

The readers and 1,000 papers of bench/edition.py are stored in a SQLite file, plus 300 older
papers (from earlier editions, outside the edition's index) that the readers rated: 8 ratings
each (5 up, 3 down), drawn with a long-tailed popularity, as readers rate the same editions'
papers. Then, in the same run, the edition of every reader is built the way `digest send` and
`digest preview` build it (EditionBuilder, pages of 500 readers: the ledger and the page's
ratings read once per page, one shared index and matcher), in alternating rounds, best of
each (the machine's load changes within a run):

- the baseline: the same readers before any rating is stored (the topics alone);
- the learned path: with every reader's ratings (re-ranking, widening and narrowing).

Printed: CPU per build, and the ratio learned / baseline (target ≤ 1.20).

Run: `.venv/bin/python bench/ratings_edition.py [--readers 10000] [--papers 1000]`.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from edition import NOW, populate, settings_for
from match import make_papers, make_vocabulary
from sqlalchemy import insert

from digest.app.edition import EditionBuilder
from digest.store import open_store
from digest.store.papers import upsert_papers
from digest.store.schema import RatingRow
from digest.store.subscribers import mailable_page

PAGE = 500
RATED_PAPERS = 300
UPS, DOWNS = 5, 3


def add_ratings(db: Path, readers: int) -> None:
    rng = random.Random(29)
    store = open_store(f"sqlite:///{db}")
    try:
        older = make_papers(RATED_PAPERS, rng, make_vocabulary(rng))
        older = [type(p)(**{**_fields(p), "id": f"old-{p.id}"}) for p in older]
        with store.session() as session:
            upsert_papers(session, older, NOW - timedelta(days=20))
        ids = [p.id for p in older]
        weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(ids))]
        rows: list[dict[str, object]] = []
        for reader in range(1, readers + 1):
            picked: list[str] = []
            while len(picked) < UPS + DOWNS:
                choice = rng.choices(ids, weights)[0]
                if choice not in picked:
                    picked.append(choice)
            for n, paper_id in enumerate(picked):
                rows.append(
                    {
                        "subscriber_id": reader,
                        "paper_id": paper_id,
                        "rating": "up" if n < UPS else "down",
                        "rated_at": NOW - timedelta(days=1),
                    }
                )
        with store.session() as session:
            session.execute(insert(RatingRow), rows)
    finally:
        store.dispose()


def _fields(paper: object) -> dict[str, object]:
    return {name: getattr(paper, name) for name in paper.__slots__}  # type: ignore[attr-defined]


def build_all(db: Path) -> tuple[float, int, int]:
    """CPU seconds to build every reader's edition; editions built; papers they carry."""
    settings = settings_for(db)
    store = open_store(settings.database.url)
    try:
        start = time.process_time()
        builder = EditionBuilder(store, settings, now=NOW)
        built = carried = 0
        after = 0
        day = NOW.date()
        while True:
            with store.session() as session:
                page = mailable_page(session, after_id=after, limit=PAGE)
            if not page:
                break
            after = page[-1].id
            history = builder.histories([(s, day) for s in page])
            for subscriber in page:
                edition = builder.build(subscriber, day, history[subscriber.id])
                built += 1
                carried += len(edition.papers)
        return time.process_time() - start, built, carried
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        populate(db, args.readers, args.papers)
        rated = Path(folder) / "rated.db"
        shutil.copyfile(db, rated)
        add_ratings(rated, args.readers)
        # alternating rounds, best of each: the machine's load changes within a run
        base = learned = math.inf
        for _ in range(args.repeat):
            cpu, built, plain_papers = build_all(db)
            base = min(base, cpu)
            cpu, built, learned_papers = build_all(rated)
            learned = min(learned, cpu)
    print(f"readers: {built}, papers: {args.papers}, ratings per reader: {UPS} up + {DOWNS} down")
    print(f"baseline (topics only):   {base:7.2f} s CPU, {1000 * base / built:6.3f} ms/reader")
    print(
        f"with learned re-ranking:  {learned:7.2f} s CPU, {1000 * learned / built:6.3f} ms/reader"
    )
    print(f"papers carried: {plain_papers} without ratings, {learned_papers} with")
    print(f"ratio learned / baseline: {learned / base:.2f}x (target <= 1.20)")


if __name__ == "__main__":
    main()
