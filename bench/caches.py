"""What each render cache is worth: bench/render.py's fast path with one cache at a time
replaced by the plain code it saves.

Each variant runs in a fresh process (every cache starts cold, as in a real run) over the same
editions as bench/render.py; the variants are interleaved in rounds so a busy machine skews
them alike. Prints messages per CPU second (median over the rounds) for each variant and how
much slower than with every cache it is. A cache stays only if the figure is 10% or more.

    .venv/bin/python bench/caches.py [--emails 3000] [--rounds 3] [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import NOW, make_editions, make_papers

from digest.app.tokens import Signer, digest_links
from digest.deliver import message
from digest.deliver.message import compose
from digest.render import Renderer, context, highlighting
from digest.settings import load_settings


def _plain(module: object, *names: str) -> Callable[[Renderer], None]:
    """Replace lru_cache-wrapped functions by the functions they wrap."""

    def apply(renderer: Renderer) -> None:
        for name in names:
            setattr(module, name, getattr(module, name).__wrapped__)

    return apply


def _no_fragments(renderer: Renderer) -> None:
    renderer.html_template = renderer.compiled_template
    renderer.text_fast = renderer.text_template


def _no_mime_memos(renderer: Renderer) -> None:
    message._PIECES_LIMIT = 0  # every memo is emptied before each insert: nothing is reused


VARIANTS: dict[str, Callable[[Renderer], None]] = {
    "all caches": lambda renderer: None,
    "card": _plain(context, "_card"),
    "fragments": _no_fragments,
    "mime memos": _no_mime_memos,
    "abstract": _plain(context, "trim_abstract", "_wrapped"),
    "text spans": _plain(highlighting, "_text_spans"),
}


def run_one(variant: str, emails: int) -> float:
    settings = load_settings(
        None,
        site={"base_url": "https://digest.example.org", "secret_key": ["bench-secret-" + "k" * 32]},
    )
    rng = random.Random(42)
    papers = make_papers(rng, 400)
    editions = make_editions(rng, papers, emails, 10)
    renderer = Renderer(settings)
    signer = Signer(settings.secret_keys)
    VARIANTS[variant](renderer)
    cpu = time.process_time()
    for edition in editions:
        links = digest_links(settings, signer, edition.subscriber.public_id)
        compose(edition, settings, links, renderer=renderer, now=NOW)
    return len(editions) / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one child run
    args = parser.parse_args()
    if args.variant:
        print(run_one(args.variant, args.emails))
        return
    names = ["all caches"] + [n for n in args.only.split(",") if n] if args.only else VARIANTS
    rates: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            out = subprocess.run(
                [sys.executable, __file__, "--variant", name, "--emails", str(args.emails)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rates[name].append(float(out))
    full = statistics.median(rates["all caches"])
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:12s} {rate:8,.0f} messages/s  without it {full / rate - 1:+.0%} CPU/msg")


if __name__ == "__main__":
    main()
