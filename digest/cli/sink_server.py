"""A local SMTP capture server: accepts everything, keeps each message in a Maildir.

For demos and template work: point `[smtp]` at it and every digest lands in a folder any mail
client (or `mutt -f DIR`) can open, with one line per message on the console. It never relays.

Three ways to run it: `digest sink` (blocking, until Ctrl-C or SIGTERM), `Sink` (in-process, a
background thread; a context manager), `spawn_sink()` (a `digest sink` subprocess, e.g. for
`make demo`, learning the port from its first line so port 0 works).
"""

from __future__ import annotations

import asyncio
import errno
import mailbox
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller

from digest.errors import ConfigError

READY_PREFIX = "sink listening on "
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _clean(text: str) -> str:
    """Header text for a console line: no control characters from the wire."""
    return _CONTROL.sub(" ", text).strip()


class MaildirHandler:
    """aiosmtpd handler: store the exact bytes received, then report one line."""

    def __init__(self, maildir: Path, report: Callable[[str], None]) -> None:
        try:
            maildir.parent.mkdir(parents=True, exist_ok=True)
            self.maildir = mailbox.Maildir(maildir, create=True)
        except OSError as exc:
            raise ConfigError(f"--maildir: cannot use {maildir} ({exc.strerror})") from None
        self.report = report
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or b""
        headers = BytesHeaderParser(policy=default_policy).parsebytes(data)
        with self._lock:
            self.maildir.add(data)
            self.count += 1
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        recipients = ", ".join(_clean(r) for r in envelope.rcpt_tos)
        subject = _clean(str(headers.get("Subject", "")))
        self.report(
            f"{stamp}  from {_clean(envelope.mail_from or '<>')}  to {recipients}  "
            f"subject {subject!r}  {len(data)} bytes"
        )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd 1.4 checks readiness by connecting to the configured port, which fails for
    port 0: learn the port the OS picked before that check runs."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class Sink:
    """An in-process capture server on a background thread (`with Sink(...) as sink:`)."""

    def __init__(
        self,
        maildir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 1025,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.maildir = Path(maildir)
        self.handler = MaildirHandler(self.maildir, report or (lambda line: None))
        self._controller = _Controller(self.handler, hostname=host, port=port)
        self.host = host

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> Sink:
        try:
            self._controller.start()
        except OSError as exc:
            option = "--port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "--host"
            where = f"{self.host}:{self._controller.port}"
            reason = exc.strerror or str(exc)
            raise ConfigError(f"{option}: cannot listen on {where} ({reason})") from None
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_sink(maildir: Path, *, host: str, port: int, echo: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (the caller exits 0)."""
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Sink(maildir, host=host, port=port, report=echo) as sink:
            echo(f"{READY_PREFIX}{sink.host}:{sink.port}, storing messages in {maildir}/")
            while not done.wait(0.5):
                pass
            echo(f"sink stopped after {sink.handler.count} message(s)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class SinkProcess:
    """`digest sink` as a child process; its console lines are collected in `lines`."""

    def __init__(self, process: subprocess.Popen[str], host: str, port: int) -> None:
        self.process = process
        self.host = host
        self.port = port
        self.lines: list[str] = []
        self.errors = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
        self.process.stdout.close()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit status (0 for a clean stop); kills it if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(timeout)
        if self.process.stderr is not None:
            self.errors = self.process.stderr.read()
            self.process.stderr.close()
        return code


def spawn_sink(
    maildir: Path, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 20.0
) -> SinkProcess:
    """Start `digest sink` in a subprocess and wait until it listens (port 0: any free port)."""
    command = [sys.executable, "-m", "digest", "sink", "--host", host, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--maildir", str(maildir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    first = ready[0] if ready else ""
    if not first.startswith(READY_PREFIX):
        process.kill()
        _, err = process.communicate()
        raise ConfigError(f"digest sink did not start: {(err or first).strip() or 'no output'}")
    address = first.removeprefix(READY_PREFIX).split(",", 1)[0]
    bound_host, _, bound_port = address.rpartition(":")
    return SinkProcess(process, bound_host, int(bound_port))
