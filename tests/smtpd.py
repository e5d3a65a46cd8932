"""A real SMTP server (aiosmtpd on 127.0.0.1, port 0) that records what it accepted.

`faults` lets a test script replies per message: a callable given the envelope that returns an
SMTP reply string such as "451 4.3.0 try later" (or None to accept). `drop` (given the envelope,
True to drop) cuts the connection once the data is in but before any reply, as a crashing relay
or a broken network would; `delay` holds every reply to DATA for that many seconds, like a real
relay's latency.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import gc
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TypeVar

from aiosmtpd.controller import Controller

T = TypeVar("T")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    messages: list[Received] = field(default_factory=list)
    fault: Callable[[Any], str | None] | None = None
    rcpt_fault: Callable[[str], str | None] | None = None
    drop: Callable[[Any], bool] | None = None
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_fault is not None:
            reply = self.rcpt_fault(address)
            if reply is not None:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drop is not None and self.drop(envelope):
            server.transport.abort()
            return "421 4.4.2 connection dropped"  # never reaches the client
        if self.fault is not None:
            reply = self.fault(envelope)
            if reply is not None:
                return reply
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


class PortZeroController(Controller):  # type: ignore[misc]
    """aiosmtpd 1.4's start-up self-check connects to the configured port, which fails for
    port 0; learn the port the OS picked before the check runs."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    def __init__(self, handler: RecordingHandler | None = None) -> None:
        self.handler = handler or RecordingHandler()
        self.controller = PortZeroController(self.handler, hostname="127.0.0.1", port=0)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def left_open(action: Callable[[], T]) -> tuple[T, list[str]]:
    """Run `action` (which runs and ends its own event loop), then collect the garbage: what it
    returns, and the ResourceWarnings (unclosed sockets and transports) the collector reported.

    Garbage left from before is collected first, under the suite's own filters, so an earlier
    leak is reported as what it is instead of being counted against `action`.
    """
    gc.collect()
    result = action()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return result, [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
