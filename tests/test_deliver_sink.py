"""`digest sink`: a local capture server that keeps each message in a Maildir."""

from __future__ import annotations

import mailbox
import signal
import smtplib
import socket
import subprocess
import sys
from pathlib import Path

from digest.cli.sink_server import Sink, spawn_sink
from tests.conftest import ROOT

MESSAGE = (
    b"From: Papers Digest <digest@example.org>\r\n"
    b"To: ada@example.org\r\n"
    b"Subject: =?utf-8?q?Digest_=C2=B7_today?=\r\n"
    b"\r\n"
    b"hello\r\n"
)


def send(port: int, recipient: str = "ada@example.org") -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
        client.sendmail("digest@example.org", [recipient], MESSAGE)


def test_the_sink_stores_the_exact_bytes_and_reports_one_line_per_message(tmp_path: Path) -> None:
    lines: list[str] = []
    with Sink(tmp_path / "mail", port=0, report=lines.append) as sink:
        send(sink.port)
        send(sink.port, "bob@example.org")
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    stored = sorted(bytes(box.get_bytes(key)) for key in box.iterkeys())
    assert stored == [MESSAGE, MESSAGE]
    assert len(lines) == 2
    assert "from digest@example.org" in lines[0] and "to ada@example.org" in lines[0]
    assert "'Digest · today'" in lines[0] and f"{len(MESSAGE)} bytes" in lines[0]
    assert "to bob@example.org" in lines[1]


def test_digest_sink_runs_until_sigterm_and_exits_0(tmp_path: Path) -> None:
    sink = spawn_sink(tmp_path / "maildir", port=0)
    try:
        send(sink.port)
    finally:
        code = sink.stop()
    assert code == 0
    assert any("to ada@example.org" in line for line in sink.lines)
    assert sink.lines[-1] == "sink stopped after 1 message(s)"
    assert len(mailbox.Maildir(tmp_path / "maildir", create=False)) == 1


def test_digest_sink_stops_on_ctrl_c_too(tmp_path: Path) -> None:
    sink = spawn_sink(tmp_path / "maildir", port=0)
    sink.process.send_signal(signal.SIGINT)
    try:
        # Wait for the Ctrl-C exit itself: stop() would add a SIGTERM that could land after the
        # sink has put the default handlers back on its way out.
        code = sink.process.wait(20)
    finally:
        sink.stop()
    assert code == 0
    assert sink.lines[-1] == "sink stopped after 0 message(s)"


def test_a_port_in_use_is_a_one_line_user_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "digest",
                "sink",
                "--port",
                str(port),
                "--maildir",
                str(tmp_path),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --port: cannot listen on 127.0.0.1:")
    assert len(done.stderr.strip().splitlines()) == 1
