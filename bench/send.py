"""Send throughput: the real `digest send`, and the SMTP pool, against stdlib smtplib.

A local aiosmtpd sink in its own processes answers every message after 20 ms, like a real relay
(so the client's concurrency, not the loopback, decides the rate). In the same run:
- `digest send` end to end in a child process: readers in a fresh SQLite file, claims and the
  ledger, matching, rendering, MIME, SMTP through its pool, results recorded;
- the SMTP pool alone sending prebuilt ~40 KB digests (what the transport can do);
- the baseline, stdlib smtplib sending the same digests one at a time on one connection;
- the sink's own ceiling: the pool against the same sink answering with no delay.
- `digest send` again, on a copy of the same database, against the sink with no delay (how much
  of the relay's latency the connections hide).
Figures are messages per second and the ratios `digest send` / smtplib (aim ≥ 6x) and
`digest send` through the 20 ms relay / the no-delay ceiling (aim ≥ 80%).

Several senders on one PostgreSQL database against one: bench/senders.py.
Run: .venv/bin/python bench/send.py [--messages N] [--readers N] [--concurrency C]
[--sink-processes P] (or BENCH_SEND_MESSAGES=N in the environment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from digest.deliver.message import build_mime
from digest.deliver.smtp import SendResult, SmtpPool
from digest.models import Paper, Profile, Topic
from digest.settings import load_settings
from digest.store import open_store
from digest.store.papers import upsert_papers
from digest.store.profile_import import import_batch

LATENCY = 0.020
PARAGRAPH = (
    "We study speculative decoding for long-context inference. A small draft model proposes "
    "tokens that a large model verifies in parallel, keeping the output distribution exact. "
)


class SlowSink:
    """Accepts everything after `latency` seconds; counts what it accepted."""

    def __init__(self, latency: float) -> None:
        self.count = 0
        self.latency = latency

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        self.count += 1
        return "250 accepted"


def serve(conn: Connection, port: int, latency: float) -> None:
    async def main() -> None:
        handler = SlowSink(latency)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.local"), "127.0.0.1", port, reuse_port=True
        )
        conn.send(server.sockets[0].getsockname()[1])
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert command == "cpu"
            conn.send(time.process_time())
        conn.send(handler.count)
        server.close()

    asyncio.run(main())


class Sinks:
    """`count` aiosmtpd processes sharing one port (SO_REUSEPORT): the kernel spreads the
    connections, as a real relay spreads them over worker processes. aiosmtpd spends ~3 ms of
    Python per 40 KB message; one process would make the server, not the client, the limit."""

    def __init__(self, count: int, latency: float = LATENCY) -> None:
        self.port = 0
        self.conns: list[Connection] = []
        self.processes: list[multiprocessing.Process] = []
        for _ in range(count):
            parent, child = multiprocessing.Pipe()
            process = multiprocessing.Process(
                target=serve, args=(child, self.port, latency), daemon=True
            )
            process.start()
            self.port = parent.recv()
            self.conns.append(parent)
            self.processes.append(process)

    def cpu(self) -> float:
        for conn in self.conns:
            conn.send("cpu")
        return sum(conn.recv() for conn in self.conns)

    def stop(self) -> int:
        for conn in self.conns:
            conn.send("stop")
        received = sum(conn.recv() for conn in self.conns)
        for process in self.processes:
            process.join(10)
        return received


@dataclass(frozen=True)
class Mail:
    recipient: str
    data: bytes


def make_mails(count: int) -> list[Mail]:
    mails = []
    for n in range(count):
        text = f"Digest {n}\n\n" + (PARAGRAPH * 2 + "\n\n") * 68
        cards = "".join(
            f"<tr><td><h2>Paper {n}.{i}</h2><p>{PARAGRAPH}</p></td></tr>" for i in range(68)
        )
        html = f"<html><body><table>{cards}</table></body></html>"
        headers = [
            ("From", "Papers Digest <digest@example.org>"),
            ("To", f"reader{n}@example.org"),
            ("Subject", f"Papers Digest {n}"),
            ("Message-ID", f"<bench.{n}@example.org>"),
        ]
        mails.append(Mail(f"reader{n}@example.org", build_mime(headers, text, html)))
    return mails


def run_pool(port: int, mails: list[Mail], concurrency: int) -> float:
    settings = load_settings(None, smtp={"port": port, "concurrency": concurrency, "timeout": 30.0})
    results: list[SendResult[Mail]] = []

    async def main() -> None:
        async with SmtpPool(settings, results.append) as pool:
            for mail in mails:
                await pool.push(mail)

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    assert all(r.outcome == "sent" for r in results) and len(results) == len(mails)
    return elapsed


def run_smtplib(port: int, mails: list[Mail]) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=30) as client:
        for mail in mails:
            client.sendmail("digest@example.org", [mail.recipient], mail.data)
    return time.perf_counter() - started


TOPICS = (
    'speculative decoding OR "draft model"',
    '"mixture of experts" OR routing',
    "diffusion AND video",
    "kv cache OR quantization",
)


def populate(url: str, readers: int) -> None:
    """Readers with one to three of a few topics, and papers ingested an hour ago that match."""
    store = open_store(url)
    now = datetime.now(UTC)
    words = ["speculative decoding", "mixture of experts", "diffusion video", "kv cache"]
    papers = [
        Paper(
            id=f"2512.{n:05d}",
            title=f"{words[n % 4].title()} at scale, part {n}",
            abstract=f"We study {words[n % 4]} in setting {n}. " + PARAGRAPH * 3,
            authors=("Ada Lovelace", "Alan Turing"),
            author_count=2,
            upvotes=n % 50,
            url=f"https://huggingface.co/papers/2512.{n:05d}",
        )
        for n in range(60)
    ]
    profiles = [
        Profile(
            email=f"reader{n}@example.org",
            topics=tuple(
                Topic(f"Topic {t}", TOPICS[(n + t) % len(TOPICS)]) for t in range(1 + n % 3)
            ),
        )
        for n in range(readers)
    ]
    with store.session() as session:
        upsert_papers(session, papers, now - timedelta(hours=1))
    for start in range(0, readers, 500):
        with store.session() as session:
            import_batch(
                session,
                [(p, "active") for p in profiles[start : start + 500]],
                now - timedelta(days=30),
            )
    store.dispose()


def run_digest_send(
    url: str, port: int, concurrency: int, processes: int = 1
) -> tuple[float, float, list[dict[str, int]]]:
    """(wall s, CPU s of all of them, the JSON counts of each) of `processes` runs of
    `digest send --json`, started together in child processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        {
            "DIGEST_DATABASE__URL": url,
            "DIGEST_SMTP__PORT": str(port),
            "DIGEST_SMTP__CONCURRENCY": str(concurrency),
            "DIGEST_SITE__BASE_URL": "https://digest.example.org",
            "DIGEST_SITE__SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
        }
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "digest", "send", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    counts = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"digest send failed ({child.returncode}): {err.decode()[-800:]}")
        counts.append(json.loads(out))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = int(os.environ.get("BENCH_SEND_MESSAGES", "2000"))
    parser.add_argument("--messages", type=int, default=default)
    parser.add_argument("--readers", type=int, default=default)
    parser.add_argument("--smtplib-messages", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sink-processes", type=int, default=2)
    args = parser.parse_args()
    relay(args)


def relay(args: argparse.Namespace) -> None:
    """`digest send` through the 20 ms relay, the pool, smtplib and the no-delay ceiling."""

    mails = make_mails(args.messages)
    sample = mails[: args.smtplib_messages]
    size = sum(len(m.data) for m in mails) / len(mails)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'digest.db'}"
        populate(url, args.readers)
        shutil.copy(Path(tmp) / "digest.db", Path(tmp) / "again.db")
        sinks = Sinks(args.sink_processes)
        try:
            send_wall, send_cpu, [counts] = run_digest_send(url, sinks.port, args.concurrency)
            pool_seconds = run_pool(sinks.port, mails, args.concurrency)
            naive_seconds = run_smtplib(sinks.port, sample)
        finally:
            received = sinks.stop()
        assert counts["sent"] == args.readers, counts
        assert received == args.readers + len(mails) + len(sample), received
        fast = Sinks(args.sink_processes, latency=0.0)
        try:
            ceiling_seconds = run_pool(fast.port, mails, args.concurrency)
            again = f"sqlite:///{Path(tmp) / 'again.db'}"
            fast_wall, _, [fast_counts] = run_digest_send(again, fast.port, args.concurrency)
        finally:
            fast.stop()
        assert fast_counts["sent"] == args.readers, fast_counts
    send_rate = args.readers / send_wall
    pool_rate = len(mails) / pool_seconds
    naive_rate = len(sample) / naive_seconds
    ceiling = len(mails) / ceiling_seconds
    fast_rate = args.readers / fast_wall
    print(
        f"sink latency {LATENCY * 1000:.0f} ms per message "
        f"({args.sink_processes} aiosmtpd sink processes on one port), "
        f"{args.concurrency} connections"
    )
    print(
        f"  digest send, {args.readers} readers end to end: {send_rate:8.1f} msg/s "
        f"({send_wall:.2f} s wall, {send_cpu / args.readers * 1000:.1f} ms CPU per message)"
    )
    print(
        f"  pool alone, {len(mails)} prebuilt {size / 1024:.0f} KB digests: {pool_rate:8.1f} msg/s "
        f"({pool_seconds:.2f} s)"
    )
    print(
        f"  smtplib, one by one ({len(sample)}):  {naive_rate:8.1f} msg/s ({naive_seconds:.2f} s)"
    )
    print(f"  sink with no delay (pool):           {ceiling:8.1f} msg/s")
    print(f"  digest send, sink with no delay:     {fast_rate:8.1f} msg/s")
    print(
        f"  ratios: digest send / smtplib {send_rate / naive_rate:.1f}x (aim >= 6x); "
        f"pool / smtplib {pool_rate / naive_rate:.1f}x; digest send / no-delay sink "
        f"{send_rate / ceiling:.0%} (aim >= 80%); digest send with 20 ms / with no delay "
        f"{send_rate / fast_rate:.0%}"
    )
    load = os.getloadavg()[0]
    print(
        f"  (load average {load:.1f} on {os.cpu_count()} CPUs; the pool is CPU-bound, the "
        "baseline latency-bound: a busy machine lowers the ratio)"
    )


if __name__ == "__main__":
    main()
