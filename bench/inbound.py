"""Deciding inbound mail: `decide` against a straightforward reader, on the same messages.

Three shapes a digest's bounce address and command address receive, each quoting or being a
~40 KB message: a standard DSN quoting the whole digest, a qmail-style plain-text bounce, and a
command mail. The real path reads standard reports itself (Status class) and runs flufl.bounce's
17 detectors only on the rest; the baseline parses with the stdlib's default policy and runs
every detector on every message (what using `flufl.bounce.all_failures` alone would do).
Prints microseconds per message for both and their ratio.
Run: .venv/bin/python bench/inbound.py [--rounds N]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flufl.bounce import all_failures

from digest.inbound.decide import InboundAddresses, decide
from digest.inbound.verp import VerpCodec

CODEC = VerpCodec(["bench-secret"], "bounces.example.org")
VERP = CODEC.address(4242)
ADDRESSES = InboundAddresses(verp=CODEC, commands="digest-request@example.org")
DIGEST = "".join(
    f"{n}. Speculative decoding with draft models, part {n}\r\n"
    "We study speculative decoding. A small draft model proposes tokens that a large model\r\n"
    "verifies, which makes long generations 2.5 times faster on long-context workloads.\r\n\r\n"
    for n in range(160)
)


def standard_dsn() -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {VERP}\r\nSubject: Undelivered\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; ada@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: digest@example.org\r\n"
        f"To: ada@example.org\r\nSubject: Papers Digest\r\n\r\n{DIGEST}\r\n--B--\r\n"
    ).encode()


def qmail_bounce() -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {VERP}\r\nSubject: failure notice\r\n\r\n"
        "Hi. This is the qmail-send program at mx.example.net.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        "<ada@example.org>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
        f"--- Below this line is a copy of the message.\r\n\r\n{DIGEST}"
    ).encode()


def command_mail() -> bytes:
    return (
        "From: ada@example.org\r\nTo: digest-request@example.org\r\nSubject: topics\r\n"
        f"Message-ID: <a@example.org>\r\n\r\nthanks\r\n\r\n> {DIGEST}"
    ).encode()


def naive(data: bytes) -> object:
    return all_failures(email.message_from_bytes(data, policy=email.policy.default))


def real(data: bytes, to: str) -> object:
    return decide(data, mail_from="", recipient=to, addresses=ADDRESSES)


def per_message(run: object, messages: list[tuple[bytes, str]], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for data, to in messages:
            run(data, to)  # type: ignore[operator]
    return (time.perf_counter() - start) / (rounds * len(messages)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    rounds = parser.parse_args().rounds
    messages = [
        (standard_dsn(), VERP),
        (qmail_bounce(), VERP),
        (command_mail(), "digest-request@example.org"),
    ]
    size = sum(len(d) for d, _ in messages) // len(messages)
    ours = per_message(real, messages, rounds)
    baseline = per_message(lambda data, to: naive(data), messages, rounds)
    print(f"messages: {len(messages)} shapes, ~{size // 1024} KB each, {rounds} rounds")
    print(f"decide:             {ours:8.0f} µs per message")
    print(f"all detectors only: {baseline:8.0f} µs per message (stdlib default policy)")
    print(f"ratio: {baseline / ours:.2f}x")


if __name__ == "__main__":
    main()
