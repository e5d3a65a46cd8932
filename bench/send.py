"""Send throughput: the SMTP pool against stdlib smtplib, one message at a time, same messages.

A local aiosmtpd sink in its own processes answers every message after 20 ms, like a real relay
(so the client's concurrency, not the loopback, decides the rate). Both contenders send the
same ~40 KB digests to it in the same run; the figure is messages per second and the ratio.
Run: .venv/bin/python bench/send.py [--messages N] [--concurrency C] [--sink-processes P]
(or BENCH_SEND_MESSAGES=N in the environment).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import smtplib
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from aiosmtpd.smtp import SMTP

from digest.deliver.message import build_mime
from digest.deliver.smtp import SendResult, SmtpPool
from digest.settings import load_settings

LATENCY = 0.020
PARAGRAPH = (
    "We study speculative decoding for long-context inference. A small draft model proposes "
    "tokens that a large model verifies in parallel, keeping the output distribution exact. "
)


class SlowSink:
    """Accepts everything after LATENCY seconds; counts what it accepted."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(LATENCY)
        self.count += 1
        return "250 accepted"


def serve(conn: Connection, port: int) -> None:
    async def main() -> None:
        handler = SlowSink()
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

    def __init__(self, count: int) -> None:
        self.port = 0
        self.conns: list[Connection] = []
        self.processes: list[multiprocessing.Process] = []
        for _ in range(count):
            parent, child = multiprocessing.Pipe()
            process = multiprocessing.Process(target=serve, args=(child, self.port), daemon=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = int(os.environ.get("BENCH_SEND_MESSAGES", "2000"))
    parser.add_argument("--messages", type=int, default=default)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sink-processes", type=int, default=2)
    args = parser.parse_args()

    mails = make_mails(args.messages)
    size = sum(len(m.data) for m in mails) / len(mails)
    sinks = Sinks(args.sink_processes)
    try:
        pool_seconds = run_pool(sinks.port, mails, args.concurrency)
        naive_seconds = run_smtplib(sinks.port, mails)
    finally:
        received = sinks.stop()
    assert received == 2 * len(mails), received
    pool_rate = len(mails) / pool_seconds
    naive_rate = len(mails) / naive_seconds
    print(
        f"{len(mails)} messages of {size / 1024:.1f} KB, sink latency {LATENCY * 1000:.0f} ms "
        f"per message ({args.sink_processes} aiosmtpd sink processes on one port)"
    )
    print(f"  pool, {args.concurrency} connections: {pool_rate:8.1f} msg/s ({pool_seconds:.2f} s)")
    print(f"  smtplib, one by one:        {naive_rate:8.1f} msg/s ({naive_seconds:.2f} s)")
    print(f"  ratio: {pool_rate / naive_rate:.1f}x")
    load = os.getloadavg()[0]
    print(
        f"  (load average {load:.1f} on {os.cpu_count()} CPUs; the pool is CPU-bound, the "
        "baseline latency-bound: a busy machine lowers the ratio)"
    )


if __name__ == "__main__":
    main()
