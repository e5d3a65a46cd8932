"""Several `digest send` processes on one PostgreSQL database against one: the CPU they use.

The same readers (3,000 by default, one to three topics each, papers that match) are sent once
by one `digest send` and once by N processes started together on a fresh database, through the
20 ms sink of bench/send.py; every digest must go out exactly once in each run. The aim is
N = 3 using at most 1.3x the CPU of one: the claims split the readers before any edition is
built, so what more processes add is their start-up (imports, settings, the index).

Skipped, with a line saying so, when no PostgreSQL server answers at --postgres.
Run: .venv/bin/python bench/senders.py [--senders N] [--readers N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from send import LATENCY, Sinks, populate, run_digest_send


def fresh_postgres(server: str) -> tuple[str, Any]:
    """A new empty database on the PostgreSQL server (its URL, and what drops it)."""
    admin = psycopg.connect(f"postgresql://{server}/postgres", autocommit=True)
    name = f"bench_send_{os.getpid()}_{time.time_ns() % 10**9}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{server}/{name}", (admin, name)


def drop_postgres(handle: Any) -> None:
    admin, name = handle
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def senders_main(args: argparse.Namespace) -> None:
    """N senders on one PostgreSQL database against one, the same readers each time, in
    alternating rounds. This machine's CPU time for the same work varies by ±25% from one
    minute to the next (a 2-core VM), so each setting runs `--rounds` times and the ratio is
    taken of each setting's least CPU, as timeit takes the best of its repeats: noise only
    ever adds time. The per-round ratios and their median are printed beside it."""
    runs: dict[int, list[tuple[float, float, list[dict[str, int]]]]] = {1: [], args.senders: []}
    sinks = Sinks(args.sink_processes)
    try:
        for _round in range(args.rounds):
            for processes in (1, args.senders):
                url, handle = fresh_postgres(args.postgres)
                try:
                    populate(url, args.readers)
                    found = run_digest_send(url, sinks.port, args.concurrency, processes)
                    runs[processes].append(found)
                finally:
                    drop_postgres(handle)
    finally:
        received = sinks.stop()
    assert received == 2 * args.rounds * args.readers, received  # every digest once, each run
    print(f"sink latency {LATENCY * 1000:.0f} ms per message, {args.concurrency} connections each")
    for processes, measured in runs.items():
        for wall, cpu, counts in measured:
            assert sum(c["sent"] for c in counts) == args.readers, counts
            print(
                f"  {processes} sender(s) on one PostgreSQL database, {args.readers} readers: "
                f"{wall:.2f} s wall, {cpu:.2f} s CPU ({cpu / args.readers * 1000:.2f} ms per "
                f"message); sent per process {[c['sent'] for c in counts]}"
            )
    one = [cpu for _wall, cpu, _counts in runs[1]]
    many = [cpu for _wall, cpu, _counts in runs[args.senders]]
    ratios = [m / o for o, m in zip(one, many, strict=True)]
    each = ", ".join(f"{r:.2f}" for r in ratios)
    print(
        f"  CPU of {args.senders} senders / 1 sender: {min(many) / min(one):.2f}x, the least "
        f"CPU of each over {args.rounds} round(s) (aim <= 1.3x); per round {each}, median "
        f"{statistics.median(ratios):.2f}x"
    )


def postgres_answers(server: str) -> bool:
    try:
        psycopg.connect(f"postgresql://{server}/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--readers", type=int, default=3000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of 1 and N senders (default 3)"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sink-processes", type=int, default=2)
    parser.add_argument("--postgres", default="postgres@127.0.0.1:5432", help="user@host:port")
    args = parser.parse_args()
    if args.senders < 2 or args.rounds < 1:
        parser.error("--senders must be at least 2 and --rounds at least 1")
    if postgres_answers(args.postgres):
        senders_main(args)
    else:
        print(f"no PostgreSQL at {args.postgres}: several senders are not measured")


if __name__ == "__main__":
    main()
