"""Handing messages to an SMTP server: a pool of long-lived connections fed from a queue.

One aiosmtplib `SMTP` object carries one transaction at a time, so parallelism means several
connections, each reused for many messages (connect + EHLO + TLS + AUTH once, not per mail).
A shared pacer caps the rate across all of them. Every attempt ends in one of four outcomes:

    sent      the server answered 250 to the end of DATA (the only way to reach the ledger's `sent`)
    bounced   the recipient was refused with 5xx (permanent: the address is suppressed upstream)
    failed    the server refused this message for good (5xx to DATA), or the address is invalid
    deferred  transient trouble (connection lost, timeout, 4xx) outlasted `max_attempts`, or the
              server refuses the session itself (login, sender): retried on the next run

The pool knows nothing about the database; its owner records each result as it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import aiosmtplib

from digest.addresses import check_address
from digest.deliver.dkim import DkimSigner
from digest.deliver.headers import stamp_date
from digest.deliver.transaction import Attempt, Outcome, lost, session_refusal, transact
from digest.errors import PermanentDeliveryError, map_value_errors
from digest.settings import Settings, SmtpSettings

__all__ = ["Attempt", "Outcome", "SendResult", "SmtpPool", "connect_once", "transact"]
BACKOFF_CAP_SECONDS = 30.0


class Sendable(Protocol):
    @property
    def recipient(self) -> str: ...

    @property
    def data(self) -> bytes: ...


T = TypeVar("T", bound=Sendable)


def envelope_address(address: str, *, role: str) -> str:
    """The address as it may appear in MAIL FROM / RCPT TO, or PermanentDeliveryError.

    smtplib-style quoting silently drops what follows a CR/LF, so a forged value could smuggle
    another command; nothing reaches the envelope unless email-validator accepts it whole.
    """
    if any(char in address for char in "\r\n\0"):
        raise PermanentDeliveryError(f"{role} address contains a line break or NUL: {address!r}")
    with map_value_errors(where=f"{role} address", error=PermanentDeliveryError):
        return check_address(address).ascii


def connection_options(smtp: SmtpSettings) -> dict[str, Any]:
    """aiosmtplib.SMTP arguments; security is explicit, never "upgrade if offered"."""
    return {
        "hostname": smtp.host,
        "port": smtp.port,
        "timeout": smtp.timeout,
        "local_hostname": smtp.local_hostname,
        "use_tls": smtp.security == "tls",
        "start_tls": smtp.security == "starttls",
        "username": smtp.username,
        "password": smtp.password.get_secret_value() if smtp.password else None,
    }


class Pacer:
    """A global rate cap shared by every connection: each attempt reserves the next free slot.

    A token bucket of depth one: no burst above the configured rate, even right after start.
    """

    def __init__(self, rate_per_second: float) -> None:
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def backoff_delay(base: float, attempt: int) -> float:
    """Exponential with ±50 % jitter so retrying connections do not stampede in step."""
    return float(min(BACKOFF_CAP_SECONDS, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5))


@dataclass(frozen=True, slots=True)
class SendResult(Generic[T]):
    item: T
    outcome: Outcome
    attempts: int
    error: str | None = None


class _Client(aiosmtplib.SMTP):
    """An aiosmtplib client whose close() shuts the socket now, over TLS too.

    aiosmtplib closes by calling the transport's close() (after QUIT, a timeout, a lost or failed
    connection). Over TLS that only starts the close_notify exchange: the socket stays open until
    the server's close_notify arrives, or for up to 30 s. When the event loop ends first (a run or
    a one-off mail that has just said QUIT, a server that stopped answering), the socket is left
    to the garbage collector. Nothing more is read after a close, so the transport is aborted as
    well: its socket closes on the loop's next pass instead of waiting for the server.
    """

    def close(self) -> None:
        transport = self.transport
        super().close()
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()


@dataclass
class _Worker:
    options: dict[str, Any]
    client: aiosmtplib.SMTP | None = None
    had_session: bool = False  # during the current message

    async def connected(self) -> aiosmtplib.SMTP:
        if self.client is None or not self.client.is_connected:
            self.drop()
            client = _Client(**self.options)
            await client.connect()
            self.client = client
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    async def quit(self) -> None:
        """Say QUIT if the session is up, then close, whatever became of the QUIT (failed or
        cancelled). Unless cancelled, the socket is shut when this returns."""
        try:
            if self.client is not None and self.client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                    await self.client.quit()
        finally:
            self.drop()
        await asyncio.sleep(0)  # the transport's close was scheduled for the loop's next pass


@dataclass
class SmtpPool(Generic[T]):
    """`concurrency` connections draining one bounded queue; results go to `on_result`.

    Use as an async context manager: `push()` waits while the queue is full (so the producer
    never holds more than a few rendered messages), leaving the block flushes and closes.
    """

    settings: Settings
    on_result: Callable[[SendResult[T]], None]
    dkim: DkimSigner | None = None
    # Each message's own envelope sender (VERP); None: `[sender] from_address` for all.
    envelope_sender: Callable[[T], str] | None = None
    # The time written into each message's Date header as it is handed over (aware UTC).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _queue: asyncio.Queue[T | None] = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    _stopping: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _error: BaseException | None = field(init=False, default=None)
    # Messages in a row that ended deferred without ever getting a session; once every
    # connection has seen one, the server is taken as down for this run (see _deliver).
    _unreachable: int = field(init=False, default=0)
    _down: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        smtp = self.settings.smtp
        self._sender = envelope_address(self.settings.sender.from_address, role="sender")
        self._queue = asyncio.Queue(maxsize=2 * smtp.concurrency)
        self._pacer = Pacer(smtp.rate_per_second)
        self._options = connection_options(smtp)

    async def __aenter__(self) -> SmtpPool[T]:
        self._tasks = [
            asyncio.create_task(self._work(_Worker(self._options)), name=f"smtp-{n}")
            for n in range(self.settings.smtp.concurrency)
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def push(self, item: T) -> None:
        self._raise_if_broken()
        await self._queue.put(item)

    async def close(self) -> None:
        """Send what is queued, then quit every connection."""
        for _ in self._tasks:
            await self._queue.put(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._raise_if_broken()

    def abandon(self) -> list[T]:
        """Graceful stop: hand back what no connection has started; in-flight work finishes,
        and nobody sleeps through a backoff any more (those come back deferred)."""
        self._stopping.set()
        left: list[T] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                left.append(item)
        return left

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise self._error

    async def _work(self, worker: _Worker) -> None:
        try:
            while (item := await self._queue.get()) is not None:
                if self._error is not None:
                    # Results can no longer be recorded: send nothing more. What is dropped
                    # here stays claimed, and the ledger's crash rule sends it next run.
                    continue
                try:
                    self.on_result(await self._deliver(worker, item))
                except Exception as exc:
                    self._error = exc
                    self._stopping.set()
        finally:
            await worker.quit()

    async def _deliver(self, worker: _Worker, item: T) -> SendResult[T]:
        try:
            recipient = envelope_address(item.recipient, role="recipient")
        except PermanentDeliveryError as exc:
            return SendResult(item, "failed", 0, str(exc))
        if self._down is not None:
            # Every connection failed to get a session for whole messages: the rest of the
            # run would only wait through timeouts and backoffs to defer each one.
            return SendResult(item, "deferred", 0, self._down)
        result = await self._attempts(worker, item, recipient)
        if result.outcome == "deferred" and result.attempts and not worker.had_session:
            self._unreachable += 1
            if self._unreachable >= self.settings.smtp.concurrency:
                self._down = f"not tried, the server is unreachable ({result.error})"
        return result

    def _handed_over(self, data: bytes) -> bytes:
        """The bytes as they go to the server now: Date stamped with this moment, then signed
        (the signature covers Date, so it is computed after)."""
        data = stamp_date(data, self.clock())
        return self.dkim.sign(data) if self.dkim is not None else data

    async def _attempts(self, worker: _Worker, item: T, recipient: str) -> SendResult[T]:
        max_attempts = self.settings.smtp.max_attempts
        worker.had_session = False
        error = "stopped before the first attempt"
        for attempt in range(1, max_attempts + 1):
            await self._pacer.wait()
            try:
                client = await worker.connected()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                verdict = _connect_failure(exc)
            else:
                worker.had_session = True
                self._unreachable = 0
                sender = (
                    self._sender if self.envelope_sender is None else self.envelope_sender(item)
                )
                data = self._handed_over(item.data)
                verdict = (await transact(client, sender, [recipient], data))[recipient]
            if verdict.reconnect:
                worker.drop()
            if verdict.outcome is not None:
                return SendResult(item, verdict.outcome, attempt, verdict.error)
            error = verdict.error or "transient failure"
            if attempt == max_attempts or self._stopping.is_set():
                return SendResult(item, "deferred", attempt, error)
            delay = backoff_delay(self.settings.smtp.retry_backoff, attempt)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        return SendResult(item, "deferred", max_attempts, error)


@contextlib.asynccontextmanager
async def connect_once(smtp: SmtpSettings) -> AsyncIterator[aiosmtplib.SMTP | Attempt]:
    """A single connection for a one-off mail: the client, or the Attempt saying why there is
    none (so callers classify connect failures exactly as the pool does). Quits on exit."""
    worker = _Worker(connection_options(smtp))
    try:
        client: aiosmtplib.SMTP | Attempt = await worker.connected()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        client = _connect_failure(exc)
    try:
        yield client
    finally:
        await worker.quit()


def _connect_failure(exc: BaseException) -> Attempt:
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPConnectResponseError
    ):
        return session_refusal(exc, "session refused")
    return lost(exc)
