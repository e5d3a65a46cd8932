"""`digest inbound` as a child process, readers with real deliveries, and mail to send it."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from digest.cli.inbound import READY_PREFIX
from digest.inbound.verp import VerpCodec
from digest.store import Store
from digest.store.schema import DeliveryRow
from tests.conftest import TEST_SECRET

BOUNCE_DOMAIN = "bounces.example.org"
UNSUBSCRIBE = "unsubscribe@example.org"
COMMANDS = "digest-request@example.org"
CODEC = VerpCodec([TEST_SECRET], BOUNCE_DOMAIN)


def write_config(path: Path, db_url: str, smtp_port: int, **extra: str) -> Path:
    lines = [
        "[database]",
        f'url = "{db_url}"',
        "[smtp]",
        f"port = {smtp_port}",
        "timeout = 5",
        "[sender]",
        'from_address = "digest@example.org"',
        f'unsubscribe_mailto = "{UNSUBSCRIBE}"',
        "[site]",
        'base_url = "https://digest.example.org"',
        f'secret_key = ["{TEST_SECRET}"]',
        "[bounces]",
        f'domain = "{BOUNCE_DOMAIN}"',
        "[inbound]",
        f'command_address = "{COMMANDS}"',
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Inbound:
    """A running `digest inbound`; `lines` are its report lines, one per message handled."""

    process: subprocess.Popen[str]
    host: str
    port: int
    lines: list[str] = field(default_factory=list)
    errors: str = ""

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def send(self, data: bytes, *, to: str, mail_from: str = "someone@example.net") -> None:
        with smtplib.SMTP(self.host, self.port, timeout=20) as client:
            client.sendmail(mail_from, [to], data)

    def handled(self, count: int, timeout: float = 30.0) -> list[str]:
        """Wait until `count` messages were handled; their lines."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        assert len(self.lines) >= count, f"handled {self.lines!r}; stderr: {self.errors}"
        return self.lines[:count]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(5)
        assert self.process.stderr is not None
        self.errors = self.process.stderr.read()
        self.process.stderr.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


def spawn_inbound(config: Path, *, timeout: float = 30.0) -> Inbound:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_CONFIG"] = str(config)
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "inbound", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=env,
    )
    assert process.stdout is not None
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    line = first[0] if first else ""
    if not line.startswith(READY_PREFIX):
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"digest inbound did not start: {err or line}")
    bound_host, _, bound_port = line.removeprefix(READY_PREFIX).strip().rpartition(":")
    return Inbound(process, bound_host, int(bound_port))


def delivery(store: Store, subscriber_id: int, edition: date, status: str = "sent") -> int:
    """A ledger row as a send leaves it; its id is what a VERP address names."""
    now = datetime(2026, 11, 29, 8, tzinfo=UTC)
    with store.session() as session:
        row = DeliveryRow(
            subscriber_id=subscriber_id,
            edition=edition,
            status=status,
            attempts=1,
            created_at=now,
            updated_at=now,
            sent_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def dsn(recipient: str, verp: str, status: str, *, action: str = "failed") -> bytes:
    """A standard delivery status notification, as an MTA sends to the envelope sender."""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        f"To: {verp}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status.replace('.', '')[:3]} {status} mailbox problem\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: digest@example.org\r\nTo: {recipient}\r\nSubject: Papers Digest\r\n"
        "\r\n--B--\r\n"
    ).encode()


def personal(sender: str, to: str, subject: str, body: str = "", **headers: str) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <m{time.monotonic_ns()}@example.net>\r\n{extra}\r\n{body}\r\n"
    ).encode()
