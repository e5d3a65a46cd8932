"""The inbound SMTP server (`digest inbound`): the operator's MTA forwards mail for our
addresses to it.

It refuses, at RCPT time, any address that is not ours (so it can never be used as a relay),
reads each accepted message with `decide` in a worker thread (the event loop keeps taking
connections), and hands the decision to the injected `InboundHandler`. It answers 250 once the
handler is done, and 451 when the handler could not finish (the database was down): the MTA
keeps the message and tries again, so nothing a reader sent is lost. The server itself knows
nothing of SQL or of what a decision leads to.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from typing import Any, Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from digest.errors import ListenError
from digest.inbound.decide import Decision, Ignored, InboundAddresses, decide

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1_048_576


class InboundHandler(Protocol):
    """What acts on a decision (the app's use case). Raising means "not done, retry later"."""

    async def handle(self, decision: Decision, *, recipient: str) -> None: ...


def read_safely(
    data: bytes, *, mail_from: str, recipient: str, addresses: InboundAddresses
) -> Decision:
    """`decide`, with the guarantee the server needs: a message no reader foresaw is
    ignored with a reason, never an exception that would make the MTA retry it forever."""
    try:
        return decide(data, mail_from=mail_from, recipient=recipient, addresses=addresses)
    except Exception as exc:
        log.warning("unreadable message to %s ignored: %s", recipient, type(exc).__name__)
        return Ignored(f"unreadable message ({type(exc).__name__})")


class _Session:
    """aiosmtpd handler hooks."""

    def __init__(self, addresses: InboundAddresses, handler: InboundHandler) -> None:
        self.addresses = addresses
        self.handler = handler

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.addresses.role(address) is None:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", errors="replace")
        mail_from = envelope.mail_from or ""
        for recipient in envelope.rcpt_tos:
            decision = await asyncio.to_thread(
                read_safely,
                data,
                mail_from=mail_from,
                recipient=recipient,
                addresses=self.addresses,
            )
            try:
                await self.handler.handle(decision, recipient=recipient)
            except Exception:
                log.exception("could not act on a message to %s; asking for a retry", recipient)
                return "451 4.3.0 temporary failure, try again later"
        return "250 OK"


class _Smtp(SMTP):
    """SMTP allows 1,000 characters a line; the bounces real servers send quote whatever they
    were sent, longer lines included (one in flufl.bounce's corpus has 1,400). Refusing them
    would only make the MTA retry, then bounce the bounce: read them."""

    line_length_limit = 65536


class _Controller(Controller):
    """aiosmtpd 1.4 checks readiness by connecting to the configured port, which fails for
    port 0: learn the port the OS picked before that check runs."""

    def factory(self) -> SMTP:
        return _Smtp(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class InboundServer:
    """The server on a background thread: `with InboundServer(...) as server:`."""

    def __init__(
        self,
        addresses: InboundAddresses,
        handler: InboundHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.host = host
        self._controller = _Controller(
            _Session(addresses, handler),
            hostname=host,
            port=port,
            data_size_limit=max_bytes,
            server_hostname="inbound",
            ident="papers-digest inbound",
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> InboundServer:
        try:
            self._controller.start()
        except OSError as exc:
            # The controller's loop never ran: close it, or its sockets outlive the failure.
            with contextlib.suppress(Exception):
                self._controller.loop.close()
            option = "port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "host"
            where = f"{self.host}:{self._controller.port}"
            raise ListenError(
                f"cannot listen on {where} ({exc.strerror or exc})", option=option
            ) from None
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> InboundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
